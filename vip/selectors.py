"""Reads about tiers: how far a player is from keeping their tier or reaching the next."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.utils import timezone

from players.models import Player

from .models import Tier
from .services import player_window_spend, tiers_ordered


@dataclass(frozen=True)
class TierProgress:
    tier: Tier | None
    # Spend still needed, in the base currency, within the tier's own window (lifetime
    # or rolling): to stay in the current tier (None when it cannot be lost by time,
    # i.e. counted on lifetime spend), and to reach the next one (None at the top).
    to_keep: Decimal | None
    next_tier: Tier | None
    to_next: Decimal | None
    pinned_until: datetime | None


def tier_progress(*, player: Player, now: datetime | None = None, tiers: list[Tier] | None = None) -> TierProgress:
    """The same spend rule as tier evaluation (vip.services.player_window_spend), read
    forwards: what the player must still spend, never below zero."""
    now = now or timezone.now()
    tiers = tiers if tiers is not None else tiers_ordered()
    level = player.tier.level if player.tier else 0
    spend: dict[int | None, Decimal] = {}

    def needed(tier: Tier) -> Decimal:
        if tier.window_days not in spend:
            spend[tier.window_days] = player_window_spend(player=player, window_days=tier.window_days, now=now)
        return max(Decimal(0), tier.min_spend - spend[tier.window_days])

    to_keep = needed(player.tier) if player.tier and player.tier.window_days is not None else None
    next_tier = next((t for t in tiers if t.level > level), None)
    pinned = player.tier_pinned_until if player.tier_pinned_until and player.tier_pinned_until > now else None
    return TierProgress(
        tier=player.tier,
        to_keep=to_keep,
        next_tier=next_tier,
        to_next=needed(next_tier) if next_tier else None,
        pinned_until=pinned,
    )
