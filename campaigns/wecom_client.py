"""The WeCom API client: wechatpy's `wechatpy.work.WeChatClient`, pointed at the configured
API address, its access token kept in Django's cache (shared by the workers: WeCom
limits how often a company may fetch one) and refreshed by wechatpy when WeCom says it
expired (40014, 42001).

Our own limit of calls (WeCom's base limit is per company and minute): every call goes
through a token bucket per company in Django's cache (`crm.api.throttling.token_spend`;
shared by every worker with a Redis CACHE_URL), CRM_WECOM_RATE (`8000/m`) with bursts of
CRM_WECOM_BURST (1000): at most rate + burst in any minute, 9,000, under WeCom's 10,000
calls a minute to one API. A call over it
is not made: it raises wechatpy's `APILimitedException` with our code `crm_rate_limit`,
which every caller handles as WeCom's own 45009 (the sync stops and goes on next time, a
task is retried later, reading results stops till the next run).

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

OUR_RATE_LIMIT = "crm_rate_limit"  # our own limit of calls (CRM_WECOM_RATE) held a call back
RATE_LIMITED = ("45009", "45033", OUR_RATE_LIMIT)  # a minute's limit of calls; too many at once; ours


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

    def _request(self, method, url_or_endpoint, **kwargs):
        from wechatpy.exceptions import APILimitedException

        from crm.api.throttling import rate_parse, token_spend

        rate = getattr(settings, "CRM_WECOM_RATE", "8000/m")
        per_second = rate_parse(rate)
        if per_second:
            burst = float(getattr(settings, "CRM_WECOM_BURST", 1000))
            allowed, _tokens = token_spend(key=f"wecom:calls:{self.corp_id}", per_second=per_second, burst=burst)
            if not allowed:
                raise APILimitedException(OUR_RATE_LIMIT, f"the CRM's limit of calls to WeCom ({rate}) was reached")
        return super()._request(method, url_or_endpoint, **kwargs)

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
