"""WeChat through WeCom (企业微信), with wechatpy's client against a local fake of WeCom's
API (campaigns/tests/fake_wecom.py): the customers' and tags' sync (pages and cursors,
token refresh, WeCom's limits of calls, an unknown member), one confirmable group-message
task per member, WeCom's per-customer limit, and the results read back into the messages
and the contact log. Every moment is pinned (`now=`): the hour the suite runs at never
matters."""

import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.utils import translation

from campaigns.channels import ChannelNotConfigured, backend_for
from campaigns.models import (
    Campaign,
    Message,
    MessageReason,
    MessageStatus,
    WecomContact,
    WecomMember,
    WecomSyncCursor,
    WecomTag,
    WecomTask,
    WecomTaskStatus,
)
from campaigns.services.campaigns import campaign_launch
from campaigns.services.messaging import message_queue, messages_deliver_due
from campaigns.services.wecom import wecom_contact_link, wecom_results_read, wecom_sync, wecom_task_record
from campaigns.tests.fake_wecom import FakeWecom
from campaigns.wecom_client import wecom_client
from crm.channels import message_caps_setting
from crm.tests.test_api_throttling import redis_cache  # noqa: F401 (a fixture)
from players.models import ContactLog, ContactOutcome, Player

LAUNCH = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # a Monday, 10:00 in Shanghai
SENT_AT = int((LAUNCH + timedelta(hours=1)).timestamp())


def _use(settings, fake, **extra):
    settings.CRM_MESSAGE_BACKENDS = {
        **settings.CRM_MESSAGE_BACKENDS,
        "wechat": {
            "BACKEND": "campaigns.channels.wecom.WecomBackend",
            "OPTIONS": {
                "corp_id": fake.corp_id,
                "secret": fake.secret,
                "api_base_url": fake.base_url,
                "timeout": 3,
                **extra,
            },
        },
    }


@pytest.fixture
def wecom(settings, db):
    settings.CRM_QUIET_HOURS = ("22:00", "09:00")
    settings.CRM_MESSAGE_CAPS = message_caps_setting("", wecom_limit="month")
    # a company id of its own: the access token is cached (Django's cache) per company, never
    # taken from another test
    fake = FakeWecom(corp_id=f"ww{uuid.uuid4().hex[:16]}", users=("WangFang", "LiQiang")).start()
    _use(settings, fake)
    yield fake
    fake.stop()


@pytest.fixture
def team(make_staff):
    wang = make_staff("wang", "VIP manager", first_name="芳", last_name="王")
    li = make_staff("li", "VIP manager", first_name="强", last_name="李")
    return {
        "wang": (wang, WecomMember.objects.create(user=wang, userid="WangFang")),
        "li": (li, WecomMember.objects.create(user=li, userid="LiQiang")),
    }


def _customers(fake, team, count, *, who="wang", start=0, link=True, now=LAUNCH):
    """`count` players of `who`, each a WeCom customer of theirs (linked when `link`)."""
    user, member = team[who]
    players = Player.objects.bulk_create(
        Player(account_id=f"wc-{who}-{start + i}", server="s1", nickname=f"玩家{start + i}", manager=user)
        for i in range(count)
    )
    for player in players:
        fake.add_customer(member.userid, f"wm{player.account_id}")
    if link:
        WecomContact.objects.bulk_create(
            WecomContact(external_userid=f"wm{p.account_id}", player=p, member=member, synced_at=now) for p in players
        )
    return players


def _queue(players, body="周末双倍返利，上线领取！", source="promo"):
    return [
        message_queue(player=p, channel="wechat", body=body, source=f"{source}:{p.pk}", send_at=LAUNCH) for p in players
    ]


# --- Sync ---------------------------------------------------------------------------


