"""Caps per channel in the player's own calendar, service messages exempt, campaign
priority over a player's last allowed message, and no-sending days. Every moment is
pinned (`now=`), so the hour the suite runs at never matters."""

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import translation

from campaigns.channels import ChannelBackend
from campaigns.models import Campaign, Message, MessageReason, MessageStatus, NoSendDay
from campaigns.services.messaging import message_queue, messages_deliver_due
from crm.channels import message_caps_setting

SHANGHAI = ZoneInfo("Asia/Shanghai")
LONDON = ZoneInfo("Europe/London")
# A Monday far enough ahead that the consents recorded now are in force.
MONDAY = date(2031, 12, 1)


class KeepBackend(ChannelBackend):
    sent: list = []

    def send(self, message):
        KeepBackend.sent.append(message.pk)


@pytest.fixture
def keep(settings):
    KeepBackend.sent = []
    settings.CRM_MESSAGE_BACKENDS = {
        channel: {"BACKEND": "campaigns.tests.test_message_caps.KeepBackend", "OPTIONS": {}}
        for channel in ("sms", "in_game", "email")
    }
    settings.CRM_QUIET_HOURS = ("22:00", "09:00")
    settings.CRM_SMS_MARKETING_HOURS = ("08:00", "21:00")
    settings.CRM_MESSAGES_PER_WEEK = 3
    settings.CRM_MESSAGE_CAPS = {"sms": ("day", 1)}
    return KeepBackend


@pytest.fixture
def player(make_player, consent):
    return consent(make_player(), "sms", "email")


def at(day, hour, minute=0, zone=SHANGHAI):
    return datetime.combine(day, time(hour, minute), tzinfo=zone)


def test_one_marketing_sms_a_day_in_the_players_calendar(keep, player):
    # given a promotional SMS sent at 10:00 in Shanghai
    message_queue(player=player, channel="sms", body="1", source="c:1", send_at=at(MONDAY, 10))
    assert messages_deliver_due(now=at(MONDAY, 10))["sent"] == 1

    # when a second is due the same day
    second = message_queue(player=player, channel="sms", body="2", source="c:2", send_at=at(MONDAY, 20))
    assert messages_deliver_due(now=at(MONDAY, 20))["postponed"] == 1

    # then it waits for the player's next day, out of quiet hours, and says why in both languages
    second.refresh_from_db()
    assert second.scheduled_for == at(MONDAY + timedelta(days=1), 9)
    assert second.status_reason == "channel_cap quiet_hours"
    with translation.override("en"):
        assert "SMS limit reached: at most 1 marketing messages a day" in second.status_reason_text
    with translation.override("zh-hans"):
        assert "每天最多 1 条" in second.status_reason_text and "channel_cap" not in second.status_reason_text
    assert messages_deliver_due(now=second.scheduled_for)["sent"] == 1


def test_the_day_is_the_players_own(keep, make_player, consent, settings):
    # given a player in London, quiet hours off
    settings.CRM_QUIET_HOURS = ("00:00", "00:00")
    settings.CRM_SMS_MARKETING_HOURS = ("00:00", "00:00")
    london = consent(make_player(timezone="Europe/London"), "sms")
    late = at(MONDAY, 23, 30, LONDON)  # already Tuesday in Shanghai
    message_queue(player=london, channel="sms", body="1", source="c:1", send_at=late)
    assert messages_deliver_due(now=late)["sent"] == 1

    # when the next one is due after London's midnight: a new day for them
    after_midnight = at(MONDAY + timedelta(days=1), 0, 30, LONDON)
    message_queue(player=london, channel="sms", body="2", source="c:2", send_at=after_midnight)
    assert messages_deliver_due(now=after_midnight)["sent"] == 1

    # and a third the same London day waits for the next London midnight
    third = message_queue(player=london, channel="sms", body="3", source="c:3", send_at=after_midnight)
    messages_deliver_due(now=after_midnight + timedelta(minutes=1))
    third.refresh_from_db()
    assert third.scheduled_for == at(MONDAY + timedelta(days=2), 0, 0, LONDON)


