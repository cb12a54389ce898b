from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from players.models import PayerStatus, Payment, Player
from players.services import payment_record, players_totals_rebuild


def test_purchase_moves_totals_and_makes_a_payer(make_player, pay):
    player = make_player()
    first = timezone.now() - timedelta(days=3)
    pay(player, "648.00", at=first)
    pay(player, "30.00")

    player.refresh_from_db()
    assert player.total_spend == Decimal("678.00")
    assert player.purchase_count == 2
    assert player.first_paid_at == first
    assert player.payer_status == PayerStatus.ACTIVE


def test_same_event_twice_is_a_duplicate_and_changes_nothing(make_player, pay):
    player = make_player()
    at = timezone.now()
    assert pay(player, "100", event_id="e1", at=at).status == "created"
    again = pay(player, "100", event_id="e1", at=at)

    player.refresh_from_db()
    assert again.status == "duplicate"
    assert player.total_spend == Decimal("100")
    assert Payment.objects.count() == 1


def test_same_event_with_other_content_is_a_conflict(make_player, pay):
    player = make_player()
    pay(player, "100", event_id="e1")
    result = pay(player, "200", event_id="e1")

    player.refresh_from_db()
    assert result.status == "conflict"
    assert player.total_spend == Decimal("100")


def test_unknown_account_is_created_by_its_first_payment(db):
    payment_record(
        account_id="10086",
        event_id="x",
        kind="purchase",
        amount=Decimal("6"),
        currency="CNY",
        occurred_at=timezone.now(),
        source="api",
        source_ref="1",
        server="s2",
    )
    assert Player.objects.get(account_id="10086").server == "s2"


@pytest.mark.parametrize(
    ("amount", "field"),
    [
        (Decimal("0"), "amount"),
        (Decimal("-5"), "amount"),
        (Decimal("1.005"), "amount"),
        (Decimal("1000000.01"), "amount"),
    ],
)
def test_bad_amounts_are_rejected_naming_the_field(make_player, pay, amount, field):
    player = make_player()
    with pytest.raises(ValidationError) as exc:
        pay(player, amount)
    assert field in exc.value.message_dict
    assert Payment.objects.count() == 0


def test_far_future_and_naive_times_are_rejected(make_player, pay):
    player = make_player()
    with pytest.raises(ValidationError) as exc:
        pay(player, "6", at=timezone.now() + timedelta(hours=25))
    assert "occurred_at" in exc.value.message_dict


def test_unconfigured_currency_is_rejected(make_player, pay, settings):
    player = make_player()
    with pytest.raises(ValidationError) as exc:
        pay(player, "6", currency="USD")
    assert "currency" in exc.value.message_dict
    settings.CRM_CURRENCY_RATES = {"USD": "7.10"}
    pay(player, "10", currency="USD")
    player.refresh_from_db()
    assert player.total_spend == Decimal("71.00")


def test_refund_lowers_spend_and_a_full_refund_makes_a_non_payer(make_player, pay):
    player = make_player()
    pay(player, "100", event_id="p1")
    pay(player, "40", kind="refund", refund_of="p1")
    player.refresh_from_db()
    assert player.total_spend == Decimal("60")
    pay(player, "60", kind="refund", refund_of="p1")
    player.refresh_from_db()
    assert player.total_spend == Decimal("0")
    assert player.payer_status == PayerStatus.NON_PAYER


def test_refund_larger_than_spend_is_rejected_on_amount(make_player, pay):
    player = make_player()
    pay(player, "30")
    with pytest.raises(ValidationError) as exc:
        pay(player, "31", kind="refund")
    assert "amount" in exc.value.message_dict
    player.refresh_from_db()
    assert player.total_spend == Decimal("30")


def test_refund_of_an_unknown_purchase_is_rejected(make_player, pay):
    player = make_player()
    pay(player, "30")
    with pytest.raises(ValidationError) as exc:
        pay(player, "10", kind="refund", refund_of="nope")
    assert "refund_of" in exc.value.message_dict


def test_rebuild_corrects_drifted_totals(make_player, pay):
    player = make_player()
    pay(player, "100")
    Player.objects.filter(pk=player.pk).update(total_spend=Decimal("5"), purchase_count=9)
    assert players_totals_rebuild() == [player.pk]
    player.refresh_from_db()
    assert (player.total_spend, player.purchase_count) == (Decimal("100"), 1)
    assert players_totals_rebuild() == []


HOSTILE_EVENTS = [
    {"amount": Decimal("0.001")},
    {"amount": Decimal("-5")},
    {"amount": Decimal("NaN")},
    {"amount": Decimal("1000000.01")},
    {"kind": "gift"},
    {"currency": "XYZ"},
    {"occurred_at": None},
    {"occurred_at": timezone.now().replace(tzinfo=None)},
    {"occurred_at": timezone.now() + timedelta(days=3)},
    {"event_id": "e" * 129},
    {"account_id": "  "},
    {"order_id": "bad\x00id"},
]


@pytest.mark.parametrize("change", HOSTILE_EVENTS, ids=lambda c: next(iter(c)))
def test_payment_record_refuses_what_the_api_and_imports_refuse_with_the_same_errors(make_player, change):
    """One check of a payment's values for every door: payment_record's errors are the
    API's (events.payment_event_clean), field for field."""
    from players.services.events import payment_event_clean

    player = make_player()
    event = {
        "account_id": player.account_id,
        "event_id": "one-check",
        "kind": "purchase",
        "amount": Decimal("6.00"),
        "currency": "CNY",
        "occurred_at": timezone.now() - timedelta(hours=1),
        **change,
    }
    _clean, api_errors = payment_event_clean({**{k: v for k, v in event.items() if k != "kind"}, "type": event["kind"]})
    assert api_errors
    with pytest.raises(ValidationError) as refused:
        payment_record(**event, source="api")
    assert refused.value.message_dict == api_errors
    assert not Payment.objects.filter(player=player).exists()
