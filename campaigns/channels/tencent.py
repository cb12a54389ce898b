"""SMS through Tencent Cloud (SendSms, API 2021-01-11), with its official SDK
(tencentcloud-sdk-python-sms), signed TC3-HMAC-SHA256.

SendSms takes at most 200 numbers a request and one set of template parameters for
all of them, so a batch holds messages of one purpose and one text (a personalised
campaign goes out one number a request). It answers per number (Code, SerialNo) and
echoes our SessionContext, the batch handle made of our message ids. The receipts
(the "SMS sending status" callback) carry the SerialNo as `sid`.
"""

from __future__ import annotations

import hashlib

from . import Receipt
from .sms import SmsProviderBackend, beijing_time


class TencentSmsBackend(SmsProviderBackend):
    provider = "tencent"
    batch_size = 200
    required = ("secret_id", "secret_key", "sdk_app_id", "sign_name", "template_marketing", "template_service")

    def number(self, message) -> str:
        phone = message.player.phone
        return phone.as_e164 if phone else ""

    def batch_group(self, message) -> str:
        # One TemplateParamSet a request: the same text for every number of a batch.
        digest = hashlib.sha256(message.body.encode()).hexdigest()[:16]
        return f"{super().batch_group(message)}:{digest}"

    def client(self):
        from tencentcloud.common import credential
        from tencentcloud.common.profile.client_profile import ClientProfile
        from tencentcloud.common.profile.http_profile import HttpProfile
        from tencentcloud.sms.v20210111 import sms_client

        http = HttpProfile(
            protocol=self.options.get("protocol") or "https",
            endpoint=self.options.get("endpoint") or "sms.tencentcloudapi.com",
            reqTimeout=self.timeout,
        )
        profile = ClientProfile(signMethod="TC3-HMAC-SHA256", httpProfile=http)
        profile.disable_region_breaker = True  # one endpoint, and its errors raised, never swallowed
        cred = credential.Credential(self.options["secret_id"], self.options["secret_key"])
        return sms_client.SmsClient(cred, self.options.get("region") or "ap-guangzhou", profile)

    def send_batch(self, messages, handle):
        from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
        from tencentcloud.sms.v20210111 import models

        sendable, results = self.split_sendable(messages)
        if not sendable:
            return results
        request = models.SendSmsRequest()
        request.PhoneNumberSet = [self.number(m) for m in sendable]
        request.SmsSdkAppId = self.options["sdk_app_id"]
        request.SignName = self.options["sign_name"]
        request.TemplateId = self.template(sendable[0])
        request.TemplateParamSet = [sendable[0].body]
        request.SessionContext = handle
        try:
            response = self.client().SendSms(request)
        except TencentCloudSDKException as exc:
            code, detail = exc.get_code() or "", exc.get_message() or ""
            if code == "ClientNetworkError":
                fate = self.unreached if _never_sent(exc) else self.uncertain
                return results + [fate(m, detail) for m in sendable]
            if code == "ServerNetworkError":  # an HTTP error status: it may have gone through
                return results + [self.uncertain(m, f"{code}: {detail}"[:300]) for m in sendable]
            return results + [self.refused(m, code, detail) for m in sendable]
        by_number = {status.PhoneNumber: status for status in response.SendStatusSet or []}
        for message in sendable:
            status = by_number.get(self.number(message))
            if status is None:
                results.append(self.uncertain(message, "no status for this number in the answer"))
            elif status.Code == "Ok":
                results.append(self.sent(message, status.SerialNo))
            else:
                results.append(self.refused(message, status.Code or "", status.Message or ""))
        return results


def _never_sent(exc) -> bool:
    """Whether the SDK's network error happened before the request could reach the
    provider (a refused connection, an unknown host), not while waiting for its answer."""
    import requests

    cause = exc.__cause__ or exc.__context__
    while cause is not None:
        if isinstance(cause, (requests.exceptions.ReadTimeout, requests.exceptions.ChunkedEncodingError)):
            return False
        if isinstance(cause, requests.exceptions.ConnectionError):
            text = str(cause)
            return "Read timed out" not in text and "RemoteDisconnected" not in text and "reset" not in text
        cause = cause.__cause__ or cause.__context__
    return False


def parse_receipts(payload) -> list[Receipt]:
    """Tencent's status callback: a JSON list of {user_receive_time, nationcode, mobile,
    report_status SUCCESS|FAIL, errmsg, description, sid}. Items that are not receipts
    are skipped."""
    receipts = []
    for item in payload if isinstance(payload, list) else []:
        if not isinstance(item, dict) or not item.get("sid") or not item.get("mobile"):
            continue
        nation = str(item.get("nationcode") or "86")
        mobile = str(item["mobile"])
        receipts.append(
            Receipt(
                provider="tencent",
                phone=mobile if nation == "86" else f"{nation}{mobile}",
                delivered=str(item.get("report_status", "")).upper() == "SUCCESS",
                provider_ref=str(item["sid"])[:64],
                code=str(item.get("errmsg") or "")[:64],
                detail=str(item.get("description") or "")[:200],
                at=beijing_time(item.get("user_receive_time")),
            )
        )
    return receipts


RECEIPT_ACK = {"result": 0, "errmsg": "OK"}
