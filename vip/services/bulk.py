"""Tier evaluation for many players at once (the API's batches, imports): the same
rule as `tier_evaluate`, with the changes written set-based."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from players.models import Player

from ..models import Tier, TierChange, TierChangeReason
from . import tier_qualified, tiers_ordered


def _level(tier: Tier | None) -> int:
    return tier.level if tier else 0


@transaction.atomic
def tiers_evaluate_bulk(
    *, players: list[Player], reason: str, actor=None, now: datetime | None = None, tiers: list[Tier] | None = None
) -> list[TierChange]:
    """Re-evaluate each player after payments (upgrade at once) or refunds (may also
    lower at once); pinned players are left alone. `players` need `total_spend`,
    `tier_id` and `tier_pinned_until` loaded. One history row per change, one UPDATE
    per target tier."""
    now = now or timezone.now()
    tiers = tiers if tiers is not None else tiers_ordered()
    by_id = {t.pk: t for t in tiers}
    changes: list[TierChange] = []
    moves: dict[int | None, list[int]] = defaultdict(list)
    for player in players:
        if player.tier_pinned_until and player.tier_pinned_until > now:
            continue
        current = by_id.get(player.tier_id) if player.tier_id else None
        qualified = tier_qualified(player=player, tiers=tiers, now=now)
        lower = reason == TierChangeReason.REFUND and _level(qualified) < _level(current)
        if _level(qualified) > _level(current) or lower:
            changes.append(
                TierChange(
                    player=player, from_tier=current, to_tier=qualified, reason=reason, actor=actor, changed_at=now
                )
            )
            moves[qualified.pk if qualified else None].append(player.pk)
    if changes:
        TierChange.objects.bulk_create(changes, batch_size=1000)
        for tier_id, ids in moves.items():
            Player.objects.filter(pk__in=ids).update(tier_id=tier_id, tier_since=now, tier_below_since=None)
    return changes
