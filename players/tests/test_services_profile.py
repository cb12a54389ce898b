from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from players.models import Player
from players.services import player_upsert


def test_upsert_never_touches_staff_fields_and_logins_only_move_forward(make_player, manager):
    now = timezone.now()
    player = make_player(account_id="42", manager=manager, notes="likes calls after 8pm", last_login_at=now)
    _, created = player_upsert(account_id="42", data={"nickname": "新名字", "last_login_at": now - timedelta(days=1)})
    player.refresh_from_db()
    assert not created
    assert (player.nickname, player.manager, player.notes, player.last_login_at) == (
        "新名字",
        manager,
        "likes calls after 8pm",
        now,
    )
    with pytest.raises(ValidationError) as exc:
        player_upsert(account_id="42", data={"notes": "overwrite"})
    assert "notes" in exc.value.message_dict


def test_upsert_rejects_bad_phone_and_future_birthday(db):
    with pytest.raises(ValidationError) as exc:
        player_upsert(account_id="7", data={"phone": "12345", "birthday": timezone.localdate() + timedelta(days=1)})
    assert {"phone", "birthday"} <= set(exc.value.message_dict)
    assert not Player.objects.filter(account_id="7").exists()


def test_upsert_stores_phone_in_e164(db):
    player, created = player_upsert(account_id="8", data={"phone": "138 1234 5678"})
    player.refresh_from_db()
    assert created
    assert str(player.phone) == "+8613812345678"