def test_sync_pages_through_each_members_customers_and_links_players_by_the_noted_mobile(wecom, team):
    # given WeCom's tags, 250 customers of Wang (one of them a player whose mobile Wang noted)
    # and one of Li's who is also Wang's player
    wecom.tag_groups = [
        {"group_id": "g1", "group_name": "价值", "tag": [{"id": "t1", "name": "高价值"}, {"id": "t2", "name": "月卡"}]}
    ]
    wang, li = team["wang"][0], team["li"][0]
    noted = Player.objects.create(account_id="noted", nickname="龙王", phone="+8613800138000", manager=wang)
    for i in range(249):
        wecom.add_customer("WangFang", f"wmA{i:04d}", name=f"客户{i}")
    wecom.add_customer("WangFang", "wmNOTED", name="龙王", mobiles=["13800138000"], tags=["t1", "t2"], at=1700000000)
    wecom.add_customer("LiQiang", "wmNOTED", mobiles=["13800138000"], tags=["t2"])

    # when the sync runs
    counts = wecom_sync(now=LAUNCH)

    # then three pages of 100 for Wang, one for Li, the token fetched once
    assert counts == {
        "tags": 2,
        "pages": 4,
        "contacts": 251,
        "linked": 1,
        "unlinked": 0,
        "errors": 0,
        "rate_limited": 0,
    }
    by_user = [(c[2]["userid"], c[2]["cursor"]) for c in wecom.calls if c[0] == "externalcontact/batch/get_by_user"]
    assert by_user == [("WangFang", ""), ("WangFang", "100"), ("WangFang", "200"), ("LiQiang", "")]
    assert wecom.token_fetches == 1
    # the noted player is linked, served by their manager Wang (not Li), with Wang's tags
    contact = WecomContact.objects.get(external_userid="wmNOTED")
    assert contact.player == noted and contact.member.user == wang
    assert sorted(contact.tags.values_list("name", flat=True)) == ["月卡", "高价值"]
    assert contact.added_at == datetime.fromtimestamp(1700000000, tz=UTC)
    assert WecomContact.objects.filter(player__isnull=True).count() == 249
    assert li  # Li's view of the customer did not take it over


def test_a_sync_stopped_by_wecoms_limit_goes_on_from_its_cursor(wecom, team):
    for i in range(250):
        wecom.add_customer("WangFang", f"wmA{i:04d}")
    # given WeCom refuses the second page: a minute's limit of calls
    wecom.fail_next["externalcontact/batch/get_by_user"] = (0, "")
    del wecom.fail_next["externalcontact/batch/get_by_user"]
    first = wecom_sync(now=LAUNCH, max_pages=1)
    assert first["pages"] == 1 and WecomSyncCursor.objects.get(member__userid="WangFang").cursor == "100"
    wecom.fail_next["externalcontact/batch/get_by_user"] = (45009, "api freq out of limit")

    second = wecom_sync(now=LAUNCH + timedelta(minutes=15))

    assert second["rate_limited"] == 1 and second["pages"] == 0
    assert WecomSyncCursor.objects.get(member__userid="WangFang").cursor == "100"  # kept

    # when the next run comes, it goes on from page two, and finishes the pass
    third = wecom_sync(now=LAUNCH + timedelta(minutes=30))
    assert third["rate_limited"] == 0 and third["contacts"] == 150
    cursors = [c[2]["cursor"] for c in wecom.calls if c[0] == "externalcontact/batch/get_by_user"]
    assert cursors == ["", "100", "100", "200", ""]  # Li's first page last
    assert WecomContact.objects.filter(member__userid="WangFang").count() == 250
    state = WecomSyncCursor.objects.get(member__userid="WangFang")
    assert state.cursor == "" and state.finished_at == LAUNCH + timedelta(minutes=30)


def test_an_expired_token_is_fetched_again_and_the_call_repeated(wecom, team):
    wecom.add_customer("WangFang", "wmA")
    wecom_sync(now=LAUNCH)
    assert wecom.token_fetches == 1

    # WeCom expires the token (42001): wechatpy fetches a new one and repeats the call
    wecom.expire_token()
    wecom.add_customer("WangFang", "wmB")
    counts = wecom_sync(now=LAUNCH + timedelta(minutes=15))

    assert counts["contacts"] == 2 and counts["errors"] == 0
    assert wecom.token_fetches == 2 and wecom.expired_calls == 1
    assert set(WecomContact.objects.values_list("external_userid", flat=True)) == {"wmA", "wmB"}


def test_a_member_wecom_does_not_know_is_named_and_the_others_sync(wecom, team, make_staff):
    ghost = make_staff("ghost", "VIP manager")
    WecomMember.objects.create(user=ghost, userid="NoSuchUser")
    wecom.add_customer("WangFang", "wmA")

    counts = wecom_sync(now=LAUNCH)

    assert counts["errors"] == 1 and counts["contacts"] == 1
    assert WecomMember.objects.get(userid="NoSuchUser").last_error.startswith("60111")


