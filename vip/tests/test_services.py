from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from players.models import Player
from vip.models import ManagerAssignment, TierChange, TierChangeReason
from vip.services import players_assign_manager, tier_pin, tiers_evaluate, tiers_review, tiers_write


def test_payment_upgrades_at_once_with_history(make_player, pay, tiers):
    player = make_player()
    pay(player, "6")
    pay(player, "94")
    player.refresh_from_db()
    assert player.tier == tiers["V3"]
    changes = list(TierChange.objects.filter(player=player).order_by("changed_at", "id"))
    assert [(c.from_tier, c.to_tier, c.reason) for c in changes] == [
        (None, tiers["V1"], TierChangeReason.PAYMENT),
        (tiers["V1"], tiers["V3"], TierChangeReason.PAYMENT),
    ]


def test_tiers_write_moves_many_players_with_one_history_row_each(make_player, tiers, supervisor):
    """The one tier writer, for several players and target tiers at once (on PostgreSQL one
    statement): each player's tier and its history row, the rows' ids on the returned changes
    in the moves' order."""
    now = timezone.now()
    first, second, third = make_player(), make_player(tier=tiers["V2"]), make_player(tier=tiers["V5"])
    moves = [(first, tiers["V3"]), (second, tiers["V1"]), (third, None)]
    changes = tiers_write(moves=moves, reason=TierChangeReason.MANUAL, actor=supervisor, note="check", now=now)
    stored = {c.pk: c for c in TierChange.objects.filter(pk__in=[c.pk for c in changes])}
    assert [(stored[c.pk].player_id, stored[c.pk].from_tier_id, stored[c.pk].to_tier_id) for c in changes] == [
        (first.pk, None, tiers["V3"].pk),
        (second.pk, tiers["V2"].pk, tiers["V1"].pk),
        (third.pk, tiers["V5"].pk, None),
    ]
    assert {(c.reason, c.actor_id, c.note, c.changed_at) for c in stored.values()} == {
        (TierChangeReason.MANUAL, supervisor.pk, "check", now)
    }
    rows = Player.objects.filter(pk__in=[first.pk, second.pk, third.pk]).order_by("pk")
    assert [(p.tier_id, p.tier_since, p.tier_below_since) for p in rows] == [
        (tiers["V3"].pk, now, None),
        (tiers["V1"].pk, now, None),
        (None, now, None),
    ]
    assert (first.tier, second.tier, third.tier, first.tier_since) == (tiers["V3"], tiers["V1"], None, now)


def test_tiers_write_one_move_at_a_time_runs_on_one_generic_plan(requires_postgres, make_player, tiers, supervisor):
    """A single event's tier change (one move) is written by a statement with scalar
    parameters, which PostgreSQL runs on its generic plan after five custom ones (with
    arrays it planned every call again), and writes what the many-moves form writes."""
    from django.db import connection

    now = timezone.now()
    players = [make_player() for _ in range(8)]
    changes = [
        tiers_write(moves=[(p, tiers["V2"])], reason=TierChangeReason.MANUAL, actor=supervisor, note="one", now=now)[0]
        for p in players
    ]
    stored = {c.pk: c for c in TierChange.objects.filter(pk__in=[c.pk for c in changes])}
    assert [(stored[c.pk].player_id, stored[c.pk].from_tier_id, stored[c.pk].to_tier_id) for c in changes] == [
        (p.pk, None, tiers["V2"].pk) for p in players
    ]
    assert {(c.reason, c.actor_id, c.note, c.changed_at) for c in stored.values()} == {
        (TierChangeReason.MANUAL, supervisor.pk, "one", now)
    }
    rows = Player.objects.filter(pk__in=[p.pk for p in players])
    assert {(p.tier_id, p.tier_since, p.tier_below_since) for p in rows} == {(tiers["V2"].pk, now, None)}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements"
            " WHERE statement LIKE 'WITH m AS (SELECT $1::bigint AS pid%%'"
        )
        plans = cursor.fetchall()
    # one prepared statement, planned for its first five calls, then on its generic plan
    assert plans == [(3, 5)]


def test_refund_lowers_the_tier(make_player, pay, tiers):
    player = make_player()
    pay(player, "500", event_id="big")
    pay(player, "450", kind="refund", refund_of="big")
    player.refresh_from_db()
    assert player.tier == tiers["V2"]
    assert TierChange.objects.filter(player=player).first().reason == TierChangeReason.REFUND


