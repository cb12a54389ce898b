"""Per-client throttling: a token bucket per API client in the cache.

CRM_API_THROTTLE_RATE ("<requests>/<s|m|h>") sets the sustained rate and
CRM_API_THROTTLE_BURST how many may arrive at once. The default (1000 per second,
bursts of 2000) lets a backend send a batch every 10 ms, and more. With a shared
cache (CACHE_URL=redis://...) the limit holds across workers; with the default
local-memory cache it holds per worker process. Even with a shared cache the
bucket is read and written back, not changed atomically: requests of one client
handled at the same instant by different workers may spend the same token, so a
client sending on several connections at once can get up to (workers x rate).
"""

from __future__ import annotations

import math
import time

from django.conf import settings
from django.core.cache import cache
from rest_framework.throttling import BaseThrottle

PERIODS = {"s": 1, "m": 60, "h": 3600}


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
        per_second = rate_parse(getattr(settings, "CRM_API_THROTTLE_RATE", "50/s"))
        if client is None or per_second is None:
            return True
        burst = float(getattr(settings, "CRM_API_THROTTLE_BURST", 500))
        key = f"crm:api:throttle:{client.pk}"
        now = time.time()
        tokens, stamp = cache.get(key) or (burst, now)
        tokens = min(burst, tokens + (now - stamp) * per_second)
        if tokens < 1:
            self.wait_seconds = (1 - tokens) / per_second
            cache.set(key, (tokens, now), timeout=int(burst / per_second) + 60)
            return False
        cache.set(key, (tokens - 1, now), timeout=int(burst / per_second) + 60)
        return True

    def wait(self):
        return None if self.wait_seconds is None else max(1, math.ceil(self.wait_seconds))
