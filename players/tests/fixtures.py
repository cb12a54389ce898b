import itertools
from datetime import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from players.models import PaymentSource, Player
from players.services import payment_record

_ids = itertools.count(1)


@pytest.fixture
def make_player(db):
    def make(**fields):
        fields.setdefault("account_id", f"acc-{next(_ids)}")
        fields.setdefault("server", "s1")
        fields.setdefault("nickname", "玩家")
        return Player.objects.create(**fields)

    return make


@pytest.fixture
def consent(db):
    """consent(player, "sms", "email", status="granted", purpose="marketing") records
    what the player said through the consent ledger's writer (as staff would)."""
    from players.models import ConsentSource
    from players.services.consents import consent_record

    def record(player, *channels, status="granted", purpose="marketing", **extra):
        for channel in channels:
            consent_record(
                player=player,
                channel=channel,
                purpose=purpose,
                status=status,
                source=extra.get("source", ConsentSource.STAFF),
                evidence=extra.get("evidence", "玩家在电话中同意"),
                occurred_at=extra.get("occurred_at"),
                now=extra.get("now"),
            )
        return player

    return record


@pytest.fixture
def pay(db):
    """pay(player, "648.00") records a purchase through the ledger service."""
    counter = itertools.count(1)

    def record(player, amount, *, kind="purchase", at: datetime | None = None, event_id=None, **extra):
        return payment_record(
            account_id=player.account_id,
            event_id=event_id or f"evt-{player.pk}-{next(counter)}",
            kind=kind,
            amount=Decimal(str(amount)),
            currency=extra.pop("currency", "CNY"),
            occurred_at=at or timezone.now(),
            source=extra.pop("source", PaymentSource.MANUAL),
            **extra,
        )

    return record


@pytest.fixture
def make_case(db):
    """make_case(player, actor=None, **fields) opens a case through the service."""
    from players.services.cases import case_open

    def make(player, *, actor=None, category="complaint", subject="充值未到账", **fields):
        return case_open(player=player, category=category, subject=subject, actor=actor, **fields)

    return make


@pytest.fixture(autouse=True)
def churn_rules_not_remembered():
    """A test's rolled-back rule edits must not outlive it in the churn rules memo."""
    from players.services.payer_status import churn_rules_forget

    churn_rules_forget()
    yield
    churn_rules_forget()
