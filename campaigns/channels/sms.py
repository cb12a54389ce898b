"""What the SMS providers' backends share: their options, the number each is sent to,
templates per purpose, and turning a provider's answer into results per message.

A provider is not idempotent: a request it received sends its messages, whatever
happens to the answer. So the backends tell apart an error *before* the request could
reach the provider (nothing sent: retry), an answer with an error code (the registry
`campaigns.sms_codes` says retry or fail), and no answer after the request went out
(uncertain: never sent again automatically; the receipt settles it).
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from ..models import MessageReason
from ..sms_codes import FAIL, UNREACHABLE, code_outcome
from . import ChannelBackend, ChannelNotConfigured, SendResult

PROVIDER_ZONE = ZoneInfo("Asia/Shanghai")  # both providers' receipts give Beijing time


def beijing_time(value) -> datetime | None:
    """A receipt's 'YYYY-MM-DD hh:mm:ss' in Beijing time, aware; None when unreadable."""
    try:
        return datetime.strptime(str(value), "%Y-%m-%d %H:%M:%S").replace(tzinfo=PROVIDER_ZONE)
    except (TypeError, ValueError):
        return None


class SmsProviderBackend(ChannelBackend):
    """Base of the SMS providers' backends. Options (crm/channels.py SMS_PROVIDER_OPTIONS):
    keys, endpoint and protocol, sign name, a template per purpose (marketing, service)."""

    provider = ""
    required: tuple[str, ...] = ()

    def __init__(self, *, channel: str, **options):
        super().__init__(channel=channel, **options)
        missing = [name for name in self.required if not options.get(name)]
        if missing:
            raise ChannelNotConfigured(
                f"The {self.provider} SMS backend of channel {channel!r} needs "
                + ", ".join(f"CRM_{self.provider.upper()}_SMS_{name.upper()}" for name in missing)
                + "."
            )

    @property
    def timeout(self) -> float:
        return float(self.options.get("timeout") or 10)

    def template(self, message) -> str:
        return self.options["template_marketing" if message.is_marketing else "template_service"]

    def batch_group(self, message) -> str:
        # One template per call: marketing and service messages go in separate batches.
        return "marketing" if message.is_marketing else "service"

    def batch_key(self, message) -> str:
        return self.number(message) or f"none:{message.pk}"

    def number(self, message) -> str:  # pragma: no cover - interface
        raise NotImplementedError

    # --- results ------------------------------------------------------------------

    def split_sendable(self, messages) -> tuple[list, list[SendResult]]:
        """(messages with a number, failed results for those without one)."""
        sendable, results = [], []
        for message in messages:
            if self.number(message):
                sendable.append(message)
            else:
                results.append(
                    SendResult(
                        message.pk,
                        "failed",
                        reason=MessageReason.NO_PHONE,
                    )
                )
        return sendable, results

    def sent(self, message, provider_ref: str) -> SendResult:
        return SendResult(message.pk, "sent", provider_ref=provider_ref or "")

    def refused(self, message, code: str, detail: str) -> SendResult:
        """The provider answered with an error code: retry or fail, by the registry."""
        outcome = code_outcome(self.provider, code)
        return SendResult(
            message.pk,
            "failed" if outcome == FAIL else "retry",
            reason=MessageReason.PROVIDER_REFUSED if outcome == FAIL else MessageReason.PROVIDER_RETRY,
            params={"provider": self.provider, "code": code[:64], "detail": (detail or "")[:200]},
            error=f"{code} {detail or ''}".strip(),
        )

    def unreached(self, message, detail: str) -> SendResult:
        """The request never reached the provider (refused connection, bad address):
        nothing was sent, so sending again is safe."""
        return SendResult(
            message.pk,
            "retry",
            reason=MessageReason.PROVIDER_RETRY,
            params={"provider": self.provider, "code": UNREACHABLE},
            error=detail,
        )

    def uncertain(self, message, detail: str) -> SendResult:
        return SendResult(
            message.pk,
            "uncertain",
            reason=MessageReason.PROVIDER_UNCERTAIN,
            params={"provider": self.provider},
            error=detail,
        )
