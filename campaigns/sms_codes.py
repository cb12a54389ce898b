"""What the SMS providers' answers mean: one registry of their codes.

Each provider answers a send with a code per request (Aliyun's SendBatchSms, a gateway
error of either) or per number (Tencent's SendSms). `code_outcome` says whether retrying
can help; `code_meaning` says what it means in the reader's language. The codes are the
providers' documented ones (Aliyun dysmsapi 2017-05-25 error codes, Tencent Cloud SMS
2021-01-11 error codes); a code not listed is retried (within CRM_MESSAGE_MAX_ATTEMPTS)
and shown as it came. A message's reason stores the code and the provider's own words
(`Message.status_params`), never the translation, so it reads in the reader's language.

Data only: it imports no model.
"""

from django.utils.translation import gettext_lazy as _

RETRY = "retry"
FAIL = "failed"

SMS_PROVIDERS = {
    "aliyun": _("Aliyun SMS"),
    "tencent": _("Tencent Cloud SMS"),
    "wecom": _("WeCom"),  # not SMS, but answers with codes alike (campaigns/channels/wecom.py)
    # not SMS either: the other backends' answers (campaigns/channels/__init__.py)
    "email": _("The email server"),
    "webhook": _("The delivery gateway"),
}

_THROTTLED = _("too many requests: throttled")
_NUMBER_LIMIT = _("the sending limit for this number was reached")
_DAY_LIMIT = _("the daily sending limit was reached")
_BALANCE = _("the account's balance or package is used up")
_SYSTEM = _("the provider had an internal error")
_BAD_NUMBER = _("the mobile number is not valid")
_TEMPLATE = _("the template is not approved or does not exist")
_SIGN = _("the signature is not approved or does not exist")
_PARAMS = _("the text does not fit the template's parameters")
_TOO_MANY = _("too many numbers in one request")
_AUTH = _("the request's signature or access key was refused: check the provider's keys")
_BLOCKED_WORDS = _("the text contains words the provider blocks")
_BLOCKLIST = _("the number has refused messages from this sender")
_NIGHT = _("the provider does not send promotional SMS at this hour")

