"""A player erased on request (PIPL Art. 47) is never targeted and never gets a new task,
message or gift: the one check (`players.models.privacy`) at campaigns' writers — the
message door, the gift ledger, the task admin, the gift admin — and `NOT_ERASED` in the
targeting of campaign launches, greetings, win-back and top spenders' visits."""

import html
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from campaigns.models import CampaignStatus, CampaignTarget, GiftEntry, Greeting, Message, OutreachTask
from campaigns.services.campaigns import campaign_launch
from campaigns.services.gifts import gift_record
from campaigns.services.greetings import greetings_run
from campaigns.services.messaging import message_queue
from campaigns.services.winback import winback_tasks_create
from players.models import PayerStatus, Player

LAUNCH = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, outside the quiet hours
SHANGHAI = ZoneInfo("Asia/Shanghai")
REFUSAL_EN = "This player's personal data was erased on request (PIPL Art. 47)"
REFUSAL_ZH = "该玩家的个人信息已应其请求删除（个保法第四十七条）"


@pytest.fixture
def pair(make_player, manager, erase):
    """(a player still reachable, one erased on request): alike in everything a target reads."""
    registered = datetime(2024, 11, 22, 10, 0, tzinfo=SHANGHAI)
    fields = {"manager": manager, "registered_at": registered, "payer_status": PayerStatus.AT_RISK}
    live = make_player(nickname="龙王", **fields)
    gone = erase(make_player(nickname="凤凰", phone="+8613911114444", **fields))
    assert gone.registered_at == registered and gone.payer_status == PayerStatus.AT_RISK  # kept by the erasure
    return live, gone


def test_the_message_door_and_the_gift_ledger_refuse(pair):
    _live, gone = pair
    with pytest.raises(ValidationError) as raised:
        message_queue(player=gone, channel="in_game", body="回来看看", source="erased-test", is_marketing=False)
    assert raised.value.error_dict["__all__"][0].code == "erased"
    with pytest.raises(ValidationError) as raised:
        gift_record(player=gone, kind="item", value=Decimal("10"), item="礼包")
    assert REFUSAL_EN in raised.value.messages[0]
    assert not Message.objects.filter(player=gone).exists() and not GiftEntry.objects.filter(player=gone).exists()


@pytest.mark.parametrize("language, words", [("en", REFUSAL_EN), ("zh-hans", REFUSAL_ZH)])
def test_the_task_and_gift_admin_forms_refuse_with_the_reason(client, pair, manager, language, words):
    _live, gone = pair
    client.force_login(manager)
    task = client.post(
        reverse("admin:campaigns_outreachtask_add"),
        {
            "player": gone.pk,
            "assignee": manager.pk,
            "kind": "follow_up",
            "title": "回访",
            "due_date": "2026-11-25",
            "status": "open",
        },
        HTTP_ACCEPT_LANGUAGE=language,
    )
    gift = client.post(
        reverse("admin:campaigns_giftentry_add"),
        {"player": gone.pk, "kind": "value", "value": "10", "given_on": "2026-11-20", "reason": "生日"},
        HTTP_ACCEPT_LANGUAGE=language,
    )
    for response in (task, gift):
        assert response.status_code == 200 and words in html.unescape(response.content.decode())
    assert not OutreachTask.objects.filter(player=gone).exists() and not GiftEntry.objects.filter(player=gone).exists()


@pytest.mark.parametrize("channel", ["", "in_game"])  # call tasks, automatic messages
def test_a_campaign_launch_never_targets_an_erased_player(make_campaign, pair, supervisor, channel):
    live, gone = pair
    fields = {"channel": channel} if channel else {}
    campaign = make_campaign(holdout_percent=0, template="{nickname}，回来领礼包！", **fields)

    result = campaign_launch(campaign=campaign, actor=supervisor, now=LAUNCH)

    assert result["targets"] == 1
    assert list(CampaignTarget.objects.filter(campaign=campaign).values_list("player_id", flat=True)) == [live.pk]
    made = Message.objects if channel else OutreachTask.objects
    assert list(made.filter(campaign=campaign).values_list("player_id", flat=True)) == [live.pk]


def test_a_player_erased_while_a_campaign_launches_gets_no_call(make_campaign, pair, erase, supervisor):
    live, _gone = pair
    campaign = make_campaign(holdout_percent=0)
    campaign_launch(campaign=campaign, actor=supervisor, now=LAUNCH, chunk_size=0)  # targets chosen, no tasks yet
    assert CampaignTarget.objects.filter(campaign=campaign, player=live).exists()
    erase(live)
    campaign.refresh_from_db()
    campaign.status = CampaignStatus.LAUNCHING
    campaign.save(update_fields=["status"])

    campaign_launch(campaign=campaign, actor=supervisor, now=LAUNCH)

    assert not OutreachTask.objects.filter(player=live).exists()


def test_greetings_never_greet_an_erased_player(make_rule, pair):
    live, gone = pair
    make_rule(
        occasion="registration",
        task_lead_days=0,
        message_channel="in_game",
        template="{nickname}，注册纪念日快乐！",
        gift_kind="value",
        gift_value=Decimal("5"),
    )

    report = greetings_run(on=date(2026, 11, 22), deliver=False, catch_up_days=0)

    assert report.greeted == 1
    assert list(Greeting.objects.values_list("player_id", flat=True)) == [live.pk]
    for model in (OutreachTask, Message, GiftEntry):
        assert not model.objects.filter(player=gone).exists(), model


def test_win_back_and_top_spenders_visits_skip_an_erased_player(pair, manager, pay):
    from campaigns.services.top_spenders import top_spender_visits_create

    live, gone = pair
    assert winback_tasks_create(players=Player.objects.filter(pk__in=[live.pk, gone.pk]), actor=manager) == 1
    assert not OutreachTask.objects.filter(player=gone).exists()

    # the erased player spent most in the half month: still ranked (reports do not change), not called
    pay(gone, "648.00", at=datetime(2026, 11, 5, 12, 0, tzinfo=UTC))
    pay(live, "6.00", at=datetime(2026, 11, 5, 12, 0, tzinfo=UTC))
    _start, _end, spenders, created = top_spender_visits_create(on=date(2026, 11, 20), n=3, per="all")
    assert [s.player_id for s in spenders] == [gone.pk, live.pk]
    assert created == 1 and not OutreachTask.objects.filter(player=gone, kind="vip_care").exists()
