"""Delivery channels for automatic messages: a small backend interface.

A backend has one method, `send(message)`, which delivers one `campaigns.Message` or
raises `DeliveryError` (with `permanent=True` when retrying cannot help, e.g. no email
address). Which backend serves which channel (sms, in_game, email) is a setting,
`CRM_MESSAGE_BACKENDS`, built from the channel registry (`crm.channels`) and the
environment (README, "Configuration"):

    CRM_MESSAGE_BACKENDS = {
        "sms": {"BACKEND": "campaigns.channels.WebhookBackend",
                "OPTIONS": {"url": "https://sms.example.com/send", "secret": "...", "timeout": 10}},
        "in_game": {"BACKEND": "campaigns.channels.ConsoleBackend"},  # the demo only
        "email": {"BACKEND": "campaigns.channels.EmailBackend"},
    }

Backends only deliver. Recording the attempt, retrying with backoff, the fatigue rules and
writing the contact log for every message sent (whichever backend sent it) belong to
`campaigns.services.messaging.messages_deliver_due`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field

from django.conf import settings
from django.core import mail
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from crm.channels import MESSAGE_BACKEND_CHANNELS, MESSAGE_CHANNELS

from ..sms_codes import UNREACHABLE

logger = logging.getLogger("campaigns.messages")

SIGNATURE_HEADER = "X-CRM-Signature"


class DeliveryError(Exception):
    """A message could not be delivered. `permanent` means retrying cannot help.

    Its text is the provider's (or library's) own words, kept for a supervisor
    (`Message.last_error`); `reason` is the `MessageReason` code a person reads, in their
    language, with its `params` (`Message.status_reason_text`)."""

    def __init__(self, message: str, *, permanent: bool = False, reason: str = "", params: dict | None = None):
        super().__init__(message)
        self.permanent = permanent
        self.reason = reason
        self.params = params or {}


def _reasons():
    from ..models import MessageReason  # at send time: this module loads before the apps do

    return MessageReason


def signature_header(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """`t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`: the scheme of our API (API.md)."""
    t = int(time.time()) if timestamp is None else int(timestamp)
    digest = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def signature_verify(secret: str, body: bytes, header: str, *, tolerance: int = 300, now: float | None = None) -> bool:
    """Check a signature header made by `signature_header` (constant-time, timestamp within tolerance)."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        t = int(parts["t"])
        given = parts["v1"]
    except (ValueError, KeyError, AttributeError):
        return False
    if abs((time.time() if now is None else now) - t) > tolerance:
        return False
    expected = signature_header(secret, body, t).split("v1=", 1)[1]
    return hmac.compare_digest(expected, given)


@dataclass
class SendResult:
    """What a provider made of one message of a batch (`ChannelBackend.send_batch`).

    `outcome`: "sent" (accepted; `provider_ref` is the provider's id for its receipt),
    "retry" (not sent; safe to send again later), "failed" (not sent; sending again
    cannot help) or "uncertain" (the provider may have it: the call went out and no
    answer came back; never sent again automatically, as the provider is not
    idempotent). `reason` is a `MessageReason` code with its `params`; `error` the
    provider's own words for the log."""

    message_id: int
    outcome: str
    provider_ref: str = ""
    reason: str = ""
    params: dict = field(default_factory=dict)
    error: str = ""


class ChannelBackend:
    """Base class: `send(message)` delivers or raises DeliveryError.

    A provider that takes many messages a call sets `batch_size` above 1 and implements
    `send_batch(messages, handle)`; delivery then hands it claimed messages (status
    sending) in batches of that size, never two messages to one address in a batch."""

    batch_size = 1

    def __init__(self, *, channel: str, **options):
        self.channel = channel
        self.options = options

    def send(self, message) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def send_batch(self, messages: list, handle: str) -> list[SendResult]:  # pragma: no cover - interface
        """Send claimed messages in one provider call; `handle` (our message ids) is the
        batch's idempotency handle, echoed by the provider. One result per message."""
        raise NotImplementedError

    def batch_key(self, message) -> str:
        """The address a batch may hold once (a phone number)."""
        return str(message.pk)

    def batch_group(self, message) -> str:
        """Messages of one group may share a batch (e.g. one template per call)."""
        return ""


@dataclass
class Receipt:
    """A provider's delivery receipt for one message: found by the provider's id
    (`provider_ref`) or our batch handle (`batch`), and the phone it went to."""

    provider: str
    phone: str
    delivered: bool
    provider_ref: str = ""
    batch: str = ""
    code: str = ""
    detail: str = ""
    at: object = None  # an aware datetime, when the phone got it (or the report came)


class ConsoleBackend(ChannelBackend):
    """Writes the message to the log (console): for the demo and tests, where chosen
    explicitly (CRM_<CHANNEL>_BACKEND=console); nothing leaves the building."""

    def send(self, message) -> None:
        player = message.player
        logger.info(
            "message %s via %s to %s (%s): %s%s",
            message.pk,
            message.channel,
            player.account_id,
            player.server or "-",
            f"[{message.subject}] " if message.subject else "",
            message.body,
        )


