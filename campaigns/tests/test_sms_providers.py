"""SMS through Aliyun and Tencent Cloud, each through its official SDK, against local fakes
of their HTTP APIs (campaigns/tests/fake_sms.py) that check the signature as each
provider documents it, hold its batch limit, answer with its errors and make its
delivery receipts. The hour never matters: quiet hours and the daytime window are pinned."""

import json
from collections import Counter
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone, translation

from campaigns.apps import _check_message_channels
from campaigns.channels import ChannelNotConfigured, backend_for
from campaigns.models import Message, MessageReason, MessageStatus
from campaigns.services.messaging import message_queue, message_retry, messages_deliver_due
from campaigns.tests.fake_sms import FakeAliyun, FakeTencent
from campaigns.webhooks import sms_receipt_token
from players.models import ContactLog, Player

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _options(fake, **extra):
    common = {"endpoint": fake.endpoint, "protocol": "http", "sign_name": "龙城游戏", "timeout": 2}
    if fake.name == "aliyun":
        keys = {"access_key_id": fake.key_id, "access_key_secret": fake.secret, "template_param": "content"}
        templates = {"template_marketing": "SMS_900001", "template_service": "SMS_900002"}
    else:
        keys = {"secret_id": fake.key_id, "secret_key": fake.secret, "sdk_app_id": "1400000001"}
        templates = {"template_marketing": "1800001", "template_service": "1800002", "region": "ap-guangzhou"}
    return {**common, **keys, **templates, **extra}


def _use(settings, fake, **extra):
    backend = {
        "aliyun": "campaigns.channels.aliyun.AliyunSmsBackend",
        "tencent": "campaigns.channels.tencent.TencentSmsBackend",
    }
    settings.CRM_MESSAGE_BACKENDS = {
        **settings.CRM_MESSAGE_BACKENDS,
        "sms": {"BACKEND": backend[fake.name], "OPTIONS": _options(fake, **extra)},
    }


@pytest.fixture
def any_hour(db, settings):
    """Quiet hours and the promotional daytime window off: these tests are about sending."""
    settings.CRM_QUIET_HOURS = ("00:00", "00:00")
    settings.CRM_SMS_MARKETING_HOURS = ("00:00", "00:00")
    settings.CRM_MESSAGES_PER_WEEK = 0
    settings.CRM_SMS_RECEIPT_SECRET = "receipts-secret"


@pytest.fixture
def aliyun(settings, any_hour):
    fake = FakeAliyun(key_id="LTAI5tTestKeyId", secret="aliyun-test-secret").start()
    _use(settings, fake)
    yield fake
    fake.stop()


@pytest.fixture
def tencent(settings, any_hour):
    fake = FakeTencent(key_id="AKIDtestSecretId", secret="tencent-test-secret").start()
    _use(settings, fake)
    yield fake
    fake.stop()


def _players(count, start=0):
    return Player.objects.bulk_create(
        Player(account_id=f"sms-{start + i}", server="s1", nickname="玩家", phone=f"+86138{start + i:08d}")
        for i in range(count)
    )


def _queue_service(players, body="您的充值已到账", tag="t"):
    return [
        message_queue(player=p, channel="sms", body=body, source=f"{tag}:{p.pk}", is_marketing=False) for p in players
    ]


def _receipt_url(provider):
    return reverse("sms-receipts", kwargs={"provider": provider, "token": sms_receipt_token(provider)})


# --- Aliyun ------------------------------------------------------------------------


