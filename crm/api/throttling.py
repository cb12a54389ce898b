"""Per-client throttling: a token bucket per API client in the cache.

CRM_API_THROTTLE_RATE ("<requests>/<s|m|h>") sets the sustained rate and
CRM_API_THROTTLE_BURST how many may arrive at once. The default (1000 per second,
bursts of 2000) lets a backend send a batch every 10 ms, and more. With a shared
cache (CACHE_URL=redis://...) the limit holds across workers; with the default
local-memory cache it holds per worker process. In Redis the bucket is read and
spent by one script, with Redis's clock, so requests of one client handled at the
same instant by different workers or hosts never spend the same token.
"""

from __future__ import annotations

import functools
import math
import time

from django.conf import settings
from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.core.cache.backends.redis import RedisCache
from rest_framework.throttling import BaseThrottle

PERIODS = {"s": 1, "m": 60, "h": 3600}


@functools.lru_cache(maxsize=16)  # read at every request; a settings change is another string
def rate_parse(rate: str | None) -> float | None:
    """ "600/m" -> 10.0 requests per second; None or "" -> no throttling."""
    if not rate:
        return None
    count, _sep, period = rate.partition("/")
    return float(count) / PERIODS[(period or "s")[0].lower()]


class ApiClientRateThrottle(BaseThrottle):
    def __init__(self):
        self.wait_seconds = None

    def allow_request(self, request, view):
        client = getattr(request, "auth", None)
        per_second = rate_parse(getattr(settings, "CRM_API_THROTTLE_RATE", "1000/s"))
        if client is None or per_second is None:
            return True
        burst = float(getattr(settings, "CRM_API_THROTTLE_BURST", 2000))
        allowed, tokens = token_spend(key=f"crm:api:throttle:{client.pk}", per_second=per_second, burst=burst)
        if not allowed:
            self.wait_seconds = (1 - tokens) / per_second
        return allowed

    def wait(self):
        return None if self.wait_seconds is None else max(1, math.ceil(self.wait_seconds))


def token_spend(*, key: str, per_second: float, burst: float) -> tuple[bool, float]:
    """Spend one token of the bucket `key` (refilled at `per_second`, holding at most
    `burst`) in the default cache: (whether one was left, the tokens before spending).
    Shared by every worker with a Redis cache. The API's clients and the WeCom client
    (campaigns.wecom_client) are limited through it."""
    backend = caches[DEFAULT_CACHE_ALIAS]
    spend = _spend_in_redis if isinstance(backend, RedisCache) else _spend_in_cache
    return spend(backend, key, per_second=per_second, burst=burst, ttl=int(burst / per_second) + 60)


def _spend_in_cache(cache, key: str, *, per_second: float, burst: float, ttl: int) -> tuple[bool, float]:
    """Any Django cache: read, refill, spend, write back (one worker process's own
    bucket with the default local-memory cache, where a sync worker serves one
    request at a time)."""
    now = time.time()
    tokens, stamp = cache.get(key) or (burst, now)
    tokens = min(burst, tokens + max(0.0, now - stamp) * per_second)
    allowed = tokens >= 1
    cache.set(key, (tokens - 1 if allowed else tokens, now), timeout=ttl)
    return allowed, tokens


# KEYS[1]: the bucket (a hash of tokens and stamp); ARGV: rate per second, burst, ttl.
# Returns {1 or 0, tokens before spending, as a string (Lua numbers lose their
# fraction when returned)}.
_SPEND_SCRIPT = """
local now = redis.call('TIME')
now = tonumber(now[1]) + tonumber(now[2]) / 1000000
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'stamp')
local tokens = tonumber(state[1]) or burst
local stamp = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - stamp) * rate)
local allowed = 0
local left = tokens
if tokens >= 1 then
    allowed = 1
    left = tokens - 1
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', left), 'stamp', string.format('%.6f', now))
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
return {allowed, string.format('%.6f', tokens)}
"""


def _spend_in_redis(cache: RedisCache, key: str, *, per_second: float, burst: float, ttl: int) -> tuple[bool, float]:
    """Django's Redis cache: refill and spend in one script, atomically."""
    redis_key = cache.make_and_validate_key(key)
    client = cache._cache.get_client(redis_key, write=True)  # the cache's own connection pool
    allowed, tokens = client.eval(_SPEND_SCRIPT, 1, redis_key, per_second, burst, ttl)
    return bool(allowed), float(tokens)
