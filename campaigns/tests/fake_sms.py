"""Local fakes of the SMS providers' HTTP APIs, on 127.0.0.1, for the providers' own SDKs
to talk to: each checks the request's signature as the provider documents it (written
here from the documentation, not taken from the SDK), holds the provider's batch limit,
answers with the provider's success and error shapes, and makes the delivery receipts
the provider would push to us.

- Aliyun dysmsapi 2017-05-25 SendBatchSms, signed ACS3-HMAC-SHA256 (the "V3 request
  structure and signature"): at most 100 numbers; one Code and BizId for the call.
- Tencent Cloud SMS 2021-01-11 SendSms, signed TC3-HMAC-SHA256: at most 200 numbers;
  a SendStatus (Code, SerialNo, SessionContext echoed) per number.

`errors` set what the fake answers: a code for the whole call, or per number (Tencent);
`hang` makes it take the request and never answer in time (the case where the provider
has the message but we do not know it).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import urllib.parse
import urllib.request
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from zoneinfo import ZoneInfo

from .fake_server import LoopbackServer

BEIJING = ZoneInfo("Asia/Shanghai")  # receipts give the provider's local time


class FakeProvider(LoopbackServer):
    name = ""

    def __init__(self, *, key_id: str, secret: str):
        self.key_id, self.secret = key_id, secret
        self.requests: list[dict] = []  # every request that passed the signature check
        self.refused: list[str] = []  # why requests were refused (signature, limits)
        self.sent: list[dict] = []  # every number a message went to: {phone, text, ref, batch}
        self.error: tuple[str, str] | None = None  # (code, message) for the whole next calls
        self.number_errors: dict[str, tuple[str, str]] = {}  # phone -> (code, message)
        self.hang = 0.0  # seconds to sleep before answering
        self.http_status = 200
        self._lock = threading.Lock()
        self._listen()

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, answer = fake.handle(self.command, self.path, dict(self.headers.items()), body)
                if fake.hang:
                    time.sleep(fake.hang)
                data = json.dumps(answer, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        return Handler

    def handle(self, method, path, headers, body) -> tuple[int, dict]:  # pragma: no cover - interface
        raise NotImplementedError

    def push_receipts(self, url: str, receipts: list[dict]) -> dict:
        """POST receipts to our endpoint as the provider does (JSON list); returns its answer."""
        request = urllib.request.Request(
            url,
            data=json.dumps(receipts, ensure_ascii=False).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())


def _lower_headers(headers: dict) -> dict:
    return {k.lower(): v.strip() for k, v in headers.items()}


# --- Aliyun ----------------------------------------------------------------------


def _acs_encode(value: str) -> str:
    """RFC 3986 percent-encoding as the V3 signature documents (space %20, * %2A, ~ kept)."""
    return urllib.parse.quote(value, safe="-_.~")


class FakeAliyun(FakeProvider):
    name = "aliyun"
    LIMIT = 100

    def verify(self, method, path, headers, body) -> str:
        """ "" if the request is signed as documented, else why not."""
        h = _lower_headers(headers)
        auth = h.get("authorization", "")
        if not auth.startswith("ACS3-HMAC-SHA256 "):
            return "not ACS3-HMAC-SHA256"
        fields = dict(part.strip().split("=", 1) for part in auth[len("ACS3-HMAC-SHA256 ") :].split(","))
        if fields.get("Credential") != self.key_id:
            return "InvalidAccessKeyId.NotFound"
        signed = fields.get("SignedHeaders", "").split(";")
        if "host" not in signed or "x-acs-date" not in signed or "x-acs-content-sha256" not in signed:
            return "IncompleteSignature"
        if h.get("x-acs-content-sha256") != hashlib.sha256(body).hexdigest():
            return "the body's hash does not match x-acs-content-sha256"
        parsed = urllib.parse.urlsplit(path)
        query = urllib.parse.parse_qsl(parsed.query, keep_blank_values=True)
        canonical_query = "&".join(f"{_acs_encode(k)}={_acs_encode(v)}" for k, v in sorted(query))
        canonical_headers = "".join(f"{name}:{h.get(name, '')}\n" for name in signed)
        canonical_request = "\n".join(
            [
                method,
                parsed.path or "/",
                canonical_query,
                canonical_headers,
                ";".join(signed),
                h["x-acs-content-sha256"],
            ]
        )
        string_to_sign = "ACS3-HMAC-SHA256\n" + hashlib.sha256(canonical_request.encode()).hexdigest()
        expected = hmac.new(self.secret.encode(), string_to_sign.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, fields.get("Signature", "")):
            return "SignatureDoesNotMatch"
        date = datetime.strptime(h.get("x-acs-date", ""), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        if abs((datetime.now(UTC) - date).total_seconds()) > 900:
            return "the request's date is too far from now"
        return ""

    def params(self, path, headers, body) -> dict:
        """The call's parameters: the query, and a form body if any."""
        params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(path).query, keep_blank_values=True))
        if body and "x-www-form-urlencoded" in _lower_headers(headers).get("content-type", ""):
            params.update(urllib.parse.parse_qsl(body.decode(), keep_blank_values=True))
        return params

    def handle(self, method, path, headers, body):
        request_id = str(uuid.uuid4()).upper()
        why = self.verify(method, path, headers, body)
        if why:
            self.refused.append(why)
            code = (
                why
                if why in ("SignatureDoesNotMatch", "InvalidAccessKeyId.NotFound", "IncompleteSignature")
                else ("SignatureDoesNotMatch")
            )
            return 400, {"RequestId": request_id, "Code": code, "Message": why, "HostId": self.endpoint}
        h = _lower_headers(headers)
        if h.get("x-acs-action") != "SendBatchSms" or h.get("x-acs-version") != "2017-05-25":
            return 404, {"RequestId": request_id, "Code": "InvalidAction.NotFound", "Message": "unknown action"}
        params = self.params(path, headers, body)
        with self._lock:
            self.requests.append(params)
            phones = json.loads(params.get("PhoneNumberJson", "[]"))
            signs = json.loads(params.get("SignNameJson", "[]"))
            values = json.loads(params.get("TemplateParamJson", "[]") or "[]")
            if self.http_status != 200:
                return self.http_status, {"RequestId": request_id, "Code": "isp.SYSTEM_ERROR", "Message": "busy"}
            if len(phones) > self.LIMIT:
                self.refused.append("more than 100 numbers")
                return 200, {
                    "RequestId": request_id,
                    "Code": "isv.MOBILE_COUNT_OVER_LIMIT",
                    "Message": "号码数量超过限制",
                }
            if len(signs) != len(phones) or (values and len(values) != len(phones)):
                return 200, {"RequestId": request_id, "Code": "isv.INVALID_JSON_PARAM", "Message": "JSON参数不合法"}
            if self.error:
                code, message = self.error
                return 200, {"RequestId": request_id, "Code": code, "Message": message}
            biz_id = f"{int(time.time())}^{uuid.uuid4().int % 10**10}"
            for phone, value in zip(phones, values or [{}] * len(phones), strict=True):
                self.sent.append(
                    {
                        "phone": phone,
                        "params": value,
                        "template": params.get("TemplateCode"),
                        "ref": biz_id,
                        "batch": params.get("OutId", ""),
                    }
                )
        return 200, {"RequestId": request_id, "Code": "OK", "Message": "OK", "BizId": biz_id}

    def receipts(self, *, failed: dict | None = None) -> list[dict]:
        """The SmsReport push for everything sent (`failed`: phone -> (err_code, err_msg))."""
        failed = failed or {}
        now = datetime.now(BEIJING).strftime("%Y-%m-%d %H:%M:%S")
        return [
            {
                "phone_number": item["phone"],
                "send_time": now,
                "report_time": now,
                "success": item["phone"] not in failed,
                "err_code": failed.get(item["phone"], ("DELIVERED", ""))[0],
                "err_msg": failed.get(item["phone"], ("", "用户接收成功"))[1],
                "sms_size": "1",
                "biz_id": item["ref"],
                "out_id": item["batch"],
            }
            for item in self.sent
        ]


