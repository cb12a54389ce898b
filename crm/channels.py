"""The channel registry: every way the team reaches a player, in one enumeration.

`Channel` is what the contact log records (phone, QQ, WeChat, ...). `MESSAGE_CHANNELS`
names the channels automatic messages (campaigns, greetings) can go through, with the
environment variable that picks each one's delivery backend: the settings build
`CRM_MESSAGE_BACKENDS` from it, the message and campaign models their choices, and
delivery the contact-log channel of a message sent. A message channel whose backend is
not configured fails the message with a reason a supervisor reads in the admin (and
`manage.py check` warns), never "sent" by a fallback. Adding a channel is one entry here.

A foundation module: it imports no app (the settings import it).
"""

from django.db.models import TextChoices
from django.utils.translation import gettext_lazy as _


class Channel(TextChoices):
    PHONE = "phone", _("Phone")
    QQ = "qq", _("QQ")
    WECHAT = "wechat", _("WeChat")
    IN_GAME = "in_game", _("In-game")
    EMAIL = "email", _("Email")
    SMS = "sms", _("SMS")
    VISIT = "visit", _("Visit")


# Channel -> its delivery backend when the environment names none (None: not configured
# until CRM_<CHANNEL>_BACKEND names one; "console" only ever by explicit choice).
MESSAGE_CHANNELS: dict[str, str | None] = {
    Channel.SMS.value: None,
    # WeChat through WeCom (企业微信) external contacts: a task the serving member confirms.
    Channel.WECHAT.value: None,
    Channel.IN_GAME.value: None,
    Channel.EMAIL.value: "email",
}

# Channels a player's consent is recorded for (players.models.consents), per purpose:
# the message channels and the ones staff reach a player by (a call, WeCom/WeChat).
CONSENT_CHANNELS: tuple[str, ...] = (
    Channel.SMS.value,
    Channel.PHONE.value,
    Channel.WECHAT.value,
    Channel.EMAIL.value,
    Channel.IN_GAME.value,
)


def consent_channel_choices() -> list[tuple[str, str]]:
    """The choices of a consent's channel, in the registry's order of `Channel`."""
    return [(c.value, c.label) for c in Channel if c.value in CONSENT_CHANNELS]


# Backend names the environment may give (CRM_<CHANNEL>_BACKEND).
MESSAGE_BACKENDS = {
    "console": "campaigns.channels.ConsoleBackend",
    "webhook": "campaigns.channels.WebhookBackend",
    "email": "campaigns.channels.EmailBackend",
    "aliyun": "campaigns.channels.aliyun.AliyunSmsBackend",
    "tencent": "campaigns.channels.tencent.TencentSmsBackend",
    "wecom": "campaigns.channels.wecom.WecomBackend",
}

# Backends that serve only some channels (an SMS provider cannot deliver in-game mail).
MESSAGE_BACKEND_CHANNELS: dict[str, tuple[str, ...]] = {
    MESSAGE_BACKENDS["aliyun"]: (Channel.SMS.value,),
    MESSAGE_BACKENDS["tencent"]: (Channel.SMS.value,),
    MESSAGE_BACKENDS["wecom"]: (Channel.WECHAT.value,),
}

# WeCom's options (CRM_WECHAT_BACKEND=wecom): the company's id, the secret of its customer
# contact (客户联系) or of an app allowed to call it, and the API's address (a local fake in
# tests). The contacts' sync reads the same options.
WECOM_OPTIONS: dict[str, tuple[str, str]] = {
    "corp_id": ("CRM_WECOM_CORP_ID", ""),
    "secret": ("CRM_WECOM_SECRET", ""),
    "api_base_url": ("CRM_WECOM_API_BASE_URL", "https://qyapi.weixin.qq.com/cgi-bin/"),
}

# WeCom's own limit of group messages a customer receives (the company's setting in
# 群发助手 -> 群发规则): as many a month as the month has days (the default), 7 a week or 1
# a day. It is the WeChat channel's cap unless CRM_MESSAGE_CAPS names one.
WECOM_CUSTOMER_LIMITS: dict[str, tuple[str, int | str]] = {
    "month": ("month", "days"),
    "week": ("week", 7),
    "day": ("day", 1),
}

