import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection

from campaigns.channels import ChannelBackend
from campaigns.models import Message, MessageStatus
from campaigns.services.messaging import message_queue, message_retry, messages_deliver_due
from campaigns.tasks import deliver_messages
from players.models import ContactLog, ContactOutcome

# 2026-11-23 10:00 in Shanghai (UTC+8) is 02:00 UTC: outside quiet hours there.
SHANGHAI_MORNING = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
# 2026-11-23 23:30 in Shanghai.
SHANGHAI_NIGHT = datetime(2026, 11, 23, 15, 30, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _on_monday_morning():
    """Messages are queued at 09:00 in Shanghai on the day the tests deliver them,
    whatever day the suite runs (tests that need another moment travel there)."""
    with time_machine.travel(datetime(2026, 11, 23, 1, 0, tzinfo=UTC), tick=True):
        yield


class RecordingBackend(ChannelBackend):
    """A real backend that keeps what it sent (in memory), optionally slowly."""

    sent: list = []
    lock = threading.Lock()

    def send(self, message):
        time.sleep(self.options.get("delay", 0))
        with self.lock:
            RecordingBackend.sent.append(message.pk)


@pytest.fixture
def make_player(make_player, consent):
    """Players who granted SMS and e-mail marketing: most tests here are about delivery
    (the consent rules have their own tests below, with `bare_player`)."""

    def make(**fields):
        return consent(make_player(**fields), "sms", "email")

    return make


@pytest.fixture
def bare_player(db):
    """A player with no consent on record."""
    from players.models import Player
    from players.tests.fixtures import _ids

    def make(**fields):
        fields.setdefault("account_id", f"bare-{next(_ids)}")
        return Player.objects.create(**fields)

    return make


@pytest.fixture
def recording(settings):
    RecordingBackend.sent = []
    settings.CRM_MESSAGE_BACKENDS = {
        channel: {"BACKEND": "campaigns.tests.test_messaging.RecordingBackend", "OPTIONS": {}}
        for channel in ("sms", "in_game", "email")
    }
    return RecordingBackend


def test_queue_is_idempotent_per_player_and_source(make_player):
    player = make_player()
    first = message_queue(player=player, channel="sms", body="a", source="campaign:1")
    second = message_queue(player=player, channel="sms", body="b", source="campaign:1")
    assert first.pk == second.pk and Message.objects.count() == 1 and second.body == "a 拒收请回复R"


def test_commercial_sms_carries_the_opt_out_suffix_once_and_others_none(make_player, settings):
    settings.CRM_SMS_OPT_OUT_SUFFIX = "拒收请回复R"
    player = make_player()
    sms = message_queue(player=player, channel="sms", body="双十一大促 ", source="c:1")
    already = message_queue(player=player, channel="sms", body="回归礼包 拒收请回复R", source="c:2")
    service = message_queue(player=player, channel="sms", body="工单已处理", source="case:1", is_marketing=False)
    mail = message_queue(player=player, channel="email", body="活动", source="c:3")
    assert [m.body for m in (sms, already, service, mail)] == [
        "双十一大促 拒收请回复R",
        "回归礼包 拒收请回复R",
        "工单已处理",
        "活动",
    ]


@pytest.mark.parametrize(
    "status, reason",
    [("refused", "refused this channel"), ("withdrawn", "withdrew their consent"), (None, "not consented")],
)
def test_no_sms_marketing_without_a_live_consent_recorded_as_cancelled(bare_player, consent, status, reason):
    player = bare_player()
    if status:
        consent(player, "sms", status=status)
    message = message_queue(player=player, channel="sms", body="sale!", source="campaign:1")
    assert message.pk and message.status == MessageStatus.CANCELLED and reason in message.status_reason_text


def test_no_marketing_to_a_minor_by_any_channel_even_with_consent(bare_player, consent):
    from datetime import date

    # a 17-year-old (by the date of birth) who "consented" everywhere
    minor = consent(bare_player(birthday=date(2009, 11, 24)), "sms", "email", "in_game")
    for channel in ("sms", "email", "in_game"):
        message = message_queue(player=minor, channel=channel, body="sale!", source=f"campaign:{channel}")
        assert message.status == MessageStatus.CANCELLED and "minor" in message.status_reason_text


def test_minority_lifts_itself_on_the_18th_birthday(bare_player, consent, recording):
    from datetime import date

    player = consent(bare_player(birthday=date(2008, 11, 24)), "sms")  # 18 tomorrow (Shanghai)
    today = message_queue(player=player, channel="sms", body="a", source="c:1")
    assert today.status == MessageStatus.CANCELLED and player.is_minor
    with time_machine.travel(datetime(2026, 11, 24, 2, 0, tzinfo=UTC), tick=False):
        tomorrow = message_queue(player=player, channel="sms", body="b", source="c:2")
        assert tomorrow.status == MessageStatus.QUEUED and not player.is_minor
        assert messages_deliver_due()["sent"] == 1


def test_in_game_marketing_goes_without_a_record_but_not_after_a_refusal(bare_player, consent, recording):
    player = bare_player()
    queued = message_queue(player=player, channel="in_game", body="活动", source="c:1")
    assert queued.status == MessageStatus.QUEUED  # opt-out channel (README, "Consent")
    consent(player, "in_game", status="refused")
    queued.refresh_from_db()
    assert queued.status == MessageStatus.CANCELLED and queued.status_reason == "consent_refused"


def test_service_message_follows_the_service_purpose(bare_player, consent, recording):
    player = consent(bare_player(), "in_game", status="refused")  # refused marketing only
    update = message_queue(player=player, channel="in_game", body="case update", source="case:1", is_marketing=False)
    assert messages_deliver_due(now=SHANGHAI_MORNING)["sent"] == 1
    assert recording.sent == [update.pk]
    consent(player, "in_game", status="refused", purpose="service")
    second = message_queue(player=player, channel="in_game", body="case closed", source="case:2", is_marketing=False)
    assert second.status == MessageStatus.CANCELLED and second.status_reason == "consent_refused"


def test_a_withdrawal_cancels_what_is_queued_at_once(make_player, consent, recording):
    player = make_player()
    sms = message_queue(player=player, channel="sms", body="x", source="c:1", send_at=SHANGHAI_MORNING)
    mail = message_queue(player=player, channel="email", body="y", source="c:2", send_at=SHANGHAI_MORNING)
    service = message_queue(player=player, channel="sms", body="z", source="case:1", is_marketing=False)
    consent(player, "sms", status="withdrawn", source="reply", evidence="R")
    for message in (sms, mail, service):
        message.refresh_from_db()
    assert (sms.status, sms.status_reason) == (MessageStatus.CANCELLED, "consent_withdrawn")
    assert mail.status == service.status == MessageStatus.QUEUED
    assert messages_deliver_due(now=SHANGHAI_MORNING)["sent"] == 2 and sorted(recording.sent) == sorted(
        [mail.pk, service.pk]
    )


def test_a_withdrawal_recorded_late_still_cancels_at_delivery(make_player, recording):
    # a message queued, then the consent withdrawn by a path that ran no hook (a raw row)
    from players.models import Consent

    player = make_player()
    message = message_queue(player=player, channel="sms", body="x", source="c:1", send_at=SHANGHAI_MORNING)
    Consent.objects.filter(player=player, channel="sms").update(status="withdrawn")
    assert messages_deliver_due(now=SHANGHAI_MORNING)["cancelled"] == 1
    message.refresh_from_db()
    assert message.status == MessageStatus.CANCELLED and recording.sent == []


def test_sent_message_writes_the_contact_log(make_player, recording):
    player = make_player()
    message = message_queue(player=player, channel="in_game", subject="礼包", body="回来领", source="c:1")
    messages_deliver_due(now=SHANGHAI_MORNING)
    contact = ContactLog.objects.get(player=player)
    assert contact.outcome == ContactOutcome.MESSAGE_SENT and contact.source == f"message:{message.pk}"
    assert contact.channel == "in_game" and contact.summary == "回来领" and contact.contacted_at == SHANGHAI_MORNING


def test_quiet_hours_postpone_to_nine_in_the_players_time_zone(make_player, recording):
    # given it is 23:30 in Shanghai, and a player in Los Angeles for whom it is 07:30
    with time_machine.travel(SHANGHAI_NIGHT, tick=False):
        shanghai = make_player()
        los_angeles = make_player(timezone="America/Los_Angeles")
        m1 = message_queue(player=shanghai, channel="sms", body="x", source="c:1")
        m2 = message_queue(player=los_angeles, channel="sms", body="x", source="c:1")
        # when
        counts = messages_deliver_due()
    # then both wait for 09:00 of their own zone
    assert counts["postponed"] == 2 and recording.sent == []
    m1.refresh_from_db()
    m2.refresh_from_db()
    assert m1.status == MessageStatus.POSTPONED and "Quiet hours" in m1.status_reason_text
    assert m1.scheduled_for == datetime(2026, 11, 24, 1, 0, tzinfo=UTC)  # 09:00 Shanghai
    assert m2.scheduled_for == datetime(2026, 11, 23, 17, 0, tzinfo=UTC)  # 09:00 Los Angeles (PST)
    # and go out at that time
    with time_machine.travel(m2.scheduled_for, tick=False):
        assert messages_deliver_due()["sent"] == 1
    with time_machine.travel(m1.scheduled_for, tick=False):
        assert messages_deliver_due()["sent"] == 1
    assert recording.sent == [m2.pk, m1.pk]


def test_configured_quiet_hours_and_default_zone(settings, make_player, recording):
    settings.CRM_QUIET_HOURS = ("12:00", "14:00")
    settings.CRM_PLAYER_DEFAULT_TIMEZONE = "UTC"
    message_queue(player=make_player(), channel="sms", body="x", source="c:1")
    with time_machine.travel(datetime(2026, 11, 23, 12, 30, tzinfo=UTC), tick=False):
        assert messages_deliver_due()["postponed"] == 1
    assert Message.objects.get().scheduled_for == datetime(2026, 11, 23, 14, 0, tzinfo=UTC)


def test_weekly_cap_postpones_the_third_message_to_the_players_next_week(make_player, recording):
    # given a player who got 2 messages this calendar week (default cap 2, Monday to Sunday)
    player = make_player()
    monday = SHANGHAI_MORNING
    with time_machine.travel(monday, tick=False):
        message_queue(player=player, channel="sms", body="1", source="c:1")
        assert messages_deliver_due()["sent"] == 1
    with time_machine.travel(monday + timedelta(days=2), tick=False):
        message_queue(player=player, channel="sms", body="2", source="c:2")
        assert messages_deliver_due()["sent"] == 1
        # when a third is due the same week
        third = message_queue(player=player, channel="sms", body="3", source="c:3")
        assert messages_deliver_due()["postponed"] == 1
    # then it waits (not dropped) for the player's next week: Monday, out of quiet hours
    third.refresh_from_db()
    assert third.status == MessageStatus.POSTPONED
    assert "at most 2 marketing messages a week" in third.status_reason_text
    next_monday_nine = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
    assert third.scheduled_for == next_monday_nine
    with time_machine.travel(next_monday_nine - timedelta(seconds=2), tick=False):
        assert messages_deliver_due()["sent"] == 0
    with time_machine.travel(next_monday_nine, tick=False):
        assert messages_deliver_due()["sent"] == 1
    assert Message.objects.filter(status=MessageStatus.SENT).count() == 3


def test_cap_release_falling_in_quiet_hours_moves_to_morning(make_player, recording):
    player = make_player()
    for i, at in enumerate([datetime(2026, 11, 23, 1, 30, tzinfo=UTC), datetime(2026, 11, 23, 2, 30, tzinfo=UTC)]):
        Message.objects.create(
            player=player, channel="sms", body="old", source=f"old:{i}", status="sent", sent_at=at, scheduled_for=at
        )
    message = message_queue(player=player, channel="sms", body="new", source="c:new")
    messages_deliver_due(now=datetime(2026, 11, 23, 6, 0, tzinfo=UTC))
    message.refresh_from_db()
    # the week's slots free at midnight on Monday in Shanghai, which is quiet: so 09:00 that morning
    assert message.scheduled_for == datetime(2026, 11, 30, 1, 0, tzinfo=UTC)
    assert "limit reached" in message.status_reason_text and "Quiet hours" in message.status_reason_text


def test_retry_puts_a_failed_message_back(make_player):
    message = message_queue(player=make_player(), channel="sms", body="x", source="c:1")
    Message.objects.filter(pk=message.pk).update(status=MessageStatus.FAILED, attempts=5)
    message.refresh_from_db()
    message_retry(message=message, now=SHANGHAI_MORNING)
    message.refresh_from_db()
    assert message.status == MessageStatus.QUEUED and message.attempts == 0


def test_command_and_task_deliver(make_player, recording, capsys):
    message_queue(player=make_player(), channel="sms", body="x", source="c:1", send_at=SHANGHAI_MORNING)
    message_queue(player=make_player(), channel="sms", body="x", source="c:1", send_at=SHANGHAI_MORNING)
    with time_machine.travel(SHANGHAI_MORNING, tick=False):
        call_command("deliver_messages", "--limit", "1")
        assert '"sent": 1' in capsys.readouterr().out
        deliver_messages.delay()
    assert len(recording.sent) == 2


def test_two_workers_send_each_message_once(requires_postgres, transactional_db, make_player, recording, settings):
    # given 40 due messages and a backend slow enough for two workers to overlap
    settings.CRM_MESSAGE_BACKENDS["sms"]["OPTIONS"] = {"delay": 0.01}
    settings.CRM_MESSAGES_PER_WEEK = 0
    for _i in range(40):
        message_queue(player=make_player(), channel="sms", body="x", source="c:1", send_at=SHANGHAI_MORNING)
    results = []

    def worker():
        try:
            results.append(messages_deliver_due(now=SHANGHAI_MORNING))
        finally:
            connection.close()

    # when two workers run at once
    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # then every message went out exactly once
    assert sorted(recording.sent) == sorted(Message.objects.values_list("pk", flat=True))
    assert sum(r["sent"] for r in results) == 40
    assert Message.objects.filter(status=MessageStatus.SENT).count() == 40
    assert ContactLog.objects.count() == 40


def test_two_workers_respect_the_weekly_cap_for_one_player(
    requires_postgres, transactional_db, make_player, recording, settings
):
    settings.CRM_MESSAGE_BACKENDS["sms"]["OPTIONS"] = {"delay": 0.02}
    player = make_player()
    for i in range(6):
        message_queue(player=player, channel="sms", body="x", source=f"c:{i}", send_at=SHANGHAI_MORNING)

    def worker():
        try:
            messages_deliver_due(now=SHANGHAI_MORNING)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(recording.sent) == 2
    assert Message.objects.filter(status=MessageStatus.POSTPONED).count() == 4