# --- Tencent ---------------------------------------------------------------------


class FakeTencent(FakeProvider):
    name = "tencent"
    LIMIT = 200

    def verify(self, method, path, headers, body) -> str:
        h = _lower_headers(headers)
        auth = h.get("authorization", "")
        if not auth.startswith("TC3-HMAC-SHA256 "):
            return "AuthFailure.SignatureFailure"
        fields = dict(part.strip().split("=", 1) for part in auth[len("TC3-HMAC-SHA256 ") :].split(","))
        try:
            secret_id, date, service, terminator = fields["Credential"].split("/")
        except (KeyError, ValueError):
            return "AuthFailure.SignatureFailure"
        if secret_id != self.key_id:
            return "AuthFailure.SecretIdNotFound"
        timestamp = int(h.get("x-tc-timestamp", "0"))
        if abs(time.time() - timestamp) > 300:
            return "AuthFailure.SignatureExpire"
        if date != datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d") or terminator != "tc3_request":
            return "AuthFailure.SignatureFailure"
        signed = fields.get("SignedHeaders", "").split(";")
        if "host" not in signed or "content-type" not in signed:
            return "AuthFailure.SignatureFailure"
        parsed = urllib.parse.urlsplit(path)
        canonical_headers = "".join(f"{name}:{h.get(name, '').lower()}\n" for name in signed)
        canonical_request = "\n".join(
            [
                method,
                parsed.path or "/",
                parsed.query,
                canonical_headers,
                ";".join(signed),
                hashlib.sha256(body).hexdigest(),
            ]
        )
        scope = f"{date}/{service}/tc3_request"
        string_to_sign = "\n".join(
            ["TC3-HMAC-SHA256", str(timestamp), scope, hashlib.sha256(canonical_request.encode()).hexdigest()]
        )

        def sign(key: bytes, msg: str) -> bytes:
            return hmac.new(key, msg.encode(), hashlib.sha256).digest()

        key = sign(sign(sign(("TC3" + self.secret).encode(), date), service), "tc3_request")
        expected = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
        if service != "sms" or not hmac.compare_digest(expected, fields.get("Signature", "")):
            return "AuthFailure.SignatureFailure"
        return ""

    def handle(self, method, path, headers, body):
        request_id = str(uuid.uuid4())

        def error(code, message):
            return 200, {"Response": {"Error": {"Code": code, "Message": message}, "RequestId": request_id}}

        why = self.verify(method, path, headers, body)
        if why:
            self.refused.append(why)
            return error(why, "The provided credentials could not be validated.")
        h = _lower_headers(headers)
        if h.get("x-tc-action") != "SendSms" or h.get("x-tc-version") != "2021-01-11":
            return error("InvalidAction", "unknown action")
        params = json.loads(body)
        with self._lock:
            self.requests.append(params)
            if self.http_status != 200:
                return self.http_status, {"Response": {"RequestId": request_id}}
            phones = params.get("PhoneNumberSet") or []
            if len(phones) > self.LIMIT:
                self.refused.append("more than 200 numbers")
                return error("LimitExceeded.PhoneNumberCountLimit", "the number of phone numbers exceeds 200")
            if self.error:
                return error(*self.error)
            statuses = []
            for phone in phones:
                if phone in self.number_errors:
                    code, message = self.number_errors[phone]
                    statuses.append(
                        {
                            "SerialNo": "",
                            "PhoneNumber": phone,
                            "Fee": 0,
                            "SessionContext": params.get("SessionContext", ""),
                            "Code": code,
                            "Message": message,
                            "IsoCode": "CN",
                        }
                    )
                    continue
                serial = f"2640:{uuid.uuid4().int % 10**20}"
                self.sent.append(
                    {
                        "phone": phone,
                        "params": params.get("TemplateParamSet"),
                        "template": params.get("TemplateId"),
                        "ref": serial,
                        "batch": params.get("SessionContext", ""),
                    }
                )
                statuses.append(
                    {
                        "SerialNo": serial,
                        "PhoneNumber": phone,
                        "Fee": 1,
                        "SessionContext": params.get("SessionContext", ""),
                        "Code": "Ok",
                        "Message": "send success",
                        "IsoCode": "CN",
                    }
                )
        return 200, {"Response": {"SendStatusSet": statuses, "RequestId": request_id}}

    def receipts(self, *, failed: dict | None = None) -> list[dict]:
        failed = failed or {}
        now = datetime.now(BEIJING).strftime("%Y-%m-%d %H:%M:%S")
        return [
            {
                "user_receive_time": now,
                "nationcode": "86",
                "mobile": item["phone"].removeprefix("+86"),
                "report_status": "FAIL" if item["phone"] in failed else "SUCCESS",
                "errmsg": failed.get(item["phone"], ("DELIVRD", ""))[0],
                "description": failed.get(item["phone"], ("", "用户短信送达成功"))[1],
                "sid": item["ref"],
            }
            for item in self.sent
        ]
