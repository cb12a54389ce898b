"""The WeCom API client: wechatpy's `wechatpy.work.WeChatClient`, pointed at the configured
API address, its access token kept in Django's cache (shared by the workers: WeCom
limits how often a company may fetch one) and refreshed by wechatpy when WeCom says it
expired (40014, 42001).

Errors: wechatpy raises `WeChatClientException` with WeCom's `errcode` (45009, a minute's
limit of calls, as its subclass `APILimitedException`); a network error is requests'.
`wecom_error_code` reads the code of either ("" for a network error)."""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from wechatpy.session import SessionStorage
from wechatpy.work import WeChatClient

from crm.channels import Channel

from .channels import ChannelNotConfigured

RATE_LIMITED = ("45009", "45033")  # a minute's limit of calls; too many at once


class DjangoCacheStorage(SessionStorage):
    """wechatpy's session storage (the access token and its expiry) in Django's cache."""

    prefix = "wecom:"

    def get(self, key, default=None):
        return cache.get(self.prefix + key, default)

    def set(self, key, value, ttl=None):
        cache.set(self.prefix + key, value, ttl)

    def delete(self, key):
        cache.delete(self.prefix + key)


class WecomClient(WeChatClient):
    """wechatpy's WeCom client with the API's address an option (it fetches the token from
    a fixed address otherwise)."""

    def __init__(self, *, corp_id: str, secret: str, api_base_url: str, timeout: float = 10):
        self.API_BASE_URL = api_base_url if api_base_url.endswith("/") else api_base_url + "/"
        super().__init__(corp_id, secret, session=DjangoCacheStorage(), timeout=timeout)

    def fetch_access_token(self):
        return self._fetch_access_token(
            url=f"{self.API_BASE_URL}gettoken", params={"corpid": self.corp_id, "corpsecret": self.secret}
        )


def wecom_options() -> dict:
    """The WeChat channel's WeCom options (CRM_MESSAGE_BACKENDS), or ChannelNotConfigured."""
    config = getattr(settings, "CRM_MESSAGE_BACKENDS", {}).get(Channel.WECHAT.value) or {}
    options = config.get("OPTIONS") or {}
    if not config.get("BACKEND", "").endswith("WecomBackend"):
        raise ChannelNotConfigured("WeCom is not configured: set CRM_WECHAT_BACKEND=wecom.")
    missing = [name for name in ("corp_id", "secret") if not options.get(name)]
    if missing:
        raise ChannelNotConfigured("WeCom needs " + ", ".join(f"CRM_WECOM_{name.upper()}" for name in missing) + ".")
    return options


def wecom_client(options: dict | None = None) -> WecomClient:
    options = options or wecom_options()
    return WecomClient(
        corp_id=options["corp_id"],
        secret=options["secret"],
        api_base_url=options.get("api_base_url") or "https://qyapi.weixin.qq.com/cgi-bin/",
        timeout=float(options.get("timeout") or 10),
    )


def wecom_error_code(exc) -> str:
    code = getattr(exc, "errcode", None)
    return "" if code is None else str(code)
