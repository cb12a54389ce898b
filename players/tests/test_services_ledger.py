"""The set-based batch ledger service, as imports call it (typed values, source="import")."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import time_machine
from django.utils import timezone

from players.models import PayerStatus, Payment, Player
from players.models.payer_status import PayerStatusChange
from players.services import payment_record
from players.services.activity import logins_record_batch
from players.services.ledger import payments_record_batch
from vip.models import TierChange, TierChangeReason


def test_import_batch_with_typed_values_records_like_payment_record(tiers):
    at = timezone.now() - timedelta(days=2)
    events = [
        {"event_id": "r1", "kind": "purchase", "account_id": "imp-1", "amount": Decimal("600"), "currency": "CNY",
         "occurred_at": at},
        {"event_id": "r2", "kind": "purchase", "account_id": "imp-1", "amount": Decimal("400"), "currency": "CNY",
         "occurred_at": at + timedelta(hours=1)},
        {"event_id": "r3", "kind": "refund", "account_id": "imp-1", "amount": Decimal("500"), "currency": "CNY",
         "occurred_at": at + timedelta(hours=2), "refund_of": "r1"},
    ]  # fmt: skip

    result = payments_record_batch(events=events, source="import", source_ref="file-7")

    assert (result.created, result.duplicates, result.conflicts, result.errors) == (3, 0, 0, [])
    player = Player.objects.get(account_id="imp-1")
    assert (player.total_spend, player.purchase_count, player.first_paid_at, player.last_paid_at) == (
        Decimal("500.00"),
        2,
        at,
        at + timedelta(hours=1),
    )
    assert player.tier == tiers["V4"] and player.payer_status == PayerStatus.ACTIVE
    # the batch's players are projected once, from the ledger as the batch left it: the
    # net effect (V4), not a V5 the refund in the same batch took back
    assert [(c.to_tier, c.reason) for c in TierChange.objects.filter(player=player).order_by("id")] == [
        (tiers["V4"], TierChangeReason.PAYMENT),
    ]
    assert set(Payment.objects.values_list("source", "source_ref")) == {("import", "file-7")}
    assert result.player_ids == {player.pk}

    again = payments_record_batch(events=events, source="import", source_ref="file-7")
    assert (again.created, again.duplicates) == (0, 3)


def test_batch_and_single_event_agree_on_duplicates(make_player):
    player = make_player(account_id="same")
    at = timezone.now()
    payment_record(account_id="same", event_id="e", kind="purchase", amount=Decimal("6"), currency="CNY",
                   occurred_at=at, source="import")  # fmt: skip
    result = payments_record_batch(
        events=[{"event_id": "e", "type": "purchase", "account_id": "same", "amount": "6.00", "currency": "CNY",
                 "occurred_at": at.isoformat()}],
        source="import",
    )  # fmt: skip
    assert (result.created, result.duplicates) == (0, 1)
    player.refresh_from_db()
    assert player.total_spend == Decimal("6")


def test_logins_service_reports_the_players_it_moved(make_player):
    now = timezone.now()
    moved = make_player(account_id="m", last_login_at=now - timedelta(days=3))
    make_player(account_id="stay", last_login_at=now)
    result = logins_record_batch(
        events=[{"account_id": "m", "occurred_at": now}, {"account_id": "stay", "occurred_at": now - timedelta(1)}]
    )
    assert result.created == 2 and result.player_ids == {moved.pk}


def _state(account_id: str) -> tuple:
    """What a manager sees of a player after payments: totals, tier, status, churn
    figures, and the status and tier history."""
    player = Player.objects.select_related("tier", "churn").get(account_id=account_id)
    churn = player.churn
    return (
        (player.total_spend, player.purchase_count, player.first_paid_at, player.last_paid_at),
        (player.tier.name if player.tier else None, player.tier_since, player.payer_status),
        (churn.status, churn.risk_score, churn.reason_overdue, churn.reason_spend_drop, churn.reason_no_login),
        (churn.median_gap_days, churn.median_purchases, churn.spend_recent, churn.spend_previous),
        [
            (c.from_status, c.to_status, c.trigger, c.tier_id)
            for c in PayerStatusChange.objects.filter(player=player).order_by("id")
        ],
        [(c.from_tier_id, c.to_tier_id, c.reason) for c in TierChange.objects.filter(player=player).order_by("id")],
    )


def test_a_batch_leaves_players_as_the_same_events_one_at_a_time_would(tiers):
    # Twin players with the same past: one gets its new purchase alone, the other in a batch.
    t0 = datetime(2026, 6, 1, 4, 0, tzinfo=UTC)
    pasts = {
        "lapsed": [(120, "300"), (100, "300"), (80, "300")],  # churned; V4, and V5 after the purchase
        "slowing": [(50, "1000"), (10, "100")],  # at risk: spend fell
        "regular": [(20, "100"), (10, "100"), (3, "100")],  # active; V3, V4 after the purchase
        "unknown": [],  # created by the purchase
    }
    with time_machine.travel(t0, tick=False):
        for twin in ("alone", "batch"):
            for name, past in pasts.items():
                for n, (days_ago, amount) in enumerate(past):
                    payment_record(account_id=f"{twin}-{name}", event_id=f"{twin}-{name}-{n}", kind="purchase",
                                   amount=Decimal(amount), currency="CNY", occurred_at=t0 - timedelta(days=days_ago),
                                   source="import")  # fmt: skip
        at = t0 - timedelta(hours=1)
        for name in pasts:
            payment_record(account_id=f"alone-{name}", event_id=f"alone-{name}-new", kind="purchase",
                           amount=Decimal("250"), currency="CNY", occurred_at=at, source="api")  # fmt: skip
        result = payments_record_batch(
            events=[
                {"event_id": f"batch-{name}-new", "type": "purchase", "account_id": f"batch-{name}", "amount": "250",
                 "currency": "CNY", "occurred_at": at.isoformat()}
                for name in pasts
            ],
            source="api",
        )  # fmt: skip

    assert (result.created, result.errors) == (4, [])
    for name in pasts:
        assert _state(f"batch-{name}") == _state(f"alone-{name}"), name
    lapsed = _state("batch-lapsed")
    assert lapsed[1] == ("V5", t0, PayerStatus.ACTIVE)
    assert lapsed[4][-1][:3] == (PayerStatus.CHURNED, PayerStatus.ACTIVE, "payment")
    assert _state("batch-regular")[1] == ("V4", t0, PayerStatus.ACTIVE)


def test_rebuild_projects_tier_and_payer_status_from_the_ledger(make_player, pay, tiers):
    from players.services.ledger import players_totals_rebuild

    # given a player whose stored totals drifted above the ledger
    player = make_player()
    pay(player, "100")
    Player.objects.filter(pk=player.pk).update(total_spend=Decimal("5000"), tier=tiers["V6"])

    # when the totals are rebuilt
    assert players_totals_rebuild(player_ids=[player.pk]) == [player.pk]

    # then the totals are the ledger's, and the tier follows them, with its reason
    player.refresh_from_db()
    assert (player.total_spend, player.tier) == (Decimal("100.00"), tiers["V3"])
    assert TierChange.objects.filter(player=player).latest("id").reason == TierChangeReason.REBUILD
    assert player.payer_status == PayerStatus.ACTIVE


def test_the_fingerprint_is_the_digest_of_the_sorted_json_stored_fingerprints_were_made_of():
    """payment_fingerprint writes the JSON out by hand for speed; a stored fingerprint was the
    SHA-256 of json.dumps(content, sort_keys=True), and a retry must still match it."""
    import hashlib
    import json

    from players.models import PaymentKind
    from players.services.ledger import payment_fingerprint

    def reference(*, account_id, kind, amount, currency, occurred_at, server="", order_id="", product="",
                  refund_of=""):  # fmt: skip
        content = {
            "account_id": str(account_id),
            "kind": kind,
            "amount": str(Decimal(amount).quantize(Decimal("0.01"))),
            "currency": currency.upper(),
            "occurred_at": occurred_at.astimezone(UTC).isoformat(),
            "server": server or "",
            "order_id": order_id or "",
            "product": product or "",
            "refund_of": refund_of or "",
        }
        return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()

    shanghai = timezone.get_fixed_timezone(480)
    cases = [
        {"account_id": "10086", "kind": "purchase", "amount": Decimal("648"), "currency": "cny",
         "occurred_at": datetime(2026, 11, 22, 10, 0, tzinfo=shanghai)},
        {"account_id": 10086, "kind": PaymentKind.REFUND, "amount": "6.5", "currency": "USD",
         "occurred_at": datetime(2026, 11, 22, 2, 0, 0, 123456, tzinfo=UTC), "server": "s1",
         "order_id": 'ord "42"\\n\t', "product": "6480 钻石 💎\u2028", "refund_of": "ord-1"},
        {"account_id": "玩家\x7f\x01", "kind": "purchase", "amount": Decimal("1000000.00"), "currency": "CNY",
         "occurred_at": datetime(2000, 1, 1, tzinfo=UTC), "server": None, "order_id": None, "product": "",
         "refund_of": None},
    ]  # fmt: skip
    for case in cases:
        assert payment_fingerprint(**case) == reference(**case), case