def test_a_customer_no_longer_a_members_loses_the_member_after_a_full_pass(wecom, team):
    wecom.add_customer("WangFang", "wmA")
    wecom.add_customer("WangFang", "wmB")
    wecom_sync(now=LAUNCH)
    wecom.members["WangFang"] = [
        c for c in wecom.members["WangFang"] if c["external_contact"]["external_userid"] != "wmB"
    ]

    counts = wecom_sync(now=LAUNCH + timedelta(minutes=15))

    assert counts["unlinked"] == 1
    assert WecomContact.objects.get(external_userid="wmB").member is None
    assert WecomContact.objects.get(external_userid="wmA").member.userid == "WangFang"


def test_tags_deleted_in_wecom_are_marked(wecom, team):
    wecom.tag_groups = [{"group_name": "价值", "tag": [{"id": "t1", "name": "高价值"}, {"id": "t2", "name": "月卡"}]}]
    wecom_sync(now=LAUNCH)
    wecom.tag_groups = [{"group_name": "价值", "tag": [{"id": "t1", "name": "高价值客户"}]}]
    wecom_sync(now=LAUNCH)
    assert list(WecomTag.objects.order_by("tag_id").values_list("tag_id", "name", "deleted")) == [
        ("t1", "高价值客户", False),
        ("t2", "月卡", True),
    ]


def test_a_player_is_linked_to_one_wecom_customer(wecom, team):
    player = _customers(wecom, team, 1)[0]
    other = WecomContact.objects.create(external_userid="wmOTHER", synced_at=LAUNCH)
    with pytest.raises(Exception, match="already linked"):
        wecom_contact_link(contact=other, player=player)


# --- Tasks ----------------------------------------------------------------------------


def test_a_wecom_campaign_makes_one_confirmable_task_per_manager_with_their_customers(
    wecom, team, make_campaign, supervisor
):
    # given 3 customers of Wang, 2 of Li, a player not in WeCom, and one Wang's customer
    # that WeCom no longer knows as Wang's
    wang_players = _customers(wecom, team, 3, who="wang")
    li_players = _customers(wecom, team, 2, who="li")
    stranger = Player.objects.create(account_id="stranger", nickname="路人", manager=team["wang"][0])
    gone = _customers(wecom, team, 1, who="wang", start=50)[0]
    wecom.members["WangFang"].pop()  # no longer Wang's in WeCom
    campaign = make_campaign(channel="wechat", holdout_percent=0, template="周末双倍返利，上线领取！")

    # when the campaign is launched and delivery runs
    campaign_launch(campaign=campaign, actor=supervisor, now=LAUNCH)
    counts = messages_deliver_due(now=LAUNCH)

    # then one add_msg_template per manager, each with their own customers
    calls = [c[2] for c in wecom.calls if c[0] == "externalcontact/add_msg_template"]
    assert sorted((c["sender"], len(c["external_userid"])) for c in calls) == [("LiQiang", 2), ("WangFang", 4)]
    assert {c["text"]["content"] for c in calls} == {"周末双倍返利，上线领取！"} and calls[0]["chat_type"] == "single"
    assert counts["task"] == 5 and counts["failed"] == 2
    tasks = {t.member.userid: t for t in WecomTask.objects.select_related("member")}
    assert (tasks["WangFang"].customers, tasks["WangFang"].refused, tasks["WangFang"].campaign) == (4, 1, campaign)
    assert tasks["LiQiang"].customers == 2 and tasks["WangFang"].created_at == LAUNCH
    # the customers wait on their member's task, named in the reason; the others say why not
    waiting = Message.objects.get(player=wang_players[0])
    assert waiting.status == MessageStatus.SENDING and waiting.provider_ref == tasks["WangFang"].msgid
    assert Message.objects.get(player=li_players[0]).provider_ref == tasks["LiQiang"].msgid
    with translation.override("zh-hans"):
        assert waiting.status_reason_text == "在王芳的企业微信群发任务中：待其在企业微信中确认后发送。"
        # (each with its attempt, at Shanghai time: LAUNCH is 10:00 there)
        assert Message.objects.get(player=stranger).status_reason_text == (
            "该玩家不是任何团队成员的企业微信客户（未关联外部联系人）。 第 1 次尝试：2026-11-23 10:00。"
        )
        assert Message.objects.get(player=gone).status_reason_text == (
            "企业微信未接收：该玩家不是王芳的企业微信客户。 第 1 次尝试：2026-11-23 10:00。"
        )
    assert not ContactLog.objects.exists()  # nothing is sent until a member confirms

    # a waiting task is not taken for a dead worker's claim (it waits for days, not minutes)
    later = messages_deliver_due(now=LAUNCH + timedelta(hours=2))
    assert later["uncertain"] == 0
    assert Message.objects.filter(status=MessageStatus.SENDING).count() == 5