def test_aliyun_sends_batches_of_100_each_number_with_its_own_text(aliyun):
    # given 150 service messages, each with its own text
    players = _players(150)
    for p in players:
        message_queue(
            player=p, channel="sms", body=f"{p.account_id} 您的礼包已发放", source=f"t:{p.pk}", is_marketing=False
        )

    # when delivery runs
    counts = messages_deliver_due()

    # then two signed calls (100 + 50), each number once with its own text, under the service template
    assert counts["sent"] == 150 and aliyun.refused == []
    assert [len(json.loads(r["PhoneNumberJson"])) for r in aliyun.requests] == [100, 50]
    assert Counter(item["phone"] for item in aliyun.sent) == {f"138{i:08d}": 1 for i in range(150)}
    assert {item["template"] for item in aliyun.sent} == {"SMS_900002"}
    assert aliyun.sent[0]["params"] == {"content": "sms-0 您的礼包已发放"}
    # our handle (from our message ids) went as OutId; the BizId is kept for receipts
    first = Message.objects.order_by("pk").first()
    assert aliyun.requests[0]["OutId"] == first.provider_batch == f"crm-{first.pk}-1"
    assert first.status == MessageStatus.SENT and first.provider_ref == aliyun.sent[0]["ref"]
    assert ContactLog.objects.filter(source__startswith="message:").count() == 150


def test_aliyun_promotional_sms_carry_the_opt_out_and_go_under_the_marketing_template(aliyun, make_player, consent):
    player = consent(make_player(phone="+8613900000001"), "sms")
    message_queue(player=player, channel="sms", body="周末双倍返利", source="promo:1")
    message_queue(player=_players(1, start=500)[0], channel="sms", body="到账提醒", source="svc:1", is_marketing=False)

    assert messages_deliver_due()["sent"] == 2

    by_template = {item["template"]: item for item in aliyun.sent}
    assert by_template["SMS_900001"]["params"]["content"] == "周末双倍返利 拒收请回复R"
    assert by_template["SMS_900002"]["params"]["content"] == "到账提醒"
    assert len(aliyun.requests) == 2  # one template a call


def test_aliyun_refuses_a_wrong_secret_and_the_supervisor_reads_why(settings, aliyun):
    # given the wrong access key secret: the fake's signature check fails
    _use(settings, aliyun, access_key_secret="not-the-secret")
    (message,) = _queue_service(_players(1))

    assert messages_deliver_due()["failed"] == 1

    message.refresh_from_db()
    assert aliyun.refused == ["SignatureDoesNotMatch"] and aliyun.sent == []
    assert message.status == MessageStatus.FAILED and message.status_reason == MessageReason.PROVIDER_REFUSED
    with translation.override("en"):
        assert message.status_reason_text.startswith(
            "Aliyun SMS refused it: the request's signature or access key was refused: check the provider's keys "
            "(SignatureDoesNotMatch). Not sent. Attempt 1: "
        )
    with translation.override("zh-hans"):
        text = message.status_reason_text
    assert text.startswith("阿里云短信") and "SignatureDoesNotMatch" in text and "refused" not in text


def test_aliyun_throttled_batch_is_retried_later_and_sent_once(aliyun):
    # given the provider's flow control refuses the call
    aliyun.error = ("isv.BUSINESS_LIMIT_CONTROL", "触发小时级流控Permits:5")
    messages = _queue_service(_players(3))
    now = timezone.now()

    assert messages_deliver_due(now=now)["retrying"] == 3
    message = Message.objects.get(pk=messages[0].pk)
    assert message.status == MessageStatus.QUEUED and message.status_reason == MessageReason.PROVIDER_RETRY
    with translation.override("en"):
        assert (
            "the sending limit for this number was reached (isv.BUSINESS_LIMIT_CONTROL)" in message.status_reason_text
        )
    assert aliyun.sent == []

    # when the limit lifts and the retry is due
    aliyun.error = None
    assert messages_deliver_due(now=message.scheduled_for)["sent"] == 3
    assert Counter(item["phone"] for item in aliyun.sent) == {f"138{i:08d}": 1 for i in range(3)}


