"""Channel backends against real local servers started by the tests."""

import json
import os
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from unittest import mock

import environ
import pytest
from django.utils import timezone, translation

from campaigns.apps import _check_message_channels
from campaigns.channels import (
    ChannelNotConfigured,
    DeliveryError,
    WebhookBackend,
    backend_for,
    signature_header,
    signature_verify,
)
from campaigns.models import Message, MessageReason, MessageStatus
from campaigns.services.messaging import message_queue, messages_deliver_due
from crm.channels import MESSAGE_CHANNELS, message_backends_setting, message_channel_choices
from players.models import ContactLog

SECRET = "webhook-test-secret"


@pytest.fixture
def make_player(make_player, consent):
    """Players who granted SMS and e-mail marketing: these tests are about delivery (the
    consent rules are tested in test_messaging.py)."""

    def make(**fields):
        return consent(make_player(**fields), "sms", "email")

    return make


@pytest.fixture
def webhook_server():
    """A real HTTP server on 127.0.0.1: records each request; answers with `status`."""
    received = []
    state = {"status": 200}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append({"headers": self.headers, "body": body, "path": self.path})
            self.send_response(state["status"])
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield {"url": f"http://127.0.0.1:{server.server_port}/mail", "received": received, "state": state}
    server.shutdown()
    server.server_close()


def _use_webhook(settings, url, channel="in_game"):
    settings.CRM_MESSAGE_BACKENDS = {
        **settings.CRM_MESSAGE_BACKENDS,
        channel: {"BACKEND": "campaigns.channels.WebhookBackend", "OPTIONS": {"url": url, "secret": SECRET}},
    }
    settings.CRM_QUIET_HOURS = ("00:00", "00:00")
    settings.CRM_SMS_MARKETING_HOURS = ("00:00", "00:00")  # promotional SMS at any hour here


def test_signature_scheme_matches_the_api():
    header = signature_header("s3cret", b'{"a":1}', timestamp=1700000000)
    assert header.startswith("t=1700000000,v1=")
    assert signature_verify("s3cret", b'{"a":1}', header, now=1700000010)
    assert not signature_verify("s3cret", b'{"a":2}', header, now=1700000010)
    assert not signature_verify("other", b'{"a":1}', header, now=1700000010)
    assert not signature_verify("s3cret", b'{"a":1}', header, now=1700000000 + 301)
    assert not signature_verify("s3cret", b'{"a":1}', "garbage")


def test_webhook_posts_signed_json_to_the_game_mail_service(settings, webhook_server, make_player):
    # given an in-game mail routed to a real local HTTP server
    _use_webhook(settings, webhook_server["url"])
    player = make_player(account_id="10086", server="s7", nickname="龙王")
    message = message_queue(player=player, channel="in_game", body="回来领礼包", subject="礼包", source="test:1")
    # when
    counts = messages_deliver_due()
    # then it arrived once, signed over the raw body with our secret
    assert counts["sent"] == 1
    (request,) = webhook_server["received"]
    assert signature_verify(SECRET, request["body"], request["headers"]["X-CRM-Signature"])
    assert int(request["headers"]["X-CRM-Signature"].split(",")[0][2:]) == pytest.approx(time.time(), abs=60)
    payload = json.loads(request["body"])
    assert payload["account_id"] == "10086" and payload["server"] == "s7" and payload["body"] == "回来领礼包"
    assert payload["message_id"] == message.pk and "phone" not in payload
    assert request["headers"]["Idempotency-Key"] == f"crm-message-{message.pk}"
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT and message.attempts == 1