def test_results_read_back_record_each_customers_result_in_the_contact_log(wecom, team):
    players = _customers(wecom, team, 4)
    _queue(players)
    messages_deliver_due(now=LAUNCH)
    task = WecomTask.objects.get()
    ids = [f"wm{p.account_id}" for p in players]

    # the member has not confirmed yet: nothing changes
    assert wecom_results_read(now=LAUNCH + timedelta(minutes=10))["waiting"] == 4
    # when Wang sends it in WeCom: two got it, one is no longer a contact, one had had enough this month
    wecom.member_sends(task.msgid, sent=ids[:2], not_friend=[ids[2]], over_limit=[ids[3]], at=SENT_AT)
    counts = wecom_results_read(now=LAUNCH + timedelta(hours=2))

    assert counts == {"found": 0, "sent": 2, "failed": 2, "waiting": 0, "expired": 0, "rate_limited": 0}
    task.refresh_from_db()
    assert (task.sent, task.not_friend, task.over_limit, task.waiting, task.status) == (2, 1, 1, 0, "done")
    sent = Message.objects.get(player=players[0])
    assert sent.status == MessageStatus.SENT and sent.sent_at == datetime.fromtimestamp(SENT_AT, tz=UTC)
    logs = {c.player_id: c for c in ContactLog.objects.all()}
    assert len(logs) == 4  # each customer's result, through the contact log's writer
    wang = team["wang"][0]
    assert (logs[players[0].pk].outcome, logs[players[0].pk].staff, logs[players[0].pk].channel) == (
        ContactOutcome.MESSAGE_SENT,
        wang,
        "wechat",
    )
    assert logs[players[2].pk].outcome == ContactOutcome.MESSAGE_NOT_SENT
    with translation.override("zh-hans"):
        assert Message.objects.get(player=players[2]).status_reason_text == "未发送：该玩家已不是王芳的企业微信联系人。"
        assert Message.objects.get(player=players[3]).status_reason_text == (
            "未发送：该玩家本期收到的群发消息已达企业微信的上限。"
        )
    # read again: nothing recorded twice
    assert wecom_results_read(now=LAUNCH + timedelta(hours=3)) == {
        "found": 0,
        "sent": 0,
        "failed": 0,
        "waiting": 0,
        "expired": 0,
        "rate_limited": 0,
    }
    assert ContactLog.objects.count() == 4


def test_results_are_read_a_thousand_at_a_time_with_the_cursor(wecom, team):
    # given a task of 1,001 customers, as delivery leaves it (made in bulk: delivery is tested above)
    players = _customers(wecom, team, 1001)
    member = team["wang"][1]
    msgid = wecom.task_made(member.userid, [f"wm{p.account_id}" for p in players], "周末见")
    messages = Message.objects.bulk_create(
        Message(
            player=p,
            channel="wechat",
            body="周末见",
            source=f"bulk:{p.pk}",
            status=MessageStatus.SENDING,
            scheduled_for=LAUNCH,
            sent_at=LAUNCH,
            provider_ref=msgid,
        )
        for p in players
    )
    wecom_task_record(msgid=msgid, member=member, messages=messages, customers=1001, refused=0)
    wecom.member_sends(msgid, sent=[f"wm{p.account_id}" for p in players], at=SENT_AT)

    assert wecom_results_read(now=LAUNCH + timedelta(hours=1))["sent"] == 1001

    pages = [c[2] for c in wecom.calls if c[0] == "externalcontact/get_groupmsg_send_result"]
    assert [(p["limit"], p["cursor"]) for p in pages] == [(1000, ""), (1000, "1000")]
    assert ContactLog.objects.filter(outcome=ContactOutcome.MESSAGE_SENT).count() == 1001
    assert WecomTask.objects.get().status == WecomTaskStatus.DONE


def test_reading_results_stopped_by_wecoms_limit_is_taken_up_next_time(wecom, team):
    players = _customers(wecom, team, 2)
    _queue(players)
    messages_deliver_due(now=LAUNCH)
    task = WecomTask.objects.get()
    wecom.member_sends(task.msgid, sent=[f"wm{p.account_id}" for p in players], at=SENT_AT)
    wecom.fail_next["externalcontact/get_groupmsg_send_result"] = (45033, "api concurrent out of limit")

    assert wecom_results_read(now=LAUNCH + timedelta(hours=1))["rate_limited"] == 1
    assert Message.objects.filter(status=MessageStatus.SENDING).count() == 2

    assert wecom_results_read(now=LAUNCH + timedelta(hours=1, minutes=10))["sent"] == 2