# A provider's options: option name -> (environment variable, default). Secrets only
# from the environment. Templates: one approved template per purpose, with one variable
# that carries the message's text (Aliyun: its name; Tencent: the first parameter).
SMS_PROVIDER_OPTIONS: dict[str, dict[str, tuple[str, str]]] = {
    "aliyun": {
        "access_key_id": ("CRM_ALIYUN_SMS_ACCESS_KEY_ID", ""),
        "access_key_secret": ("CRM_ALIYUN_SMS_ACCESS_KEY_SECRET", ""),
        "endpoint": ("CRM_ALIYUN_SMS_ENDPOINT", "dysmsapi.aliyuncs.com"),
        "protocol": ("CRM_ALIYUN_SMS_PROTOCOL", "https"),
        "sign_name": ("CRM_ALIYUN_SMS_SIGN_NAME", ""),
        "template_marketing": ("CRM_ALIYUN_SMS_TEMPLATE_MARKETING", ""),
        "template_service": ("CRM_ALIYUN_SMS_TEMPLATE_SERVICE", ""),
        "template_param": ("CRM_ALIYUN_SMS_TEMPLATE_PARAM", "content"),
    },
    "tencent": {
        "secret_id": ("CRM_TENCENT_SMS_SECRET_ID", ""),
        "secret_key": ("CRM_TENCENT_SMS_SECRET_KEY", ""),
        "endpoint": ("CRM_TENCENT_SMS_ENDPOINT", "sms.tencentcloudapi.com"),
        "protocol": ("CRM_TENCENT_SMS_PROTOCOL", "https"),
        "region": ("CRM_TENCENT_SMS_REGION", "ap-guangzhou"),
        "sdk_app_id": ("CRM_TENCENT_SMS_SDK_APP_ID", ""),
        "sign_name": ("CRM_TENCENT_SMS_SIGN_NAME", ""),
        "template_marketing": ("CRM_TENCENT_SMS_TEMPLATE_MARKETING", ""),
        "template_service": ("CRM_TENCENT_SMS_TEMPLATE_SERVICE", ""),
    },
}


def message_channel_choices() -> list[tuple[str, str]]:
    """The choices of a message's channel, in the registry's order of `Channel`."""
    return [(c.value, c.label) for c in Channel if c.value in MESSAGE_CHANNELS]


def message_backends_setting(env) -> dict:
    """`CRM_MESSAGE_BACKENDS` from the environment (django-environ `env`): one entry per
    message channel whose backend is named (or has a default)."""
    backends = {}
    for channel, default in MESSAGE_CHANNELS.items():
        name = env.str(f"CRM_{channel.upper()}_BACKEND", default=default or "")
        if not name:
            continue
        if name in SMS_PROVIDER_OPTIONS:
            options = {key: env.str(var, default=default) for key, (var, default) in SMS_PROVIDER_OPTIONS[name].items()}
            options["timeout"] = env.float("CRM_SMS_PROVIDER_TIMEOUT", default=10.0)
        elif name == "wecom":
            options = {key: env.str(var, default=default) for key, (var, default) in WECOM_OPTIONS.items()}
            options["timeout"] = env.float("CRM_WECOM_TIMEOUT", default=10.0)
        else:
            options = {
                "url": env.str(f"CRM_{channel.upper()}_WEBHOOK_URL", default=""),
                "secret": env.str(f"CRM_{channel.upper()}_WEBHOOK_SECRET", default=""),
                "timeout": env.float("CRM_WEBHOOK_TIMEOUT", default=10.0),
            }
        backends[channel] = {"BACKEND": MESSAGE_BACKENDS[name], "OPTIONS": options}
    return backends


CAP_PERIODS = ("day", "week", "month")


def message_caps_setting(value: str, *, wecom_limit: str = "month") -> dict[str, tuple[str, int | str]]:
    """`CRM_MESSAGE_CAPS` from its text, "channel:period:count,...", e.g.
    "sms:day:1,in_game:week:3": at most `count` marketing messages on the channel in the
    player's calendar `period` (day, week from Monday, month; a month's count may be
    "days": as many as the month has). A wrong entry stops the start with the entry named.
    The WeChat channel's cap is WeCom's customer limit (`wecom_limit`, a key of
    WECOM_CUSTOMER_LIMITS) unless the text names one."""
    if wecom_limit not in WECOM_CUSTOMER_LIMITS:
        raise ValueError(f"CRM_WECOM_CUSTOMER_LIMIT: {wecom_limit!r} is one of {', '.join(WECOM_CUSTOMER_LIMITS)}")
    caps: dict[str, tuple[str, int | str]] = {Channel.WECHAT.value: WECOM_CUSTOMER_LIMITS[wecom_limit]}
    for entry in filter(None, (part.strip() for part in value.split(","))):
        try:
            channel, period, count = (piece.strip() for piece in entry.split(":"))
            count = count if (period, count) == ("month", "days") else int(count)
        except ValueError:
            raise ValueError(f"CRM_MESSAGE_CAPS: {entry!r} is not channel:period:count") from None
        if channel not in MESSAGE_CHANNELS or period not in CAP_PERIODS or (count != "days" and count < 0):
            raise ValueError(
                f"CRM_MESSAGE_CAPS: {entry!r}: the channel is one of {', '.join(MESSAGE_CHANNELS)}, "
                f"the period one of {', '.join(CAP_PERIODS)}, the count 0 or more"
            )
        caps[channel] = (period, count)
    return caps
