from datetime import timedelta
from io import StringIO

from django.core.management import call_command
from django.utils import timezone

from vip.models import TierChange
from vip.services import tier_pin


def test_review_tiers_expires_pins_and_downgrades_after_grace(make_player, pay, tiers, supervisor):
    # given a player pinned to V5 whose pin has run out, and a rolling-window tier holder below it
    pinned = make_player()
    pay(pinned, "30.00")
    tier_pin(
        player=pinned,
        tier=tiers["V5"],
        actor=supervisor,
        reason="活动补偿",
        expires_at=timezone.now() + timedelta(hours=1),
    )
    pinned.__class__.objects.filter(pk=pinned.pk).update(tier_pinned_until=timezone.now() - timedelta(minutes=1))

    rolling = tiers["V3"]
    rolling.window_days, rolling.downgrade_grace_days = 30, 0
    rolling.save()
    lapsed = make_player()
    pay(lapsed, "100.00", at=timezone.now() - timedelta(days=40))
    lapsed.__class__.objects.filter(pk=lapsed.pk).update(tier=rolling)

    out = StringIO()
    call_command("review_tiers", stdout=out)

    pinned.refresh_from_db()
    lapsed.refresh_from_db()
    assert pinned.tier == tiers["V2"] and pinned.tier_pinned_until is None
    assert TierChange.objects.filter(player=pinned, reason="pin_expired").exists()
    assert lapsed.tier != rolling and TierChange.objects.filter(player=lapsed, reason="review").exists()
    assert "pins_expired: 1" in out.getvalue() and "downgraded: 1" in out.getvalue()