def test_a_task_its_member_never_sends_expires_with_the_reason(wecom, team, settings):
    settings.CRM_WECOM_TASK_DAYS = 3
    players = _customers(wecom, team, 2)
    _queue(players)
    messages_deliver_due(now=LAUNCH)

    assert wecom_results_read(now=LAUNCH + timedelta(days=2))["waiting"] == 2
    counts = wecom_results_read(now=LAUNCH + timedelta(days=3, minutes=1))

    assert counts["failed"] == 2 and counts["expired"] == 1
    assert WecomTask.objects.get().status == WecomTaskStatus.EXPIRED
    message = Message.objects.get(player=players[0])
    with translation.override("zh-hans"):
        assert message.status_reason_text == "未发送：王芳未在期限内发送该企业微信群发消息。"


def test_wecoms_limit_of_calls_on_a_task_retries_later_and_creates_it_once(wecom, team):
    players = _customers(wecom, team, 2)
    _queue(players)
    wecom.fail_next["externalcontact/add_msg_template"] = (45009, "api freq out of limit")

    assert messages_deliver_due(now=LAUNCH)["retrying"] == 2
    message = Message.objects.get(player=players[0])
    assert message.status == MessageStatus.QUEUED and message.status_reason == MessageReason.PROVIDER_RETRY
    with translation.override("zh-hans"):
        assert message.status_reason_text.startswith("企业微信") and "45009" in message.status_reason_text

    assert messages_deliver_due(now=message.scheduled_for)["task"] == 2
    assert WecomTask.objects.count() == 1 and len(wecom.tasks) == 1


def test_a_sender_wecom_does_not_know_fails_with_its_code(wecom, team):
    players = _customers(wecom, team, 1)
    _queue(players)
    team["wang"][1].userid = "Renamed"
    team["wang"][1].save()

    assert messages_deliver_due(now=LAUNCH)["failed"] == 1

    message = Message.objects.get()
    assert message.status == MessageStatus.FAILED and message.status_params["code"] == "60111"
    with translation.override("en"):
        assert message.status_reason_text == (
            "WeCom refused it: WeCom has no member with this userid (60111). Not sent. Attempt 1: 2026-11-23 10:00."
        )


def test_a_wecom_campaign_refuses_a_text_that_differs_per_player_naming_the_variable(
    wecom, team, make_campaign, client, supervisor
):
    from django.core.exceptions import ValidationError
    from django.urls import reverse

    # a text with the player's nickname or spend: one task per player for the member to confirm
    with pytest.raises(ValidationError) as refused:
        make_campaign(channel="wechat", template="{nickname}，您已累计充值{total_spend}元")
    assert "{nickname}, {total_spend}" in refused.value.message_dict["template"][0]
    # the tier, server and manager are shared by many: a handful of tasks, allowed
    assert make_campaign(channel="wechat", template="{tier}专属福利，{manager}为您准备").pk
    # the same text on SMS is one message a player anyway
    assert make_campaign(channel="sms", template="{nickname}，周末见").pk

    # the admin's form says so in the supervisor's language, and nothing is saved
    client.force_login(supervisor)
    before = Campaign.objects.count()
    response = client.post(
        reverse("admin:campaigns_campaign_add"),
        {
            "name": "周末回归",
            "channel": "wechat",
            "template": "{nickname}，周末见",
            "start_date": "2026-11-22",
            "due_date": "2026-11-30",
            "holdout_percent": "10",
            "priority": "50",
        },
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    )
    assert response.status_code == 200 and Campaign.objects.count() == before
    errors = response.context["adminform"].form.errors["template"][0]
    assert "{nickname}" in errors and "企业微信" in errors and "On WeChat" not in errors


def test_a_personalised_text_makes_a_task_per_text(wecom, team):
    players = _customers(wecom, team, 3)
    for p in players:
        message_queue(player=p, channel="wechat", body=f"{p.nickname}，周末见", source=f"p:{p.pk}", send_at=LAUNCH)
    messages_deliver_due(now=LAUNCH)
    assert WecomTask.objects.count() == 3


# --- WeCom's per-customer limit ---------------------------------------------------


def _sent_before(player, count, at):
    Message.objects.bulk_create(
        Message(
            player=player,
            channel="wechat",
            body="之前的群发",
            source=f"old:{player.pk}:{i}",
            status=MessageStatus.SENT,
            scheduled_for=at,
            sent_at=at,
        )
        for i in range(count)
    )