def test_webhook_server_error_is_recorded_and_retried_then_succeeds(settings, webhook_server, make_player):
    # given a mail service answering 503
    _use_webhook(settings, webhook_server["url"])
    webhook_server["state"]["status"] = 503
    message = message_queue(player=make_player(), channel="in_game", body="hi", source="test:2")
    now = timezone.now()
    # when delivered: it fails and is scheduled again with backoff
    assert messages_deliver_due(now=now)["retrying"] == 1
    message.refresh_from_db()
    assert message.status == MessageStatus.QUEUED and message.attempts == 1
    assert message.scheduled_for == now + timezone.timedelta(seconds=settings.CRM_MESSAGE_RETRY_BASE_SECONDS)
    # the gateway's own words for a supervisor; the reason in the reader's language and local time
    assert message.last_error.startswith("HTTP 503") and "UTC" not in message.last_error
    assert message.status_reason == MessageReason.PROVIDER_RETRY
    local = timezone.localtime(now).strftime("%Y-%m-%d %H:%M")
    with translation.override("zh-hans"):
        assert message.status_reason_text.startswith("投递网关未发送：")
        assert "（HTTP 503）。稍后将重试。" in message.status_reason_text
        assert message.status_reason_text.endswith(f"第 1 次尝试：{local}。")
    with translation.override("en"):
        assert message.status_reason_text.startswith("The delivery gateway did not send it: ")
        assert message.status_reason_text.endswith(f"(HTTP 503). It will be tried again. Attempt 1: {local}.")
    # and not before its time
    assert messages_deliver_due(now=now + timezone.timedelta(seconds=1))["sent"] == 0
    # when the service is back
    webhook_server["state"]["status"] = 200
    assert messages_deliver_due(now=message.scheduled_for)["sent"] == 1
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT and message.attempts == 2


def test_webhook_client_error_fails_at_once(settings, webhook_server, make_player):
    _use_webhook(settings, webhook_server["url"])
    webhook_server["state"]["status"] = 400
    message = message_queue(player=make_player(), channel="in_game", body="hi", source="test:3")
    assert messages_deliver_due()["failed"] == 1
    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED and message.last_error.startswith("HTTP 400")
    with translation.override("zh-hans"):
        assert message.status_reason_text.startswith(
            "投递网关拒绝发送：Bad Request（HTTP 400）。未发送。 第 1 次尝试："
        )


def test_unreachable_webhook_fails_after_the_attempt_limit(settings, make_player):
    # given a URL nobody listens on
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    _use_webhook(settings, f"http://127.0.0.1:{port}/")
    settings.CRM_MESSAGE_MAX_ATTEMPTS = 3
    message = message_queue(player=make_player(), channel="in_game", body="hi", source="test:4")
    now = timezone.now()
    outcomes = []
    for _ in range(3):
        message.refresh_from_db()
        now = max(now, message.scheduled_for)
        outcomes.append(next(k for k, v in messages_deliver_due(now=now).items() if v))
    message.refresh_from_db()
    assert outcomes == ["retrying", "retrying", "failed"]
    assert message.status == MessageStatus.FAILED and message.attempts == 3
    assert message.status_reason == MessageReason.PROVIDER_REFUSED  # no attempt left
    assert "refused" in message.last_error.lower()  # the socket's own words
    with translation.override("zh-hans"):
        assert "无法连接服务商：未发送任何内容（unreachable）" in message.status_reason_text
        assert "第 3 次尝试：" in message.status_reason_text


def test_sms_without_phone_fails_permanently(settings, webhook_server, make_player):
    _use_webhook(settings, webhook_server["url"], channel="sms")
    message_queue(player=make_player(), channel="sms", body="hi", source="test:5")
    assert messages_deliver_due()["failed"] == 1
    assert webhook_server["received"] == []


def test_backend_for_reads_settings(settings):
    settings.CRM_MESSAGE_BACKENDS = {
        "sms": {"BACKEND": "campaigns.channels.WebhookBackend", "OPTIONS": {"url": "http://x", "secret": "s"}}
    }
    backend = backend_for("sms")
    assert isinstance(backend, WebhookBackend) and backend.options["url"] == "http://x"
    # no fallback: a channel left out of the settings, or not in the registry, is an error
    with pytest.raises(ChannelNotConfigured):
        backend_for("in_game")
    with pytest.raises(ChannelNotConfigured):
        backend_for("pigeon")


def test_settings_are_built_from_the_registry_and_console_only_by_choice():
    env = environ.Env()
    with mock.patch.dict(os.environ, {"CRM_SMS_BACKEND": "webhook"}, clear=False):
        for name in ("CRM_IN_GAME_BACKEND", "CRM_EMAIL_BACKEND", "CRM_WECHAT_BACKEND"):
            os.environ.pop(name, None)
        backends = message_backends_setting(env)
    assert set(backends) == {"sms", "email"} <= set(MESSAGE_CHANNELS)
    assert backends["sms"]["BACKEND"] == "campaigns.channels.WebhookBackend"
    assert backends["email"]["BACKEND"] == "campaigns.channels.EmailBackend"
    assert dict(message_channel_choices()).keys() == set(MESSAGE_CHANNELS)