class EmailBackend(ChannelBackend):
    """Email through Django's email framework (EMAIL_URL: SMTP in production).

    Options: `from_email` (default DEFAULT_FROM_EMAIL), `backend` (a Django email backend
    path, default EMAIL_BACKEND)."""

    def send(self, message) -> None:
        reasons = _reasons()
        address = message.player.email
        if not address:
            raise DeliveryError("", permanent=True, reason=reasons.NO_EMAIL)
        connection = mail.get_connection(backend=self.options.get("backend"), fail_silently=False)
        email = mail.EmailMessage(
            subject=message.subject or "",
            body=message.body,
            from_email=self.options.get("from_email") or settings.DEFAULT_FROM_EMAIL,
            to=[address],
            headers={"X-CRM-Message-Id": str(message.pk)},
            connection=connection,
        )
        try:
            sent = email.send()
        except Exception as exc:  # smtplib, socket and backend errors alike
            detail = f"{exc.__class__.__name__}: {exc}"
            raise DeliveryError(
                detail,
                reason=reasons.PROVIDER_RETRY,
                params={"provider": "email", "code": exc.__class__.__name__[:64], "detail": str(exc)[:200]},
            )
        if not sent:
            raise DeliveryError("", reason=reasons.PROVIDER_RETRY, params={"provider": "email", "code": ""})


class WebhookBackend(ChannelBackend):
    """POSTs signed JSON to a URL (the game's mail service, an SMS gateway).

    Options: `url`, `secret` (required), `timeout` seconds (default 10). The body is
    JSON; the `X-CRM-Signature` header signs it as our API does; `Idempotency-Key`
    lets the receiver drop a retry of a message it already has. A 2xx answer is
    success; 4xx (other than 408 and 429) is permanent; anything else is retried.
    """

    def payload(self, message) -> dict:
        player = message.player
        data = {
            "message_id": message.pk,
            "channel": message.channel,
            "account_id": player.account_id,
            "server": player.server,
            "subject": message.subject,
            "body": message.body,
            "source": message.source,
            "is_marketing": message.is_marketing,
        }
        # The gateway needs the address for these channels, and only these.
        if message.channel == "sms":
            data["phone"] = str(player.phone) if player.phone else ""
        if message.channel == "email":
            data["email"] = player.email
        return data

    def send(self, message) -> None:
        reasons = _reasons()
        url = self.options.get("url")
        secret = self.options.get("secret")
        if not url or not secret:
            raise DeliveryError(
                "url and secret missing", reason=reasons.CHANNEL_NOT_CONFIGURED, params={"channel": self.channel}
            )
        data = self.payload(message)
        if message.channel == "sms" and not data["phone"]:
            raise DeliveryError("", permanent=True, reason=reasons.NO_PHONE)
        body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
        request = urllib.request.Request(
            url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                SIGNATURE_HEADER: signature_header(secret, body),
                "Idempotency-Key": f"crm-message-{message.pk}",
                "User-Agent": "vip-crm",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=float(self.options.get("timeout", 10))) as response:
                response.read(1024)
        except urllib.error.HTTPError as exc:
            permanent = 400 <= exc.code < 500 and exc.code not in (408, 429)
            detail = str(exc.reason or "")[:200]
            raise DeliveryError(
                f"HTTP {exc.code} {detail}".strip(),
                permanent=permanent,
                reason=reasons.PROVIDER_REFUSED if permanent else reasons.PROVIDER_RETRY,
                params={"provider": "webhook", "code": f"HTTP {exc.code}", "detail": detail},
            )
        except (urllib.error.URLError, OSError) as exc:
            raise DeliveryError(
                str(getattr(exc, "reason", exc)),
                reason=reasons.PROVIDER_RETRY,
                params={"provider": "webhook", "code": UNREACHABLE},
            )


class ChannelNotConfigured(ImproperlyConfigured):
    """A message's channel is not a message channel of the registry, or has no backend."""


def backend_for(channel: str) -> ChannelBackend:
    """The configured backend for a channel (settings.CRM_MESSAGE_BACKENDS, built from
    the registry `crm.channels.MESSAGE_CHANNELS`). An unknown or unconfigured channel
    raises ChannelNotConfigured: no fallback delivers it."""
    if channel not in MESSAGE_CHANNELS:
        raise ChannelNotConfigured(f"{channel!r} is not a message channel (crm.channels.MESSAGE_CHANNELS).")
    config = getattr(settings, "CRM_MESSAGE_BACKENDS", {}).get(channel)
    if config is None:
        raise ChannelNotConfigured(
            f"No delivery backend is configured for channel {channel!r}: set CRM_{channel.upper()}_BACKEND."
        )
    try:
        backend_class = import_string(config["BACKEND"])
    except (ImportError, KeyError) as exc:
        raise ChannelNotConfigured(f"CRM_MESSAGE_BACKENDS[{channel!r}]: {exc}")
    serves = MESSAGE_BACKEND_CHANNELS.get(config["BACKEND"])
    if serves is not None and channel not in serves:
        raise ChannelNotConfigured(f"{config['BACKEND']} delivers only {', '.join(serves)}, not {channel!r}.")
    if config["BACKEND"] == MESSAGE_BACKENDS_CONSOLE and not getattr(settings, "CRM_CONSOLE_BACKEND_ALLOWED", False):
        # The console only logs: in production it would report "sent" for what nobody got.
        raise ChannelNotConfigured(
            f"The console backend (log only) serves channel {channel!r} outside development: "
            "configure a real backend, or DEBUG=true for a demo."
        )
    return backend_class(channel=channel, **config.get("OPTIONS", {}))


def unconfigured_channels() -> list[str]:
    """Message channels without a usable delivery backend (for `manage.py check`)."""
    unusable = []
    for channel in MESSAGE_CHANNELS:
        try:
            backend_for(channel)
        except ChannelNotConfigured:
            unusable.append(channel)
    return unusable


MESSAGE_BACKENDS_CONSOLE = "campaigns.channels.ConsoleBackend"