def test_the_monthly_limit_is_as_many_messages_as_the_month_has_days(wecom, team):
    # given a customer who got 30 group messages in November (30 days) and one who got 29
    full, room = _customers(wecom, team, 2)
    _sent_before(full, 30, LAUNCH - timedelta(days=1))
    _sent_before(room, 29, LAUNCH - timedelta(days=1))
    _queue([full, room])

    counts = messages_deliver_due(now=LAUNCH)

    # then the full one waits for December (in the player's calendar, after its quiet night), with the reason
    assert counts["task"] == 1 and counts["postponed"] == 1
    held = Message.objects.get(player=full, source__startswith="promo")
    assert held.status == MessageStatus.POSTPONED and held.status_reason.split()[0] == MessageReason.CHANNEL_CAP
    assert held.scheduled_for == datetime(2026, 12, 1, 1, 0, tzinfo=UTC)  # 1 December 09:00 in Shanghai
    with translation.override("zh-hans"):
        assert held.status_reason_text.startswith("已达微信上限：按玩家日历每月最多 30 条营销消息。")
    assert [c[2]["external_userid"] for c in wecom.calls if c[0].endswith("add_msg_template")] == [
        [f"wm{room.account_id}"]
    ]


def test_the_company_may_set_one_a_day(wecom, team, settings):
    settings.CRM_MESSAGE_CAPS = message_caps_setting("", wecom_limit="day")
    player = _customers(wecom, team, 1)[0]
    _sent_before(player, 1, LAUNCH - timedelta(hours=1))
    _queue([player])

    assert messages_deliver_due(now=LAUNCH)["postponed"] == 1
    # the next day in Shanghai, after its quiet night
    assert Message.objects.get(source__startswith="promo").scheduled_for == datetime(2026, 11, 24, 1, 0, tzinfo=UTC)


def test_the_wecom_limit_setting_is_checked():
    assert message_caps_setting("", wecom_limit="week") == {"wechat": ("week", 7)}
    assert message_caps_setting("wechat:month:4") == {"wechat": ("month", 4)}
    assert message_caps_setting("wechat:month:days") == {"wechat": ("month", "days")}
    with pytest.raises(ValueError, match="CRM_WECOM_CUSTOMER_LIMIT"):
        message_caps_setting("", wecom_limit="year")
    with pytest.raises(ValueError, match="CRM_MESSAGE_CAPS"):
        message_caps_setting("wechat:week:days")


def test_a_player_who_refused_wechat_gets_no_task(wecom, team, consent):
    player = consent(_customers(wecom, team, 1)[0], "wechat", status="refused")
    (message,) = _queue([player])
    assert message.status == MessageStatus.CANCELLED and message.status_reason == "consent_refused"
    messages_deliver_due(now=LAUNCH)
    assert not [c for c in wecom.calls if c[0].endswith("add_msg_template")]


# --- Not configured ----------------------------------------------------------------


def test_an_unconfigured_wecom_channel_fails_its_messages_visibly(settings, db, team):
    settings.CRM_MESSAGE_BACKENDS = {k: v for k, v in settings.CRM_MESSAGE_BACKENDS.items() if k != "wechat"}
    player = Player.objects.create(account_id="p1", nickname="玩家")
    (message,) = _queue([player])

    assert messages_deliver_due(now=LAUNCH)["failed"] == 1

    message.refresh_from_db()
    assert message.status_reason == MessageReason.CHANNEL_NOT_CONFIGURED
    with translation.override("zh-hans"):
        assert "微信" in message.status_reason_text
    with pytest.raises(CommandError, match="CRM_WECHAT_BACKEND=wecom"):
        call_command("wecom_sync")


def test_wecom_without_its_secret_is_not_a_usable_backend(settings, db):
    settings.CRM_MESSAGE_BACKENDS = {
        **settings.CRM_MESSAGE_BACKENDS,
        "wechat": {"BACKEND": "campaigns.channels.wecom.WecomBackend", "OPTIONS": {"corp_id": "ww1"}},
    }
    with pytest.raises(ChannelNotConfigured, match="CRM_WECOM_SECRET"):
        backend_for("wechat")
    with pytest.raises(CommandError, match="CRM_WECOM_SECRET"):
        call_command("wecom_sync")


