"""SMS through Aliyun (dysmsapi 2017-05-25, SendBatchSms), with its official SDK
(alibabacloud-dysmsapi20170525), which signs the request.

SendBatchSms takes at most 100 numbers a call, each with its own template parameters
(so a personalised campaign still goes 100 a call), one template per call. It answers
for the whole call (Code, BizId) and is not idempotent. Our batch handle (made of our
message ids) goes as OutId; the receipts (SmsReport, "HTTP batch push") carry biz_id,
out_id and the phone number.
"""

from __future__ import annotations

import json

from . import Receipt
from .sms import SmsProviderBackend, beijing_time


class AliyunSmsBackend(SmsProviderBackend):
    provider = "aliyun"
    batch_size = 100
    required = ("access_key_id", "access_key_secret", "sign_name", "template_marketing", "template_service")

    def number(self, message) -> str:
        """Mainland numbers as 11 digits, others as country code and number (Aliyun's form)."""
        phone = message.player.phone
        if not phone:
            return ""
        national = str(phone.national_number)
        return national if phone.country_code == 86 else f"{phone.country_code}{national}"

    def client(self):
        from alibabacloud_dysmsapi20170525.client import Client
        from alibabacloud_tea_openapi import models as open_api_models

        config = open_api_models.Config(
            access_key_id=self.options["access_key_id"],
            access_key_secret=self.options["access_key_secret"],
            endpoint=self.options.get("endpoint") or "dysmsapi.aliyuncs.com",
            protocol=self.options.get("protocol") or "https",
            connect_timeout=int(self.timeout * 1000),
            read_timeout=int(self.timeout * 1000),
        )
        return Client(config)

    def send_batch(self, messages, handle):
        from alibabacloud_dysmsapi20170525 import models
        from darabonba.runtime import RuntimeOptions

        sendable, results = self.split_sendable(messages)
        if not sendable:
            return results
        param = self.options.get("template_param") or ""
        request = models.SendBatchSmsRequest(
            phone_number_json=json.dumps([self.number(m) for m in sendable]),
            sign_name_json=json.dumps([self.options["sign_name"]] * len(sendable), ensure_ascii=False),
            template_code=self.template(sendable[0]),
            template_param_json=json.dumps([{param: m.body} if param else {} for m in sendable], ensure_ascii=False),
            out_id=handle,
        )
        # No retry inside the SDK: a repeated call would send twice.
        runtime = RuntimeOptions(
            autoretry=False,
            max_attempts=0,
            connect_timeout=int(self.timeout * 1000),
            read_timeout=int(self.timeout * 1000),
        )
        try:
            response = self.client().send_batch_sms_with_options(request, runtime)
        except Exception as exc:  # the SDK's errors: an answer with a code, or none
            code = getattr(exc, "code", None)
            data = getattr(exc, "data", None)
            detail = str((data or {}).get("Message") if isinstance(data, dict) else "") or str(
                getattr(exc, "message", "") or exc
            )
            if code and _answered(exc):
                return results + [self.refused(m, str(code), detail) for m in sendable]
            fate = self.unreached if _never_sent(exc) else self.uncertain
            return results + [fate(m, detail) for m in sendable]
        body = response.body
        if (body.code or "") == "OK":
            return results + [self.sent(m, body.biz_id or "") for m in sendable]
        return results + [self.refused(m, body.code or "", body.message or "") for m in sendable]


def _answered(exc) -> bool:
    """Whether the SDK's error is the provider's answer (an HTTP error status with a code:
    the SDK's ClientException, ServerException, ThrottlingException)."""
    return bool(getattr(exc, "status_code", None))


def _never_sent(exc) -> bool:
    """Whether a network error happened before the request could reach the provider."""
    import requests

    seen = set()
    cause = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, (requests.exceptions.ReadTimeout, requests.exceptions.ChunkedEncodingError)):
            return False
        if isinstance(cause, requests.exceptions.ConnectionError):
            text = str(cause)
            return "Read timed out" not in text and "RemoteDisconnected" not in text and "reset" not in text
        cause = getattr(cause, "inner_exception", None) or cause.__cause__ or cause.__context__
    return False


def parse_receipts(payload) -> list[Receipt]:
    """Aliyun's SmsReport push: a JSON list of {phone_number, send_time, report_time,
    success, err_code, err_msg, sms_size, biz_id, out_id}. Items that are not receipts
    are skipped."""
    receipts = []
    for item in payload if isinstance(payload, list) else []:
        if not isinstance(item, dict) or not item.get("phone_number"):
            continue
        if not item.get("biz_id") and not item.get("out_id"):
            continue
        receipts.append(
            Receipt(
                provider="aliyun",
                phone=str(item["phone_number"]),
                delivered=item.get("success") is True or str(item.get("success")).lower() == "true",
                provider_ref=str(item.get("biz_id") or "")[:64],
                batch=str(item.get("out_id") or "")[:40],
                code=str(item.get("err_code") or "")[:64],
                detail=str(item.get("err_msg") or "")[:200],
                at=beijing_time(item.get("report_time")),
            )
        )
    return receipts


RECEIPT_ACK = {"code": 0, "msg": "接收成功"}