def test_pin_holds_until_expiry_then_review_restores(make_player, pay, tiers, supervisor):
    player = make_player()
    pay(player, "30")
    tier_pin(
        player=player,
        tier=tiers["V6"],
        actor=supervisor,
        reason="guild leader",
        expires_at=timezone.now() + timedelta(days=7),
    )
    pay(player, "100")
    player.refresh_from_db()
    assert player.tier == tiers["V6"]

    counts = tiers_review(now=timezone.now() + timedelta(days=8))
    player.refresh_from_db()
    assert counts["pins_expired"] == 1
    assert player.tier == tiers["V3"]
    assert player.tier_pinned_until is None


def test_pin_needs_reason_and_future_expiry(make_player, tiers, supervisor):
    player = make_player()
    with pytest.raises(ValidationError) as exc:
        tier_pin(player=player, tier=tiers["V2"], actor=supervisor, reason=" ", expires_at=timezone.now())
    assert {"reason", "expires_at"} <= set(exc.value.message_dict)


def test_rolling_window_downgrade_waits_for_grace(make_player, pay, tiers):
    v4 = tiers["V4"]
    v4.window_days, v4.downgrade_grace_days = 30, 10
    v4.save()
    player = make_player()
    pay(player, "500", at=timezone.now() - timedelta(days=1))
    player.refresh_from_db()
    assert player.tier == v4

    start = timezone.now() + timedelta(days=31)
    assert tiers_review(now=start)["grace_started"] == 1
    player.refresh_from_db()
    assert player.tier == v4
    assert tiers_review(now=start + timedelta(days=10))["downgraded"] == 1
    player.refresh_from_db()
    assert player.tier == tiers["V3"]  # lifetime V3 still holds


def test_bulk_assignment_records_each_change(make_player, manager, other_manager, supervisor):
    a, b = make_player(manager=manager), make_player()
    changed = players_assign_manager(
        players=Player.objects.filter(pk__in=[a.pk, b.pk]), manager=other_manager, actor=supervisor
    )
    assert changed == 2
    rows = ManagerAssignment.objects.order_by("player_id")
    assert [(r.from_manager, r.to_manager, r.actor) for r in rows] == [
        (manager, other_manager, supervisor),
        (None, other_manager, supervisor),
    ]
    assert players_assign_manager(players=Player.objects.all(), manager=other_manager, actor=supervisor) == 0


def test_tiers_evaluate_moves_many_players_with_one_history_row_each(make_player, tiers, supervisor):
    from decimal import Decimal

    from vip.services import tiers_evaluate

    # given players whose spend moved, one of them pinned
    rich = make_player(total_spend=Decimal("700"))
    small = make_player(total_spend=Decimal("6"))
    same = make_player(total_spend=Decimal("6"), tier=tiers["V1"])
    pinned = make_player(
        total_spend=Decimal("700"), tier=tiers["V2"], tier_pinned_until=timezone.now() + timedelta(days=1)
    )
    fallen = make_player(total_spend=Decimal("6"), tier=tiers["V4"])

    # when they are evaluated after payments, all at once
    changes = tiers_evaluate(players=[rich, small, same, pinned, fallen], reason=TierChangeReason.PAYMENT)

    # then each that qualifies higher moves, with its history row; a payment never lowers
    assert sorted((c.player_id, c.to_tier_id) for c in changes) == sorted(
        [(rich.pk, tiers["V4"].pk), (small.pk, tiers["V1"].pk)]
    )
    stored = dict(Player.objects.filter(pk__in=[rich.pk, small.pk, pinned.pk, fallen.pk]).values_list("pk", "tier"))
    assert stored == {
        rich.pk: tiers["V4"].pk,
        small.pk: tiers["V1"].pk,
        pinned.pk: tiers["V2"].pk,
        fallen.pk: tiers["V4"].pk,
    }
    assert TierChange.objects.filter(reason=TierChangeReason.PAYMENT).count() == 2
    assert rich.tier == tiers["V4"]  # the objects follow

    # and after a refund (or a rebuild) a tier may also fall at once
    (change,) = tiers_evaluate(players=[fallen], reason=TierChangeReason.REFUND)
    assert (change.from_tier_id, change.to_tier_id) == (tiers["V4"].pk, tiers["V1"].pk)


def test_the_ledger_projection_runs_the_tier_rule_and_names_its_reasons_as_tier_changes_do():
    from players.services import projection

    assert tiers_evaluate in projection._PROJECTION_STEPS
    assert {projection.PAYMENT, projection.REFUND, projection.REBUILD} <= set(TierChangeReason.values)