SMS_CODES: dict[str, dict[str, tuple[str, object]]] = {
    "aliyun": {
        "isv.BUSINESS_LIMIT_CONTROL": (RETRY, _NUMBER_LIMIT),
        "isv.DAY_LIMIT_CONTROL": (RETRY, _DAY_LIMIT),
        "isv.AMOUNT_NOT_ENOUGH": (RETRY, _BALANCE),
        "isv.OUT_OF_SERVICE": (RETRY, _BALANCE),
        "Throttling.User": (RETRY, _THROTTLED),
        "Throttling.Api": (RETRY, _THROTTLED),
        "Throttling": (RETRY, _THROTTLED),
        "isp.SYSTEM_ERROR": (RETRY, _SYSTEM),
        "isp.GATEWAY_ERROR": (RETRY, _SYSTEM),
        "ServiceUnavailable": (RETRY, _SYSTEM),
        "isv.MOBILE_NUMBER_ILLEGAL": (FAIL, _BAD_NUMBER),
        "isv.SMS_TEMPLATE_ILLEGAL": (FAIL, _TEMPLATE),
        "isv.SMS_SIGNATURE_ILLEGAL": (FAIL, _SIGN),
        "isv.SMS_SIGN_ILLEGAL": (FAIL, _SIGN),
        "isv.TEMPLATE_MISSING_PARAMETERS": (FAIL, _PARAMS),
        "isv.TEMPLATE_PARAMS_ILLEGAL": (FAIL, _PARAMS),
        "isv.PARAM_LENGTH_LIMIT": (FAIL, _PARAMS),
        "isv.INVALID_JSON_PARAM": (FAIL, _PARAMS),
        "isv.MOBILE_COUNT_OVER_LIMIT": (FAIL, _TOO_MANY),
        "isv.BLACK_KEY_CONTROL_LIMIT": (FAIL, _BLOCKED_WORDS),
        "SignatureDoesNotMatch": (FAIL, _AUTH),
        "IncompleteSignature": (FAIL, _AUTH),
        "InvalidAccessKeyId.NotFound": (FAIL, _AUTH),
        "InvalidAccessKeyId.Inactive": (FAIL, _AUTH),
    },
    "tencent": {
        "LimitExceeded.PhoneNumberDailyLimit": (RETRY, _NUMBER_LIMIT),
        "LimitExceeded.PhoneNumberOneHourLimit": (RETRY, _NUMBER_LIMIT),
        "LimitExceeded.PhoneNumberThirtySecondLimit": (RETRY, _NUMBER_LIMIT),
        "LimitExceeded.PhoneNumberSameContentDailyLimit": (RETRY, _NUMBER_LIMIT),
        "LimitExceeded.DailyLimit": (RETRY, _DAY_LIMIT),
        "LimitExceeded.DeliveryFrequencyLimit": (RETRY, _NUMBER_LIMIT),
        "RequestLimitExceeded": (RETRY, _THROTTLED),
        "FailedOperation.InsufficientBalanceInSmsPackage": (RETRY, _BALANCE),
        "FailedOperation.MarketingSendTimeConstraint": (RETRY, _NIGHT),
        "InternalError": (RETRY, _SYSTEM),
        "InternalError.Timeout": (RETRY, _SYSTEM),
        "InternalError.SendAndRecvFail": (RETRY, _SYSTEM),
        "InternalError.OtherError": (RETRY, _SYSTEM),
        "InvalidParameterValue.IncorrectPhoneNumber": (FAIL, _BAD_NUMBER),
        "FailedOperation.PhoneNumberInBlacklist": (FAIL, _BLOCKLIST),
        "FailedOperation.TemplateIncorrectOrUnapproved": (FAIL, _TEMPLATE),
        "FailedOperation.SignatureIncorrectOrUnapproved": (FAIL, _SIGN),
        "InvalidParameterValue.TemplateParameterFormatError": (FAIL, _PARAMS),
        "InvalidParameterValue.TemplateParameterLengthLimit": (FAIL, _PARAMS),
        "FailedOperation.ContainSensitiveWord": (FAIL, _BLOCKED_WORDS),
        "LimitExceeded.PhoneNumberCountLimit": (FAIL, _TOO_MANY),
        "AuthFailure.SignatureFailure": (FAIL, _AUTH),
        "AuthFailure.SignatureExpire": (RETRY, _AUTH),
        "AuthFailure.SecretIdNotFound": (FAIL, _AUTH),
        "UnauthorizedOperation.SmsSdkAppIdVerifyFail": (FAIL, _AUTH),
    },
    # WeCom's global error codes (全局错误码) its external-contact calls answer with.
    "wecom": {
        "-1": (RETRY, _SYSTEM),
        "45009": (RETRY, _("WeCom's limit of calls a minute was reached")),
        "45033": (RETRY, _("too many calls to WeCom at once")),
        "crm_rate_limit": (RETRY, _("the CRM's own limit of calls to WeCom a minute was reached (CRM_WECOM_RATE)")),
        "40001": (FAIL, _("WeCom refused the company's secret: check CRM_WECOM_SECRET")),
        "40013": (FAIL, _("WeCom does not know the company id: check CRM_WECOM_CORP_ID")),
        "48002": (FAIL, _("the secret may not call WeCom's customer contact API")),
        "40003": (FAIL, _("the member's WeCom userid is not valid")),
        "60111": (FAIL, _("WeCom has no member with this userid")),
        "84061": (FAIL, _("the member and the customer are not contacts in WeCom")),
        "40096": (FAIL, _("the customer's external userid is not valid")),
    },
}


# Our own codes, for any provider: what happened before or after its answer.
UNREACHABLE = "unreachable"
COMMON_CODES: dict[str, tuple[str, object]] = {
    UNREACHABLE: (RETRY, _("the provider could not be reached: nothing was sent")),
}


def _entry(provider: str, code: str) -> tuple[str, object]:
    return SMS_CODES.get(provider, {}).get(code) or COMMON_CODES.get(code) or (RETRY, None)


def code_outcome(provider: str, code: str) -> str:
    """RETRY or FAIL for a provider's error code (RETRY when unknown: the attempts bound it)."""
    return _entry(provider, code)[0]


def code_meaning(provider: str, code: str) -> str:
    """A provider's code in words, in the active language ("" when the code is not listed)."""
    meaning = _entry(provider, code)[1]
    return str(meaning) if meaning else ""


def provider_label(provider: str) -> str:
    label = SMS_PROVIDERS.get(provider)
    return str(label) if label else provider
