"""WeChat through WeCom (企业微信): a group message to customers (企业群发,
`externalcontact/add_msg_template`) is a task the serving member confirms in WeCom;
only then does it go, and only through that member. So a batch is one member's customers
with one text (one task each, up to 10,000 customers a call), and its messages stay
"sending" with the task's id until the task's results are read back
(`campaigns.services.wecom.wecom_results_read`), which records each customer's result.

WeCom answers a call with an `errcode` (the registry `campaigns.sms_codes`, "wecom": 45009
and 45033, its limits of calls, are retried) and the customers it would not take
(`fail_list`: not this member's customer). A network error leaves the task unknown: its
messages are not sent again automatically (`uncertain`), as for the SMS providers.
"""

from __future__ import annotations

import hashlib

from ..models import MessageReason
from . import ChannelBackend, ChannelNotConfigured, SendResult

MAX_CUSTOMERS = 10_000  # add_msg_template's external_userid list


class WecomBackend(ChannelBackend):
    provider = "wecom"
    batch_size = MAX_CUSTOMERS
    required = ("corp_id", "secret")

    def __init__(self, *, channel: str, **options):
        super().__init__(channel=channel, **options)
        missing = [name for name in self.required if not options.get(name)]
        if missing:
            raise ChannelNotConfigured(
                f"The WeCom backend of channel {channel!r} needs "
                + ", ".join(f"CRM_WECOM_{name.upper()}" for name in missing)
                + "."
            )

    def _contact(self, message):
        from ..models import WecomContact

        cache = self.__dict__.setdefault("_contacts", {})
        if message.player_id not in cache:
            cache[message.player_id] = (
                WecomContact.objects.select_related("member", "member__user")
                .filter(player_id=message.player_id)
                .first()
            )
        return cache[message.player_id]

    def batch_group(self, message) -> str:
        """One task per member and text."""
        contact = self._contact(message)
        member = contact.member.userid if contact and contact.member else ""
        return f"{member}|{hashlib.sha1(message.body.encode()).hexdigest()}"

    def batch_key(self, message) -> str:
        contact = self._contact(message)
        return contact.external_userid if contact else f"none:{message.pk}"

    def send_batch(self, messages, handle):
        from wechatpy.exceptions import WeChatClientException

        from ..services.wecom import wecom_task_record
        from ..wecom_client import wecom_client, wecom_error_code

        results, sendable = [], []
        for message in messages:
            contact = self._contact(message)
            if contact is None or contact.member is None:
                results.append(
                    SendResult(
                        message.pk,
                        "failed",
                        reason=MessageReason.WECOM_NOT_LINKED,
                    )
                )
            else:
                sendable.append((message, contact))
        if not sendable:
            return results
        member = sendable[0][1].member
        body = sendable[0][0].body
        try:
            answer = wecom_client(self.options).external_contact.add_msg_template(
                {
                    "chat_type": "single",
                    "external_userid": [contact.external_userid for _message, contact in sendable],
                    "sender": member.userid,
                    "text": {"content": body},
                }
            )
        except WeChatClientException as exc:
            code = wecom_error_code(exc)
            if code:
                return results + [self._refused(message, code, str(exc.errmsg or "")) for message, _c in sendable]
            return results + [self._unknown(message, exc) for message, _c in sendable]
        except Exception as exc:  # requests' errors: whether WeCom has the task is unknown
            return results + [self._unknown(message, exc) for message, _c in sendable]
        refused = set(answer.get("fail_list") or [])
        msgid = str(answer.get("msgid") or "")
        who = _member_name(member)
        taken = []
        for message, contact in sendable:
            if contact.external_userid in refused or not msgid:
                results.append(
                    SendResult(
                        message.pk,
                        "failed",
                        reason=MessageReason.WECOM_NOT_CUSTOMER,
                        params={"member": who},
                        error=f"fail_list {contact.external_userid}" if msgid else "no msgid",
                    )
                )
            else:
                taken.append(message)
                results.append(
                    SendResult(
                        message.pk,
                        "task",
                        provider_ref=msgid,
                        reason=MessageReason.WECOM_WAITING,
                        params={"member": who},
                    )
                )
        if msgid:
            wecom_task_record(msgid=msgid, member=member, messages=taken, customers=len(sendable), refused=len(refused))
        return results

    def _refused(self, message, code: str, detail: str) -> SendResult:
        from ..sms_codes import FAIL, code_outcome

        outcome = code_outcome(self.provider, code)
        return SendResult(
            message.pk,
            "failed" if outcome == FAIL else "retry",
            reason=MessageReason.PROVIDER_REFUSED if outcome == FAIL else MessageReason.PROVIDER_RETRY,
            params={"provider": self.provider, "code": code[:64], "detail": detail[:200]},
            error=f"{code} {detail}".strip(),
        )

    def _unknown(self, message, exc) -> SendResult:
        import requests

        detail = f"{exc.__class__.__name__}: {exc}"
        if isinstance(exc, requests.exceptions.ConnectionError) and not isinstance(
            exc, requests.exceptions.ReadTimeout
        ):
            text = str(exc)
            if "Read timed out" not in text and "RemoteDisconnected" not in text and "reset" not in text:
                return SendResult(
                    message.pk,
                    "retry",
                    reason=MessageReason.PROVIDER_RETRY,
                    params={"provider": self.provider, "code": "unreachable"},
                    error=detail,
                )
        return SendResult(message.pk, "uncertain", reason=MessageReason.WECOM_UNCERTAIN, error=detail)


def _member_name(member) -> str:
    from crm.names import staff_name

    return staff_name(member.user) or member.userid