def test_caps_are_per_channel_and_service_messages_are_exempt(keep, player):
    message_queue(player=player, channel="sms", body="1", source="c:1", send_at=at(MONDAY, 10))
    messages_deliver_due(now=at(MONDAY, 10))

    # the SMS cap is reached; e-mail has its own (3 a week), and a service SMS has none
    mail = message_queue(player=player, channel="email", body="m", source="c:mail", send_at=at(MONDAY, 11))
    service = message_queue(
        player=player, channel="sms", body="您的工单已处理", source="case:1", is_marketing=False, send_at=at(MONDAY, 11)
    )
    promo = message_queue(player=player, channel="sms", body="2", source="c:2", send_at=at(MONDAY, 11))
    counts = messages_deliver_due(now=at(MONDAY, 11))

    assert counts["sent"] == 2 and counts["postponed"] == 1
    assert {m.pk for m in Message.objects.filter(status=MessageStatus.SENT)} >= {mail.pk, service.pk}
    promo.refresh_from_db()
    assert promo.status == MessageStatus.POSTPONED


def test_a_calendar_week_from_monday(keep, player):
    # e-mail: 3 a week (CRM_MESSAGES_PER_WEEK); the fourth waits for next Monday
    for i in range(4):
        message_queue(player=player, channel="email", body=str(i), source=f"m:{i}", send_at=at(MONDAY, 10))
    counts = messages_deliver_due(now=at(MONDAY + timedelta(days=2), 10))
    assert counts["sent"] == 3 and counts["postponed"] == 1
    waiting = Message.objects.get(status=MessageStatus.POSTPONED)
    assert waiting.scheduled_for == at(MONDAY + timedelta(days=7), 9)
    with translation.override("en"):
        assert "at most 3 marketing messages a week" in waiting.status_reason_text


def _campaign(name, priority):
    return Campaign.objects.create(
        name=name, channel="sms", template="x", start_date=MONDAY, due_date=MONDAY, priority=priority
    )


def test_the_higher_priority_campaign_wins_the_last_message_and_the_other_says_why(keep, player):
    # given two campaigns' SMS due for one player, the lower priority's first in the queue
    low = message_queue(
        player=player,
        channel="sms",
        body="low",
        source="c:low",
        campaign=_campaign("周末小活动", 20),
        send_at=at(MONDAY, 10),
    )
    high = message_queue(
        player=player,
        channel="sms",
        body="high",
        source="c:high",
        campaign=_campaign("春节大促", 80),
        send_at=at(MONDAY, 10, 5),
    )

    # when delivery runs with one SMS left today
    counts = messages_deliver_due(now=at(MONDAY, 10, 10))

    # then the higher priority went and the other waits, naming it
    low.refresh_from_db()
    high.refresh_from_db()
    assert counts["sent"] == 1 and high.status == MessageStatus.SENT and low.status == MessageStatus.POSTPONED
    assert low.status_reason.startswith(MessageReason.CAP_PRIORITY)
    with translation.override("en"):
        assert "went to the higher-priority campaign “春节大促”" in low.status_reason_text
    with translation.override("zh-hans"):
        assert "优先级更高的活动“春节大促”" in low.status_reason_text
    assert low.scheduled_for == at(MONDAY + timedelta(days=1), 9)


def test_equal_priorities_go_in_their_order(keep, player):
    first = message_queue(
        player=player, channel="sms", body="a", source="c:a", campaign=_campaign("A", 50), send_at=at(MONDAY, 10)
    )
    message_queue(
        player=player, channel="sms", body="b", source="c:b", campaign=_campaign("B", 50), send_at=at(MONDAY, 10, 5)
    )
    messages_deliver_due(now=at(MONDAY, 10, 10))
    first.refresh_from_db()
    assert first.status == MessageStatus.SENT


