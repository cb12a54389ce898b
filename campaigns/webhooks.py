"""Doors the providers knock on: SMS delivery receipts.

Neither Aliyun's SmsReport push nor Tencent's status callback signs its request; each
posts to the URL entered in its console. So the URL is the signature: it carries a token,
an HMAC of the provider's name with CRM_SMS_RECEIPT_SECRET (`sms_receipt_token`), checked
in constant time; a wrong or missing token, or no secret, is a 404 as for any unknown
page. What a receipt changes is decided by `campaigns.services.messaging.message_receipts_record`.
"""

import hashlib
import hmac
import json

from django.conf import settings
from django.http import Http404, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from .channels import aliyun, tencent
from .services.messaging import message_receipts_record

RECEIPT_PROVIDERS = {
    "aliyun": (aliyun.parse_receipts, aliyun.RECEIPT_ACK),
    "tencent": (tencent.parse_receipts, tencent.RECEIPT_ACK),
}


def sms_receipt_token(provider: str) -> str:
    """The token in a provider's receipt URL ("" when no secret is configured: no receipts)."""
    secret = getattr(settings, "CRM_SMS_RECEIPT_SECRET", "")
    if not secret:
        return ""
    return hmac.new(secret.encode(), f"sms-receipts:{provider}".encode(), hashlib.sha256).hexdigest()[:40]


@csrf_exempt
@require_POST
def sms_receipts(request, provider: str, token: str):
    if provider not in RECEIPT_PROVIDERS:
        raise Http404
    expected = sms_receipt_token(provider)
    if not expected or not hmac.compare_digest(token.encode(), expected.encode()):
        raise Http404
    try:
        payload = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        return JsonResponse({"error": "invalid_json"}, status=400)
    parse, ack = RECEIPT_PROVIDERS[provider]
    message_receipts_record(receipts=parse(payload))
    return JsonResponse(ack, json_dumps_params={"ensure_ascii": False})
