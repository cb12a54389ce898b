"""Minors, derived from the date of birth (never a hand-set flag): the cut-off dates the
SQL of the targeting and the payment check compare birthdays with, and the NPPA caps
by age (settings, which regulators change)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.conf import settings
from django.db.models import Case, CharField, Q, Value, When
from django.utils import timezone

from ..models.minors import ADULT_AGE, CHILD_AGE, MinorBand, age_on, born_after

__all__ = [
    "ADULT_AGE",
    "CHILD_AGE",
    "age_on",
    "born_after",
    "minor_band",
    "minor_cutoff",
    "minor_sql",
    "SpendCap",
    "spend_cap",
]


def minor_cutoff(today: date | None = None) -> date:
    """Players born after this date are minors on `today`."""
    return born_after(today or timezone.localdate(), ADULT_AGE)


def minor_sql(alias: str = "p", today: date | None = None) -> tuple[str, list]:
    """ "The player row `alias` is a minor today" as SQL (false without a birthday)."""
    return f"{alias}.birthday > %s", [minor_cutoff(today)]


def minor_band(today: date | None = None) -> Case:
    """The player's `MinorBand` on `today` as a query expression (NULL without a birthday):
    `Player.is_minor` and `Player.is_child` for a whole list in its query."""
    today = today or timezone.localdate()
    return Case(
        When(birthday__gt=born_after(today, CHILD_AGE), then=Value(MinorBand.CHILD.value)),
        When(birthday__gt=minor_cutoff(today), then=Value(MinorBand.MINOR.value)),
        When(birthday__isnull=False, then=Value(MinorBand.ADULT.value)),
        default=None,
        output_field=CharField(),
    )


def minor_q(band: str, today: date | None = None) -> Q:
    """Players in `band` on `today`: MINOR is every minor (under 18, children included),
    CHILD those under 14, ADULT those with a birthday making them 18 or over (the player
    list's filter; the same cut-offs as `minor_band`)."""
    today = today or timezone.localdate()
    if band == MinorBand.CHILD:
        return Q(birthday__gt=born_after(today, CHILD_AGE))
    if band == MinorBand.MINOR:
        return Q(birthday__gt=minor_cutoff(today))
    return Q(birthday__lte=minor_cutoff(today))


@dataclass(frozen=True)
class SpendCap:
    per_payment: Decimal | None  # None: no cap (an adult)
    per_month: Decimal | None


def _caps_setting() -> list[tuple[int, Decimal, Decimal]]:
    """CRM_MINOR_SPEND_CAPS "8:50:200,16:100:400" as [(from age, per payment, per month)]."""
    caps = []
    for part in str(getattr(settings, "CRM_MINOR_SPEND_CAPS", "")).split(","):
        if part.strip():
            age, payment, month = (x.strip() for x in part.split(":"))
            caps.append((int(age), Decimal(payment), Decimal(month)))
    return sorted(caps)


def spend_cap(age: int | None) -> SpendCap:
    """The NPPA caps for a player of `age`: nothing allowed under
    CRM_MINOR_NO_PAYMENT_UNDER, the configured band's caps up to 18, none for adults."""
    if age is None or age >= ADULT_AGE:
        return SpendCap(None, None)
    if age < int(getattr(settings, "CRM_MINOR_NO_PAYMENT_UNDER", 8)):
        return SpendCap(Decimal("0"), Decimal("0"))
    found = SpendCap(Decimal("0"), Decimal("0"))
    for from_age, payment, month in _caps_setting():
        if age >= from_age:
            found = SpendCap(payment, month)
    return found