def test_no_marketing_on_a_no_sending_day_but_service_goes(keep, player):
    NoSendDay.objects.create(date=MONDAY, note="全国哀悼日")
    promo = message_queue(player=player, channel="email", body="促销", source="c:1", send_at=at(MONDAY, 10))
    service = message_queue(
        player=player, channel="email", body="工单", source="case:1", is_marketing=False, send_at=at(MONDAY, 10)
    )

    counts = messages_deliver_due(now=at(MONDAY, 10))

    promo.refresh_from_db()
    service.refresh_from_db()
    assert counts["sent"] == 1 and service.status == MessageStatus.SENT
    assert promo.status == MessageStatus.POSTPONED and promo.scheduled_for == at(MONDAY + timedelta(days=1), 9)
    with translation.override("zh-hans"):
        text = promo.status_reason_text
    assert "禁发日" in text and "2031" in text and "no_send_day" not in text


def test_two_no_sending_days_in_a_row(keep, player):
    NoSendDay.objects.bulk_create([NoSendDay(date=MONDAY), NoSendDay(date=MONDAY + timedelta(days=1))])
    promo = message_queue(player=player, channel="email", body="促销", source="c:1", send_at=at(MONDAY, 10))
    messages_deliver_due(now=at(MONDAY, 10))
    promo.refresh_from_db()
    assert promo.scheduled_for == at(MONDAY + timedelta(days=2), 9)


def test_caps_setting_is_read_and_checked():
    assert message_caps_setting("sms:day:1, in_game:week:3,email:month:4") == {
        "sms": ("day", 1),
        "in_game": ("week", 3),
        "email": ("month", 4),
        "wechat": ("month", "days"),  # WeCom's own limit, unless named (campaigns/tests/test_wecom.py)
    }
    assert message_caps_setting("") == {"wechat": ("month", "days")}
    for wrong in ("sms:day", "sms:year:1", "pigeon:day:1", "sms:day:x", "sms:day:-1"):
        with pytest.raises(ValueError, match="CRM_MESSAGE_CAPS"):
            message_caps_setting(wrong)


def test_a_month_cap_counts_the_calendar_month(keep, player, settings):
    settings.CRM_MESSAGE_CAPS = {"email": ("month", 1)}
    end_of_month = datetime(2031, 12, 31, 10, tzinfo=SHANGHAI)
    message_queue(player=player, channel="email", body="1", source="c:1", send_at=end_of_month)
    messages_deliver_due(now=end_of_month)
    second = message_queue(player=player, channel="email", body="2", source="c:2", send_at=end_of_month)
    messages_deliver_due(now=end_of_month)
    second.refresh_from_db()
    assert second.scheduled_for == datetime(2032, 1, 1, 9, tzinfo=SHANGHAI).astimezone(UTC)


def test_a_supervisor_keeps_the_no_sending_calendar_and_a_manager_may_not(client, supervisor, manager):
    from django.urls import reverse

    add = reverse("admin:campaigns_nosendday_add")
    client.force_login(manager)
    assert client.post(add, {"date": "2031-12-25", "note": "x"}).status_code == 403
    client.force_login(supervisor)
    response = client.post(add, {"date": "2031-12-25", "note": "全国哀悼日"})
    assert response.status_code == 302 and NoSendDay.objects.get().note == "全国哀悼日"
    # a day twice is refused with the field named
    response = client.post(add, {"date": "2031-12-25", "note": "again"})
    assert response.status_code == 200 and "date" in response.context["adminform"].form.errors


def test_the_no_sending_days_list_pins_its_queries(client, supervisor, django_assert_num_queries):
    from django.urls import reverse

    NoSendDay.objects.bulk_create(NoSendDay(date=MONDAY + timedelta(days=i), note=f"{i}") for i in range(20))
    client.force_login(supervisor)
    url = reverse("admin:campaigns_nosendday_changelist")
    client.get(url)  # warm the session and permission caches
    with django_assert_num_queries(9):  # as many for 20 days as for 2
        response = client.get(url)
    assert response.status_code == 200 and len(response.context["cl"].result_list) == 20