def test_the_command_syncs_and_reads_results(wecom, team, capsys):
    wecom.add_customer("WangFang", "wmA")
    call_command("wecom_sync")
    out = capsys.readouterr().out
    assert '"contacts": 1' in out and '"results"' in out
    assert Counter(WecomContact.objects.values_list("member__userid", flat=True)) == {"WangFang": 1}


def test_an_erased_players_wechat_name_is_erased_and_not_synced_again(wecom, team, erase):
    wang = team["wang"][0]
    player = Player.objects.create(account_id="gone", nickname="龙王", phone="+8613800138000", manager=wang)
    wecom.add_customer("WangFang", "wmGONE", name="龙王本人", remark="张三 138", mobiles=["13800138000"])
    wecom_sync(now=LAUNCH)
    assert WecomContact.objects.get(player=player).name == "龙王本人"

    erase(player)
    contact = WecomContact.objects.get(external_userid="wmGONE")
    assert (contact.name, contact.remark) == ("", "")

    wecom_sync(now=LAUNCH + timedelta(minutes=15))
    contact.refresh_from_db()
    assert (contact.name, contact.remark) == ("", "")


def test_no_answer_to_a_task_means_it_is_not_made_again(wecom, team, settings):
    # given WeCom takes the task and answers after our timeout
    _use(settings, wecom, timeout=1)
    wecom.hang = 2.5
    players = _customers(wecom, team, 2)
    _queue(players)

    assert messages_deliver_due(now=LAUNCH)["uncertain"] == 2

    message = Message.objects.get(player=players[0])
    assert message.status == MessageStatus.FAILED and message.status_reason == MessageReason.WECOM_UNCERTAIN
    with translation.override("zh-hans"):
        assert message.status_reason_text.startswith("企业微信未应答：该群发任务可能已在企业微信中创建。")
    wecom.hang = 0
    messages_deliver_due(now=LAUNCH + timedelta(hours=1))
    assert len(wecom.tasks) == 1  # WeCom has one task; none made twice


def test_a_task_whose_answer_was_lost_is_found_in_wecoms_list_and_read_back(wecom, team, settings):
    # given WeCom makes Wang's task at the launch and answers after our timeout; Wang also
    # made one with the same text in WeCom's app, and one of ours (answered) has it too
    _use(settings, wecom, timeout=1)
    wecom.clock = int(LAUNCH.timestamp())
    earlier = _customers(wecom, team, 1, start=90)[0]
    before = LAUNCH - timedelta(minutes=2)
    message_queue(player=earlier, channel="wechat", body="周末双倍返利，上线领取！", source="earlier", send_at=before)
    assert messages_deliver_due(now=before)["task"] == 1
    wecom.hang = 2.5
    players = _customers(wecom, team, 3)
    _queue(players)
    assert messages_deliver_due(now=LAUNCH)["uncertain"] == 3
    wecom.hang = 0
    wecom.task_made("WangFang", ["wm-someone"], "周末双倍返利，上线领取！", by_member=True)
    lost = next(m for m, t in wecom.tasks.items() if len(t["external_userid"]) == 3)

    # when the results are read: the lost task is looked for and found
    counts = wecom_results_read(now=LAUNCH + timedelta(minutes=10))

    assert counts["found"] == 3 and counts["waiting"] == 4  # and the earlier task's one
    listed = [c for c in wecom.calls if c[0] == "externalcontact/get_groupmsg_list_v2"]
    assert listed and listed[0][2]["creator"] == "WangFang" and listed[0][2]["filter_type"] == 0
    message = Message.objects.get(player=players[0])
    assert (message.status, message.provider_ref) == (MessageStatus.SENDING, lost)
    with translation.override("zh-hans"):
        assert message.status_reason_text == "在王芳的企业微信群发任务中：待其在企业微信中确认后发送。"
    task = WecomTask.objects.get(msgid=lost)
    assert (task.customers, task.member, task.status) == (3, team["wang"][1], WecomTaskStatus.WAITING)

    # then Wang sends it, and its results are read back like any task's, once
    ids = [f"wm{p.account_id}" for p in players]
    wecom.member_sends(lost, sent=ids[:2], not_friend=ids[2:], at=SENT_AT)
    counts = wecom_results_read(now=LAUNCH + timedelta(hours=2))
    assert (counts["found"], counts["sent"], counts["failed"]) == (0, 2, 1)
    assert Message.objects.get(player=players[0]).status == MessageStatus.SENT
    assert ContactLog.objects.filter(player__in=players).count() == 3
    # and nothing was made twice: another delivery run sends nothing, WeCom holds 3 tasks
    messages_deliver_due(now=LAUNCH + timedelta(hours=3))
    assert len(wecom.tasks) == 3
    assert wecom_results_read(now=LAUNCH + timedelta(hours=3))["found"] == 0


