"""Who the demo players are, decided once at creation: how often each spends, and how
their story goes (still active, slipping, churned, or churned and won back). The demo
then lives that story through the services, week by week (see crm.demo)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

# Shares among payers, close to what a mid-size mobile game sees.
STORIES = (("active", 0.50), ("at_risk", 0.14), ("churned", 0.28), ("recovered", 0.08))
PAYER_SHARE = 0.55

PRODUCTS = [
    (Decimal("6"), "60 钻石"),
    (Decimal("30"), "300 钻石"),
    (Decimal("68"), "月卡"),
    (Decimal("128"), "1280 钻石"),
    (Decimal("198"), "成长基金"),
    (Decimal("328"), "3280 钻石"),
    (Decimal("648"), "6480 钻石"),
]


@dataclass
class Story:
    kind: str  # "non_payer" or one of STORIES
    gap_days: float = 0.0  # the player's rhythm between purchases
    products: list = field(default_factory=list)
    purchases: list[datetime] = field(default_factory=list)
    last_seen: datetime | None = None


def _pick(rng: random.Random, weighted) -> str:
    roll, total = rng.random(), 0.0
    for name, share in weighted:
        total += share
        if roll < total:
            return name
    return weighted[-1][0]


def story_for(rng: random.Random, *, registered: datetime, now: datetime) -> Story:
    if rng.random() >= PAYER_SHARE:
        return Story("non_payer", last_seen=now - timedelta(days=rng.expovariate(1 / 20)))
    kind = _pick(rng, STORIES)
    size = rng.random()
    if size < 0.05:  # whales: big packs, every few days
        gap, products = rng.uniform(2, 5), PRODUCTS[3:]
    elif size < 0.30:
        gap, products = rng.uniform(5, 12), PRODUCTS[1:6]
    else:
        gap, products = rng.uniform(8, 20), PRODUCTS[:4]
    if kind == "at_risk":
        gap = min(gap, 10)
    first = max(registered, now - timedelta(days=365)) + timedelta(days=rng.uniform(0, 30))
    if kind == "active":
        last = now - timedelta(days=rng.uniform(0.1, min(gap, 6)))
    elif kind == "at_risk":
        last = now - timedelta(days=rng.uniform(max(7, 2 * gap) + 1, 28))
    elif kind == "churned":
        last = now - timedelta(days=rng.uniform(35, 240))
    else:  # recovered: quiet for months, back in the last weeks
        last = now - timedelta(days=rng.uniform(60, 150))
    first = min(first, last)
    moments, at = [], last
    while at >= first:
        moments.append(at)
        at -= timedelta(days=gap * rng.uniform(0.6, 1.4))
    if kind == "recovered":
        back = now - timedelta(days=rng.uniform(1, 20))
        moments += [back + timedelta(days=k * gap / 3) for k in range(rng.randint(1, 3))]
        moments = [m for m in moments if m < now]
    moments.sort()
    if kind == "churned":
        seen = moments[-1] + timedelta(days=rng.uniform(0, 20))
    elif kind == "at_risk":
        seen = now - timedelta(days=rng.uniform(0, 12))
    else:
        seen = now - timedelta(hours=rng.uniform(1, 60))
    return Story(kind, gap, products, moments, min(seen, now - timedelta(minutes=5)))