# --- statutory holidays as no-sending days (the calendar service: crm.workdays) ------------
QINGMING_2031 = date(2031, 4, 5)  # a Saturday: the break is 04-05 .. 04-07 (Monday in lieu)


def test_a_statutory_holiday_chosen_once_keeps_marketing_off_its_whole_break_every_year(keep, player):
    # given 清明 as a no-sending holiday: no date typed in, the calendar knows its days
    NoSendDay.objects.create(holiday="qingming")
    promo = message_queue(player=player, channel="email", body="促销", source="c:1", send_at=at(QINGMING_2031, 10))
    service = message_queue(
        player=player, channel="email", body="工单", source="case:1", is_marketing=False, send_at=at(QINGMING_2031, 10)
    )

    # when the messages fall due on the first day of the break
    counts = messages_deliver_due(now=at(QINGMING_2031, 10))

    # then the service message goes, the promotion waits for Tuesday 04-08 after the break
    promo.refresh_from_db()
    assert counts["sent"] == 1 and service.pk in keep.sent
    assert promo.status == MessageStatus.POSTPONED
    assert promo.scheduled_for == at(date(2031, 4, 8), 9)
    with translation.override("zh-hans"):
        assert "2031年4月5日 为禁发日" in promo.status_reason_text


CHUNJIE_2031 = date(2031, 1, 23)  # 春节 2031; its break is 01-22 .. 01-27


def test_a_festivals_own_greeting_goes_out_on_a_no_sending_holiday_unless_the_day_holds_greetings(keep, player):
    # given 春节 as a no-sending holiday for marketing, greetings not held (the default)
    day = NoSendDay.objects.create(holiday="spring_festival", note="春节不发营销")
    greeting = message_queue(
        player=player, channel="email", body="新年快乐", source="greeting:1:20310123", send_at=at(CHUNJIE_2031, 10)
    )
    promo = message_queue(player=player, channel="email", body="年货节", source="c:1", send_at=at(CHUNJIE_2031, 10))

    # when they fall due on the festival
    messages_deliver_due(now=at(CHUNJIE_2031, 10))

    # then the festival's greeting goes out that day; the promotion waits for the break's end
    promo.refresh_from_db()
    assert greeting.pk in keep.sent and promo.pk not in keep.sent
    assert promo.status == MessageStatus.POSTPONED and promo.scheduled_for == at(date(2031, 1, 28), 9)

    # given a day that holds greetings too (a day of mourning)
    day.greetings_too = True
    day.save()
    later = message_queue(
        player=player, channel="email", body="生日快乐", source="greeting:2:20310124", send_at=at(CHUNJIE_2031, 11)
    )
    messages_deliver_due(now=at(CHUNJIE_2031, 11))
    later.refresh_from_db()
    assert later.status == MessageStatus.POSTPONED and later.scheduled_for == at(date(2031, 1, 28), 9)
    with translation.override("zh-hans"):
        assert "2031年1月23日 为禁发日" in later.status_reason_text


def test_a_greeting_held_by_the_cap_into_a_no_sending_holiday_still_goes_that_day(keep, player, settings):
    # given one marketing email a day, already sent on 除夕's eve, and 春节's break not for marketing
    settings.CRM_MESSAGE_CAPS = {"email": ("day", 1)}
    NoSendDay.objects.create(holiday="spring_festival")
    eve = CHUNJIE_2031 - timedelta(days=2)  # 01-21, the day before the break
    message_queue(player=player, channel="email", body="早", source="c:early", send_at=at(eve, 10))
    assert messages_deliver_due(now=at(eve, 10))["sent"] == 1
    greeting = message_queue(
        player=player, channel="email", body="除夕快乐", source="greeting:3:20310122", send_at=at(eve, 11)
    )
    promo = message_queue(player=player, channel="email", body="年货节", source="c:2", send_at=at(eve, 11))

    # when both are held by the cap (set-based, before sending)
    messages_deliver_due(now=at(eve, 11))

    # then the greeting waits only for the next day (in the break), the promotion past the break
    greeting.refresh_from_db(), promo.refresh_from_db()
    assert greeting.scheduled_for == at(eve + timedelta(days=1), 9)
    assert promo.scheduled_for == at(date(2031, 1, 28), 9)