def test_a_lost_task_wecom_never_made_stays_not_sent_again(wecom, team, settings):
    # given the answer to Wang's call was lost and WeCom has no such task (it failed there)
    _use(settings, wecom, timeout=1)
    wecom.clock = int(LAUNCH.timestamp())
    wecom.hang = 2.5
    players = _customers(wecom, team, 2)
    _queue(players)
    messages_deliver_due(now=LAUNCH)
    wecom.hang = 0
    wecom.tasks.clear()

    counts = wecom_results_read(now=LAUNCH + timedelta(minutes=10))

    assert counts["found"] == 0
    message = Message.objects.get(player=players[0])
    assert message.status == MessageStatus.FAILED and message.status_reason == MessageReason.WECOM_UNCERTAIN


def test_an_unreachable_wecom_is_retried_as_nothing_was_made(wecom, team, settings):
    players = _customers(wecom, team, 1)
    _queue(players)
    _use(settings, wecom, api_base_url="http://127.0.0.1:9/cgi-bin/")  # nothing listens there

    assert messages_deliver_due(now=LAUNCH)["retrying"] == 1
    message = Message.objects.get()
    assert message.status == MessageStatus.QUEUED and message.status_params["code"] == "unreachable"


# --- Our own limit of calls (CRM_WECOM_RATE) ----------------------------------------


def test_our_own_limit_of_calls_keeps_under_wecoms_and_the_sync_goes_on_next_minute(wecom, team, settings):
    # given WeCom takes at most 6 calls a minute, and our limit is 3 a minute in bursts of 3
    settings.CRM_WECOM_RATE, settings.CRM_WECOM_BURST = "3/m", 3
    wecom.per_minute = 6
    for i in range(450):
        wecom.add_customer("WangFang", f"wmB{i:04d}")  # 5 pages, and Li's one: 7 calls with the tags
    with time_machine.travel(LAUNCH, tick=False) as clock:
        # when the sync runs once a minute
        runs = []
        for minute in range(3):
            runs.append(wecom_sync(now=LAUNCH + timedelta(minutes=minute)))
            clock.shift(60)

    # then each run makes 3 calls and stops at our limit, the next goes on from its cursor,
    # and WeCom never had to refuse one
    assert [r["rate_limited"] for r in runs] == [1, 1, 0]
    assert [r["pages"] for r in runs] == [2, 2, 2]
    assert len(wecom.calls) == 9 and wecom.refused == 0
    assert WecomContact.objects.filter(member__userid="WangFang").count() == 450


def test_a_task_over_our_limit_is_not_sent_and_is_retried_with_the_reason(wecom, team, settings):
    settings.CRM_WECOM_RATE, settings.CRM_WECOM_BURST = "1/h", 1
    players = _customers(wecom, team, 2)
    _queue(players)
    wecom_client().external_contact.get_corp_tag_list()  # the hour's one call

    assert messages_deliver_due(now=LAUNCH)["retrying"] == 2

    assert not [c for c in wecom.calls if c[0] == "externalcontact/add_msg_template"] and not wecom.tasks
    message = Message.objects.get(player=players[0])
    assert message.status == MessageStatus.QUEUED and message.status_reason == MessageReason.PROVIDER_RETRY
    with translation.override("zh-hans"):
        assert "CRM 自身对企业微信的每分钟调用上限" in message.status_reason_text
    with translation.override("en"):
        assert "the CRM's own limit of calls to WeCom" in message.status_reason_text


def test_every_worker_spends_the_same_limit_through_redis(wecom, team, settings, redis_cache):  # noqa: F811
    # given two workers' clients of one company, and 2 calls an hour
    settings.CRM_WECOM_RATE, settings.CRM_WECOM_BURST = "2/h", 2
    first, second = wecom_client(), wecom_client()
    first.external_contact.get_corp_tag_list()
    second.external_contact.get_corp_tag_list()

    # then a third call, from either, is held back before it reaches WeCom
    from wechatpy.exceptions import APILimitedException

    with pytest.raises(APILimitedException) as refused:
        first.external_contact.get_corp_tag_list()
    assert refused.value.errcode == "crm_rate_limit" and len(wecom.calls) == 2
    assert wecom_sync(now=LAUNCH)["rate_limited"] == 1 and len(wecom.calls) == 2
