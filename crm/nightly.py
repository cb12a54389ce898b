"""The nightly run (03:30 in TIME_ZONE, on the beat schedule and as `manage.py nightly`):
it spans the apps, so it lives on top of them."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from campaigns.services.top_spenders import year_spend_refresh
from players.services.consents import consent_history_purge
from players.services.duplicates import duplicates_find
from players.services.payer_status import churn_scan
from vip.services import tiers_review


def nightly_run(*, now: datetime | None = None) -> dict:
    """The nightly job: the churn scan, then the tier review (expired pins and
    rolling-window downgrades after their grace period), then the purge of consent
    history past its retention (CRM_CONSENT_HISTORY_DAYS, never under five months), then the
    duplicate finder (accounts that may be one person), then the year-end spend sums of the
    years whose payments changed (`year_spend_refresh`)."""
    now = now or timezone.now()
    return {
        "churn": churn_scan(now=now),
        "tiers": tiers_review(now=now),
        "consents": {"purged": consent_history_purge(now=now)},
        "duplicates": _duplicates(now),
        "year_spend": {"rebuilt": year_spend_refresh(now=now)},
    }


def _duplicates(now) -> dict:
    found = duplicates_find(now=now)
    return {"pairs": found.pairs, "new": found.new, "removed": found.removed}
