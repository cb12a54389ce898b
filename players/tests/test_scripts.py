"""The script library (players.services.scripts, players.templating): variables checked
when a script is saved, filled in for the player when inserted (counted), and a text
still holding a {variable} refused where it is saved."""

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from players.models import CallScript, ScriptCategory
from players.services.cases import case_reply
from players.services.scripts import script_insert, script_save
from players.services.service_records import contact_log_create


def script(**fields):
    fields.setdefault("name", "回访")
    fields.setdefault("category", ScriptCategory.RETURN_VISIT)
    fields.setdefault("step_verify", "您好！请问是{nickname}吗？")
    fields.setdefault("step_introduce", "我是您的专属客服{me}。")
    fields.setdefault("step_purpose", "您是尊贵的{tier}玩家，本月再消费{spend_to_keep_tier}元即可保级。")
    return CallScript(**fields)


def test_unknown_variables_and_broken_braces_are_refused_naming_the_step(db, supervisor):
    with pytest.raises(ValidationError) as refused:
        script_save(script=script(step_close="再见{phone}", step_verify="{nickname"), actor=supervisor)
    assert {"step_close", "step_verify"} <= set(refused.value.message_dict)
    assert "{phone}" in " ".join(refused.value.message_dict["step_close"])
    assert not CallScript.objects.exists()


def test_inserted_for_a_player_filled_in_and_counted(db, supervisor, manager, make_player, tiers):
    saved = script_save(script=script(), actor=supervisor)
    player = make_player(nickname="星河", manager=manager, tier=tiers["V3"], total_spend=Decimal("0"))

    text = script_insert(script=saved, player=player, actor=manager)

    assert text.startswith("您好！请问是星河吗？\n我是您的专属客服")
    assert "尊贵的V3玩家" in text and "{" not in text
    saved.refresh_from_db()
    assert saved.usage_count == 1 and saved.last_used_at is not None
    # into a contact: saved
    contact = contact_log_create(player=player, staff=manager, channel="phone", summary=text)
    assert contact.summary == text


def test_a_value_the_player_has_not_got_stays_and_is_refused_on_save(db, supervisor, manager, make_player, make_case):
    saved = script_save(script=script(), actor=supervisor)
    player = make_player(nickname="无等级", manager=manager)  # no tier

    text = script_insert(script=saved, player=player, actor=manager)

    assert "{tier}" in text and "{spend_to_keep_tier}" in text
    with pytest.raises(ValidationError) as refused:
        contact_log_create(player=player, staff=manager, channel="phone", summary=text)
    assert "summary" in refused.value.message_dict
    case = make_case(player, actor=manager)
    with pytest.raises(ValidationError) as refused:
        case_reply(case=case, text=text, actor=manager)
    assert "text" in refused.value.message_dict
    # literal braces typed on purpose are fine
    contact_log_create(player=player, staff=manager, channel="phone", summary="活动代码 {{VIP}} 与 {未知}")


def test_only_for_players_one_may_see_and_only_scripts_in_use(db, supervisor, manager, other_manager, make_player):
    saved = script_save(script=script(), actor=supervisor)
    theirs = make_player(manager=other_manager)
    with pytest.raises(PermissionDenied):
        script_insert(script=saved, player=theirs, actor=manager)
    saved.enabled = False
    script_save(script=saved, actor=supervisor)
    with pytest.raises(ValidationError):
        script_insert(script=saved, player=make_player(manager=manager), actor=manager)
    saved.refresh_from_db()
    assert saved.usage_count == 0