def test_no_answer_means_never_sent_again_until_the_receipt_settles_it(settings, aliyun, client):
    # given a provider that takes the call and answers too late
    _use(settings, aliyun, timeout=1)
    aliyun.hang = 2.5
    (message,) = _queue_service(_players(1))

    assert messages_deliver_due()["uncertain"] == 1

    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED and message.status_reason == MessageReason.PROVIDER_UNCERTAIN
    assert len(aliyun.sent) == 1  # the provider has it
    # a later run sends nothing again
    aliyun.hang = 0
    messages_deliver_due(now=timezone.now() + timedelta(hours=2))
    assert len(aliyun.requests) == 1
    assert not ContactLog.objects.filter(source=f"message:{message.pk}").exists()

    # when the receipt arrives (found by our OutId and the number: the BizId never reached us)
    response = client.post(_receipt_url("aliyun"), aliyun.receipts(), content_type="application/json")

    # then the message is sent and delivered, in the contact log once
    assert response.status_code == 200 and response.json() == {"code": 0, "msg": "接收成功"}
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT and message.delivered_at is not None and message.status_reason == ""
    client.post(_receipt_url("aliyun"), aliyun.receipts(), content_type="application/json")
    assert ContactLog.objects.filter(source=f"message:{message.pk}").count() == 1


def test_an_unreachable_provider_is_retried_as_nothing_was_sent(settings, aliyun):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    _use(settings, aliyun, endpoint=f"127.0.0.1:{port}")
    (message,) = _queue_service(_players(1))

    assert messages_deliver_due()["retrying"] == 1

    message.refresh_from_db()
    assert message.status == MessageStatus.QUEUED and message.status_params["code"] == "unreachable"


def test_a_player_without_a_mobile_number_fails_and_the_rest_go(aliyun):
    without = Player.objects.create(account_id="no-phone")
    with_phone = _players(1)
    _queue_service([without, *with_phone])

    counts = messages_deliver_due()

    assert counts["sent"] == 1 and counts["failed"] == 1
    failed = Message.objects.get(player=without)
    assert failed.status_reason == MessageReason.NO_PHONE and len(aliyun.sent) == 1


def test_one_number_twice_goes_in_two_batches(aliyun):
    (player,) = _players(1)
    twin = Player.objects.create(account_id="twin", phone=player.phone)
    _queue_service([player, twin])

    assert messages_deliver_due()["sent"] == 2

    assert [json.loads(r["PhoneNumberJson"]) for r in aliyun.requests] == [["13800000000"], ["13800000000"]]


def test_a_worker_that_died_mid_call_leaves_nothing_to_send_twice(aliyun):
    # given a message claimed for the provider 40 minutes ago, its answer never recorded
    (message,) = _queue_service(_players(1))
    claimed_at = timezone.now() - timedelta(minutes=40)
    Message.objects.filter(pk=message.pk).update(status=MessageStatus.SENDING, sent_at=claimed_at, attempts=1)

    counts = messages_deliver_due()

    message.refresh_from_db()
    assert counts["uncertain"] == 1 and aliyun.requests == []
    assert message.status == MessageStatus.FAILED and message.status_reason == MessageReason.PROVIDER_UNCERTAIN
    # a supervisor may decide to send it again
    message_retry(message=message)
    assert messages_deliver_due()["sent"] == 1 and len(aliyun.sent) == 1


# --- Tencent -----------------------------------------------------------------------


def test_tencent_sends_one_text_to_200_numbers_a_request(tencent):
    _queue_service(_players(250), body="维护公告：今晚停服两小时")

    counts = messages_deliver_due()

    assert counts["sent"] == 250 and tencent.refused == []
    assert [len(r["PhoneNumberSet"]) for r in tencent.requests] == [200, 50]
    assert tencent.requests[0]["TemplateParamSet"] == ["维护公告：今晚停服两小时"]
    assert tencent.requests[0]["TemplateId"] == "1800002" and tencent.requests[0]["SmsSdkAppId"] == "1400000001"
    first = Message.objects.order_by("pk").first()
    assert tencent.requests[0]["SessionContext"] == first.provider_batch == f"crm-{first.pk}-1"
    assert first.provider_ref == tencent.sent[0]["ref"]


def test_tencent_personal_texts_go_one_number_a_request(tencent):
    for p in _players(3):
        message_queue(player=p, channel="sms", body=f"{p.account_id}，生日快乐", source=f"b:{p.pk}", is_marketing=False)

    assert messages_deliver_due()["sent"] == 3
    assert [len(r["PhoneNumberSet"]) for r in tencent.requests] == [1, 1, 1]