def test_no_sending_days_declared_before_the_choice_keep_what_they_did(db):
    from importlib import import_module

    from django.apps import apps

    migration = import_module("campaigns.migrations.0022_no_send_day_greetings_too")
    mourning = NoSendDay.objects.create(date=MONDAY, note="全国哀悼日")
    holiday = NoSendDay.objects.create(holiday="spring_festival")
    migration.dates_hold_greetings_as_before(apps, None)
    mourning.refresh_from_db(), holiday.refresh_from_db()
    assert mourning.greetings_too is True  # a day of mourning holds greetings, as before
    assert holiday.greetings_too is False  # the festival's greetings go out on it


def test_another_holidays_break_and_an_ordinary_weekend_are_not_held(keep, player):
    NoSendDay.objects.create(holiday="qingming")
    national_day = message_queue(
        player=player, channel="email", body="国庆", source="c:1", send_at=at(date(2031, 10, 2), 10)
    )
    weekend = message_queue(
        player=player, channel="email", body="周末", source="c:2", send_at=at(date(2031, 4, 12), 10)
    )
    messages_deliver_due(now=at(date(2031, 10, 2), 10))
    assert {national_day.pk, weekend.pk} <= set(keep.sent)


def test_every_statutory_holiday_holds_marketing_in_the_players_own_calendar(keep, make_player, consent):
    # given every statutory holiday chosen, and a player in London: 2031-10-01 00:30 there
    # is 07:30 in Shanghai, National Day in both calendars; 2031-09-30 20:00 in London
    # (already 10-01 in Shanghai) is still an ordinary Tuesday for that player
    NoSendDay.objects.create(holiday="all", note="假期不打扰")
    londoner = consent(make_player(timezone="Europe/London"), "email")
    eve = message_queue(
        player=londoner, channel="email", body="a", source="c:1", send_at=at(date(2031, 9, 30), 20, zone=LONDON)
    )
    messages_deliver_due(now=at(date(2031, 9, 30), 20, zone=LONDON))
    assert eve.pk in keep.sent

    during = message_queue(
        player=londoner, channel="email", body="b", source="c:2", send_at=at(date(2031, 10, 1), 10, zone=LONDON)
    )
    messages_deliver_due(now=at(date(2031, 10, 1), 10, zone=LONDON))
    during.refresh_from_db()
    assert during.status == MessageStatus.POSTPONED
    assert during.scheduled_for == at(date(2031, 10, 6), 9, zone=LONDON)  # Monday after the break


def test_a_no_sending_day_is_a_date_or_a_holiday_and_each_once(client, supervisor):
    from django.urls import reverse

    add = reverse("admin:campaigns_nosendday_add")
    client.force_login(supervisor)

    def post(data):
        response = client.post(add, {"date": "", "holiday": "", "note": "", **data})
        form = response.context["adminform"].form if response.status_code == 200 else None
        return response.status_code, (form.errors if form else {})

    status, errors = post({})
    assert status == 200 and "date" in errors
    status, errors = post({"date": "2031-04-05", "holiday": "qingming"})
    assert status == 200 and "holiday" in errors
    status, errors = post({"holiday": "tomb_sweeping'); DROP TABLE x;--"})
    assert status == 200 and "holiday" in errors
    assert post({"holiday": "qingming", "note": "清明不发营销"})[0] == 302
    status, errors = post({"holiday": "qingming"})
    assert status == 200 and errors  # the same holiday twice
    assert NoSendDay.objects.get().holiday == "qingming"


