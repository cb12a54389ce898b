"""An erasure committing while a contact or a consent grant is being written (two
connections, PostgreSQL): the one erased check (`players_erased_locked`) reads the player
row under a lock, so the writer that loaded the player before the erasure waits for it and
is then refused; nothing new is recorded about the erased player."""

import threading
import time

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from players.models import ConsentEvent, ContactLog, Player
from players.services.consents import consent_record
from players.services.privacy import erasure_confirm, erasure_request
from players.services.service_records import contact_log_create

pytestmark = pytest.mark.usefixtures("requires_postgres")


def _race(write, *, erasure):
    """Run `erasure()` in one connection and hold its transaction open until `write()`,
    started in another connection once the erasure is done but not committed, has had a
    second to block; then commit. Returns what `write()` raised (or None)."""
    erased, outcome = threading.Event(), {}

    def erase():
        try:
            with transaction.atomic():
                erasure()
                erased.set()
                time.sleep(1.0)  # the writer now waits on the player row (or, unlocked, would read it)
        finally:
            erased.set()
            connection.close()

    def writer():
        erased.wait(30)
        try:
            write()
        except ValidationError as error:
            outcome["error"] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=erase), threading.Thread(target=writer)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return outcome.get("error")


@pytest.fixture
def stale_player(transactional_db, make_player, manager, make_staff):
    """A player loaded before the erasure (as a request would have), and the erasure to run."""
    player = make_player(manager=manager, nickname="凤凰", phone="+8613911114444")
    asker, confirmer = make_staff("asker", "Supervisor"), make_staff("confirmer", "Supervisor")
    request = erasure_request(player=player, actor=asker, reason="玩家来电要求删除个人信息")
    return Player.objects.get(pk=player.pk), lambda: erasure_confirm(request=request, actor=confirmer)


def test_a_contact_saved_while_the_erasure_commits_is_refused(stale_player, manager):
    player, erasure = stale_player
    assert player.erased_at is None

    error = _race(
        lambda: contact_log_create(
            player=player, staff=manager, channel="phone", contacted_at=timezone.now(), topic="回访", outcome="reached"
        ),
        erasure=erasure,
    )

    assert error is not None and error.error_dict["__all__"][0].code == "erased"
    assert not ContactLog.objects.filter(player_id=player.pk).exists()
    assert Player.objects.get(pk=player.pk).erased_at is not None


def test_a_consent_grant_recorded_while_the_erasure_commits_is_refused(stale_player, manager):
    player, erasure = stale_player

    error = _race(
        lambda: consent_record(
            player=player, channel="sms", purpose="marketing", status="granted", source="staff", actor=manager
        ),
        erasure=erasure,
    )

    assert error is not None and error.error_dict["__all__"][0].code == "erased"
    assert not ConsentEvent.objects.filter(player_id=player.pk, status="granted").exists()
