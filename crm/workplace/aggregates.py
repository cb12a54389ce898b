"""Team figures for the supervisor's dashboard: computed by a periodic job, cached.

Each figure is one registered function `(now) -> picklable value`. `dashboard_refresh`
computes all of them (set-based queries over the whole table: a few seconds on a
million players) and stores them in Django's cache with the moment they were
computed; the dashboard only reads the cache, so it renders in milliseconds, and
shows how old the figures are. The refresh runs every few minutes from Celery beat
(`crm.tasks.dashboard_refresh_task`) or cron (`manage.py refresh_dashboard`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

logger = logging.getLogger(__name__)

CACHE_KEY = "crm:workplace:team:v1"
# Kept well beyond the refresh period: stale figures (with their age shown) are
# better than a dashboard that computes for seconds when a refresh was missed.
CACHE_TIMEOUT = 7 * 24 * 3600
REFRESH_MINUTES = 10

_AGGREGATES: dict[str, Callable[[datetime], object]] = {}
_LABELS: dict[str, object] = {}


def aggregate(key: str, *, label):
    """Decorator: register a team figure under a unique key. `label` names it to a
    supervisor when it could not be computed."""

    def register(fn):
        _AGGREGATES[key] = fn
        _LABELS[key] = label
        return fn

    return register


def failed_labels(snapshot: dict) -> list[str]:
    """What a supervisor reads for the figures the last refresh could not compute."""
    _registered()
    return [str(_LABELS.get(key, key)) for key in snapshot.get("failed", ())]


def _registered() -> dict[str, Callable[[datetime], object]]:
    from . import panels as _load  # noqa: F401  (panel modules register their aggregates)

    return _AGGREGATES


def dashboard_refresh(*, now: datetime | None = None) -> dict:
    """Compute every team figure and cache them. Returns what was cached.

    A figure whose query fails is logged and left out (its panel hides, and the
    section names it); the others are still refreshed."""
    now = now or timezone.now()
    data, timings, failed = {}, {}, []
    for key, fn in _registered().items():
        start = time.perf_counter()
        try:
            # a savepoint: on PostgreSQL a failed query would otherwise abort the figures after it
            with transaction.atomic():
                data[key] = fn(now)
        except Exception:
            logger.exception("dashboard figure %s failed", key)
            failed.append(key)
        timings[key] = round((time.perf_counter() - start) * 1000)
    snapshot = {"computed_at": now, "data": data, "timings_ms": timings, "failed": failed}
    try:
        cache.set(CACHE_KEY, snapshot, CACHE_TIMEOUT)
    except Exception:
        logger.exception("dashboard figures: the cache cannot be written")
    return snapshot


def dashboard_snapshot(*, compute_if_missing: bool = True) -> dict | None:
    """The cached figures; computed now only when none were ever cached. None when the
    cache cannot be read (e.g. Redis down): the page says so rather than computing the
    figures on every view."""
    try:
        snapshot = cache.get(CACHE_KEY)
    except Exception:
        logger.exception("dashboard figures: the cache cannot be read")
        return None
    if snapshot is None and compute_if_missing:
        snapshot = dashboard_refresh()
    return snapshot