def test_the_no_sending_list_shows_a_holidays_days_this_year(client, supervisor):
    from django.urls import reverse

    NoSendDay.objects.create(holiday="spring_festival")
    client.force_login(supervisor)
    with time_machine.travel(datetime(2026, 1, 10, 12, tzinfo=SHANGHAI), tick=False), translation.override("zh-hans"):
        page = client.get(reverse("admin:campaigns_nosendday_changelist"), HTTP_ACCEPT_LANGUAGE="zh-hans")
    text = page.content.decode()
    assert "春节（每年）" in text
    assert 'title="2026-02-15"' in text and 'title="2026-02-23"' in text  # the 2026 break, nine days


# --- caps and priority over a whole launch (the bench's shape, small: bench_campaigns) --------


def test_two_campaigns_launched_over_the_same_players_keep_the_cap_and_the_priority(keep, make_player, consent):
    """Two in-game campaigns over the same 24 players, one marketing message a day allowed:
    delivery in runs of 7 (so a player's two messages fall in one run or in two), through
    the set-based cap decision and the one-by-one check. Every player gets the higher
    priority's message today and the other tomorrow, saying why; nobody gets two a day."""
    from django.conf import settings

    from campaigns.services.campaigns import campaign_launch, campaign_save

    settings.CRM_MESSAGE_CAPS = {"in_game": ("day", 1)}
    players = [
        consent(make_player(server="s9", timezone="Europe/London" if i % 4 == 0 else ""), "in_game") for i in range(24)
    ]
    early = players[5]  # already had today's in-game message
    message_queue(player=early, channel="in_game", body="早", source="c:early", send_at=at(MONDAY, 9, 30))
    assert messages_deliver_due(now=at(MONDAY, 9, 30))["sent"] == 1
    launch_at = at(MONDAY, 10)  # 02:00 in London: quiet hours there

    def launch(name, priority):
        campaign = campaign_save(
            campaign=Campaign(
                name=name,
                segment={"servers": ["s9"]},
                channel="in_game",
                template="{nickname}，" + name,
                start_date=MONDAY,
                due_date=MONDAY + timedelta(days=7),
                holdout_percent=0,
                priority=priority,
            ),
            actor=None,
        )
        campaign_launch(campaign=campaign, now=launch_at)
        return campaign

    low = launch("周末小活动", 20)  # in the queue first
    high = launch("春节大促", 80)

    # when delivery runs in small batches until nothing is due, in each player's daytime
    for moment in (at(MONDAY, 10, 5), at(MONDAY, 10, 5, LONDON)):
        for _run in range(8):  # 48 messages, 7 a run
            messages_deliver_due(now=moment, limit=7)

    # then nobody got two in a day, and everyone got the higher priority's first
    def of(campaign, player):
        return Message.objects.get(campaign=campaign, player=player)

    for player in players:
        zone = LONDON if player.timezone else SHANGHAI
        tomorrow_9 = at(MONDAY + timedelta(days=1), 9, zone=zone)
        won, lost = of(high, player), of(low, player)
        if player == early:  # the day's one is gone: both wait, at the cap
            assert won.status == lost.status == MessageStatus.POSTPONED
            assert won.status_reason.startswith(MessageReason.CHANNEL_CAP)
            continue
        assert won.status == MessageStatus.SENT, (player.timezone, won.status, won.status_reason)
        assert lost.status == MessageStatus.POSTPONED and lost.scheduled_for == tomorrow_9
        assert lost.status_reason.startswith(MessageReason.CAP_PRIORITY)
        with translation.override("zh-hans"):
            assert "优先级更高的活动“春节大促”" in lost.status_reason_text
        with translation.override("en"):
            assert "higher-priority campaign “春节大促”" in lost.status_reason_text
    sent_per_player = Counter(Message.objects.filter(status=MessageStatus.SENT).values_list("player_id", flat=True))
    assert max(sent_per_player.values()) == 1 and len(sent_per_player) == 24

    # and the next day the lower priority's go, still one each
    messages_deliver_due(now=at(MONDAY + timedelta(days=1), 9, zone=LONDON), limit=100)
    assert Message.objects.filter(campaign=low, status=MessageStatus.SENT).count() == 23
    assert Message.objects.filter(campaign=high, player=early, status=MessageStatus.SENT).exists()