def test_tencent_answers_per_number_and_only_the_retryable_one_goes_again(tencent):
    players = _players(4)
    _queue_service(players)
    tencent.number_errors = {
        "+8613800000001": (
            "LimitExceeded.PhoneNumberDailyLimit",
            "the number of SMS messages sent exceeds the daily limit",
        ),
        "+8613800000002": ("InvalidParameterValue.IncorrectPhoneNumber", "invalid mobile number"),
    }
    now = timezone.now()

    counts = messages_deliver_due(now=now)

    assert (counts["sent"], counts["retrying"], counts["failed"]) == (2, 1, 1)
    limited = Message.objects.get(player=players[1])
    invalid = Message.objects.get(player=players[2])
    assert limited.status == MessageStatus.QUEUED and invalid.status == MessageStatus.FAILED
    with translation.override("zh-hans"):
        assert "LimitExceeded.PhoneNumberDailyLimit" in limited.status_reason_text
        assert "腾讯云短信" in invalid.status_reason_text

    # when the retry is due and the limit has lifted: only the limited number goes again
    tencent.number_errors = {}
    assert messages_deliver_due(now=limited.scheduled_for)["sent"] == 1
    assert Counter(item["phone"] for item in tencent.sent) == {
        "+8613800000000": 1,
        "+8613800000001": 1,
        "+8613800000003": 1,
    }


def test_tencent_refuses_a_wrong_key_and_a_batch_over_200_never_leaves(settings, tencent):
    _use(settings, tencent, secret_key="wrong")
    (message,) = _queue_service(_players(1))

    assert messages_deliver_due()["failed"] == 1
    assert tencent.refused == ["AuthFailure.SignatureFailure"]
    message.refresh_from_db()
    assert message.status_params["code"] == "AuthFailure.SignatureFailure"


def test_tencent_receipts_update_messages(tencent, client):
    players = _players(2)
    _queue_service(players)
    messages_deliver_due()

    receipts = tencent.receipts(failed={"+8613800000001": ("MK:0001", "空号")})
    response = client.post(_receipt_url("tencent"), receipts, content_type="application/json")

    assert response.json() == {"result": 0, "errmsg": "OK"}
    delivered, undelivered = (Message.objects.get(player=p) for p in players)
    assert delivered.status == MessageStatus.SENT and delivered.delivered_at is not None
    assert (
        undelivered.status == MessageStatus.FAILED and undelivered.status_reason == MessageReason.PROVIDER_UNDELIVERED
    )
    with translation.override("en"):
        assert undelivered.status_reason_text == (
            "Tencent Cloud SMS reports it was not delivered to the phone: 空号 (MK:0001)."
        )


# --- The receipt door ----------------------------------------------------------------


def test_the_receipt_door_refuses_a_wrong_token_and_survives_hostile_bodies(settings, tencent, client):
    players = _players(1)
    _queue_service(players)
    messages_deliver_due()
    good = tencent.receipts()

    # a wrong token, another provider's token, no secret at all: not found
    bad = reverse("sms-receipts", kwargs={"provider": "tencent", "token": "0" * 40})
    assert client.post(bad, good, content_type="application/json").status_code == 404
    other = reverse("sms-receipts", kwargs={"provider": "tencent", "token": sms_receipt_token("aliyun")})
    assert client.post(other, good, content_type="application/json").status_code == 404
    assert client.get(_receipt_url("tencent")).status_code == 405
    url = _receipt_url("tencent")
    settings.CRM_SMS_RECEIPT_SECRET = ""
    assert client.post(url, good, content_type="application/json").status_code == 404
    settings.CRM_SMS_RECEIPT_SECRET = "receipts-secret"

    # broken JSON, a dict, junk items, a receipt whose number is not the message's: nothing changes
    url = _receipt_url("tencent")
    assert client.post(url, b"[{", content_type="application/json").status_code == 400
    assert client.post(url, {"sid": "x"}, content_type="application/json").status_code == 200
    junk = [1, "x", None, {"sid": good[0]["sid"]}, {**good[0], "mobile": "13999999999"}, {**good[0], "sid": ["a"]}]
    assert client.post(url, junk, content_type="application/json").status_code == 200
    message = Message.objects.get(player=players[0])
    assert message.delivered_at is None

    # the real receipt still works
    client.post(url, good, content_type="application/json")
    message.refresh_from_db()
    assert message.delivered_at is not None