def test_an_unconfigured_channel_fails_the_message_with_a_reason_a_supervisor_reads(settings, make_player):
    # given in-game mail without a delivery backend (and no quiet hours, whatever the time CI runs at)
    settings.CRM_MESSAGE_BACKENDS = {k: v for k, v in settings.CRM_MESSAGE_BACKENDS.items() if k != "in_game"}
    settings.CRM_QUIET_HOURS = ("00:00", "00:00")
    player = make_player()
    message = message_queue(player=player, channel="in_game", body="生日快乐", source="test:unconfigured")

    # when delivery runs
    counts = messages_deliver_due()

    # then the message failed, nothing was logged as sent, and the reason reads in English and Chinese
    message.refresh_from_db()
    assert counts["failed"] == 1 and counts["sent"] == 0
    assert message.status == "failed" and not ContactLog.objects.filter(player=player).exists()
    with translation.override("en"):
        assert "No delivery backend is configured for the channel In-game" in message.status_reason_text
    with translation.override("zh-hans"):
        assert "渠道 游戏内 未配置" in message.status_reason_text and "in_game" not in message.status_reason_text
    # and the system check warns about it
    assert [w.id for w in _check_message_channels(None)] == ["campaigns.W001"]


def test_webhook_without_configuration_is_a_delivery_error(make_player):
    message = Message(player=make_player(), channel="in_game", body="x", pk=1)
    with pytest.raises(DeliveryError):
        WebhookBackend(channel="in_game").send(message)


def test_email_through_a_real_local_smtp_server(settings, make_player):
    # given a real SMTP server (aiosmtpd) on a free local port
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Sink

    class Recorder(Sink):
        def __init__(self):
            self.envelopes = []

        async def handle_DATA(self, server, session, envelope):
            self.envelopes.append(envelope)
            return "250 OK"

    handler = Recorder()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
        settings.DEFAULT_FROM_EMAIL = "vip@crm.example"
        settings.CRM_QUIET_HOURS = ("00:00", "00:00")
        player = make_player(email="whale@example.com")
        message_queue(player=player, channel="email", subject="想你了", body="回来看看吧", source="test:mail")
        # when
        counts = messages_deliver_due()
    finally:
        controller.stop()
    # then the SMTP server received it
    assert counts["sent"] == 1
    (envelope,) = handler.envelopes
    assert envelope.mail_from == "vip@crm.example" and envelope.rcpt_tos == ["whale@example.com"]
    assert "X-CRM-Message-Id" in envelope.content.decode()


def test_email_without_address_fails_permanently(settings, make_player):
    settings.CRM_QUIET_HOURS = ("00:00", "00:00")
    message = message_queue(player=make_player(email=""), channel="email", body="x", source="test:noaddr")
    assert messages_deliver_due()["failed"] == 1
    message.refresh_from_db()
    assert message.status_reason == MessageReason.NO_EMAIL and message.last_error == ""
    with translation.override("zh-hans"):
        assert message.status_reason_text.startswith("玩家没有电子邮箱地址。 第 1 次尝试：")


def test_a_backend_that_crashes_is_retried_with_a_reason_and_its_words_kept(settings, make_player):
    # given a backend with a bug
    settings.CRM_QUIET_HOURS = ("00:00", "00:00")
    message = message_queue(player=make_player(), channel="email", body="x", source="test:crash")
    with mock.patch("campaigns.channels.EmailBackend.send", side_effect=KeyError("template")):
        assert messages_deliver_due()["retrying"] == 1
    message.refresh_from_db()
    assert message.status == MessageStatus.QUEUED and message.status_reason == MessageReason.DELIVERY_ERROR
    assert message.last_error == "KeyError: 'template'"
    with translation.override("zh-hans"):
        assert message.status_reason_text.startswith("渠道 电子邮件 的发送后端意外出错；主管可在该消息上看到其原话。")
