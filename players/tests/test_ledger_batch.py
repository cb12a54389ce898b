"""The set-based batch ledger service, as imports call it (typed values, source="import")."""

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from players.models import PayerStatus, Payment, Player
from players.services import payment_record
from players.services.activity import logins_record_batch
from players.services.ledger_batch import payments_record_batch
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
    assert [(c.to_tier, c.reason) for c in TierChange.objects.filter(player=player).order_by("id")] == [
        (tiers["V5"], TierChangeReason.PAYMENT),
        (tiers["V4"], TierChangeReason.REFUND),
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