def test_sms_receipt_urls_command_prints_each_providers_url(settings, capsys):
    settings.CRM_SMS_RECEIPT_SECRET = "receipts-secret"
    call_command("sms_receipt_urls", "https://crm.example.com/")
    out = capsys.readouterr().out
    assert f"aliyun: https://crm.example.com/hooks/sms/aliyun/{sms_receipt_token('aliyun')}/" in out
    assert f"tencent: https://crm.example.com/hooks/sms/tencent/{sms_receipt_token('tencent')}/" in out


# --- Rules around the providers -------------------------------------------------------


def test_promotional_sms_wait_for_the_daytime_and_service_sms_do_not(settings, aliyun, make_player, consent):
    settings.CRM_SMS_MARKETING_HOURS = ("08:00", "21:00")
    promo_player = consent(make_player(phone="+8613900000009"), "sms")
    promo = message_queue(player=promo_player, channel="sms", body="限时礼包", source="promo:9")
    (service,) = _queue_service(_players(1))
    # tomorrow evening in Shanghai (after the consent, whatever the hour the test runs at)
    tomorrow = timezone.localdate(timezone.now(), SHANGHAI) + timedelta(days=1)
    evening = datetime.combine(tomorrow, time(21, 30), tzinfo=SHANGHAI)

    counts = messages_deliver_due(now=evening)

    assert counts["sent"] == 1 and counts["postponed"] == 1
    promo.refresh_from_db()
    assert promo.status == MessageStatus.POSTPONED and promo.status_reason == MessageReason.SMS_DAYTIME
    assert promo.scheduled_for == datetime.combine(tomorrow + timedelta(days=1), time(8, 0), tzinfo=SHANGHAI)
    with translation.override("zh-hans"):
        assert "08:00" in promo.status_reason_text and "21:00" in promo.status_reason_text
    # in the morning quiet hours (till 09:00) keep it a little longer
    settings.CRM_QUIET_HOURS = ("22:00", "09:00")
    messages_deliver_due(now=promo.scheduled_for)
    promo.refresh_from_db()
    assert promo.scheduled_for == datetime.combine(tomorrow + timedelta(days=1), time(9, 0), tzinfo=SHANGHAI)


def test_a_provider_without_its_keys_or_templates_is_a_visible_error(settings, aliyun):
    _use(settings, aliyun, template_marketing="")
    with pytest.raises(ChannelNotConfigured, match="CRM_ALIYUN_SMS_TEMPLATE_MARKETING"):
        backend_for("sms")
    (message,) = _queue_service(_players(1))
    assert messages_deliver_due()["failed"] == 1
    message.refresh_from_db()
    assert message.status_reason == MessageReason.CHANNEL_NOT_CONFIGURED
    assert [w.id for w in _check_message_channels(None)] == ["campaigns.W001"]


def test_an_sms_provider_cannot_serve_in_game_mail(settings, aliyun):
    settings.CRM_MESSAGE_BACKENDS = {
        **settings.CRM_MESSAGE_BACKENDS,
        "in_game": settings.CRM_MESSAGE_BACKENDS["sms"],
    }
    with pytest.raises(ChannelNotConfigured, match="delivers only sms"):
        backend_for("in_game")


def test_the_console_backend_serves_only_development(settings):
    settings.CRM_CONSOLE_BACKEND_ALLOWED = False
    with pytest.raises(ChannelNotConfigured, match="outside development"):
        backend_for("sms")
    assert {w.id for w in _check_message_channels(None)} == {"campaigns.W001"}
    settings.CRM_CONSOLE_BACKEND_ALLOWED = True
    assert backend_for("sms").__class__.__name__ == "ConsoleBackend"
