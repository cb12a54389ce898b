"""Minors' payments over the NPPA caps (国新出发〔2019〕34号): each purchase of a player
under 18 at the time of payment is held against the caps of their age
(`selectors.minors.spend_cap`, settings) per payment and per calendar month (in
TIME_ZONE); each one over raises a `MinorSpendFlag` on the supervisors' queue and the
customer card. Called by the ledger's one writer (`ledger._payments_store`) for the
purchases it has just inserted: the players come back from the insert with their
birthday, so a batch without minors costs no query at all, and the minors' purchases are
held as the insert wrote them (one query: their month so far).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import NamedTuple

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ..models import MinorSpendFlag, MinorSpendRule, Payment, PaymentKind
from ..selectors.minors import ADULT_AGE, age_on, born_after, spend_cap


class _Purchase(NamedTuple):
    pk: int
    player_id: int
    amount_base: Decimal
    occurred_at: datetime


def _local_date(moment: datetime):
    return timezone.localtime(moment).date()


def _month_bounds(moment: datetime) -> tuple[datetime, datetime]:
    local = timezone.localtime(moment)
    start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)
    return start, end


def minor_payments_flag(
    *, players: list, inserted: dict[str, tuple[int, int]], events: list[dict], now: datetime
) -> int:
    """Flag the purchases just inserted (`inserted`: {event id: (payment id, player id)}
    of `events`, the purchases as `events.payment_event_clean` returned them) that players
    under 18 made over their caps. `players` carry `pk` and `birthday`. Returns the flags
    raised."""
    earliest = min(event["occurred_at"] for event in events)
    born = [p for p in players if p.birthday is not None]
    # Nobody born after the cut-off of a day two days before the earliest payment (the
    # earliest local date in any zone, whose cut-off is no later): no minor, and no need
    # to know the local date (~15 µs a payment).
    if not born or max(p.birthday for p in born) <= born_after(earliest.date() - timedelta(days=2), ADULT_AGE):
        return 0
    cutoff = born_after(_local_date(earliest), ADULT_AGE)
    minors = {p.pk: p.birthday for p in born if p.birthday > cutoff}
    if not minors:
        return 0
    # The minors' purchases as inserted (the values the insert wrote: no read back), a
    # batch of 1,000 holds a few dozen.
    payments = sorted(
        (
            _Purchase(found[0], found[1], event["amount_base"], event["occurred_at"])
            for event in events
            if (found := inserted.get(event["event_id"])) is not None and found[1] in minors
        ),
        key=lambda payment: (payment.occurred_at, payment.pk),
    )
    if not payments:
        return 0
    # Each payment's month total: the player's purchases from the start of that payment's
    # calendar month up to its time. Read once for the whole batch (every minor's
    # purchases from the earliest month start to the latest payment), not one query a
    # payment: a thousand events hold dozens of minors' payments on a real player base.
    bounds = {payment.pk: _month_bounds(payment.occurred_at) for payment in payments}
    window: dict[int, list[tuple[datetime, Decimal]]] = {}
    for player_id, occurred_at, amount in Payment.objects.filter(
        player_id__in=sorted({payment.player_id for payment in payments}),
        kind=PaymentKind.PURCHASE,
        occurred_at__gte=min(start for start, _end in bounds.values()),
        occurred_at__lte=max(payment.occurred_at for payment in payments),
    ).values_list("player_id", "occurred_at", "amount_base"):
        window.setdefault(player_id, []).append((occurred_at, amount))
    flags = []
    for payment in payments:
        age = age_on(minors[payment.player_id], _local_date(payment.occurred_at))
        cap = spend_cap(age)
        if cap.per_payment is None:
            continue
        start, end = bounds[payment.pk]
        month_total = sum(
            (
                amount
                for at, amount in window.get(payment.player_id, ())
                if start <= at < end and at <= payment.occurred_at
            ),
            Decimal("0"),
        )
        base = {
            "player_id": payment.player_id,
            "payment_id": payment.pk,
            "age": age,
            "amount": payment.amount_base,
            "month_total": month_total,
            "occurred_at": payment.occurred_at,
            "created_at": now,
        }
        if cap.per_payment == 0:
            flags.append(MinorSpendFlag(rule=MinorSpendRule.NO_PAYMENT, cap=Decimal("0"), **base))
            continue
        if payment.amount_base > cap.per_payment:
            flags.append(MinorSpendFlag(rule=MinorSpendRule.PER_PAYMENT, cap=cap.per_payment, **base))
        if month_total > cap.per_month:
            flags.append(MinorSpendFlag(rule=MinorSpendRule.PER_MONTH, cap=cap.per_month, **base))
    MinorSpendFlag.objects.bulk_create(flags, ignore_conflicts=True)
    return len(flags)


@transaction.atomic
def minor_flag_review(*, flag: MinorSpendFlag, actor, note: str = "", now: datetime | None = None) -> MinorSpendFlag:
    """A supervisor has followed the flag up (refund case opened, guardian reached...)."""
    flag = MinorSpendFlag.objects.select_for_update().get(pk=flag.pk)
    if flag.reviewed_at is not None:
        raise ValidationError(_("This payment was already reviewed."))
    note = (note or "").strip()
    if len(note) > 2000:
        raise ValidationError({"review_note": [_("At most %(max)s characters of text.") % {"max": 2000}]})
    flag.reviewed_at = now or timezone.now()
    flag.reviewed_by = actor
    flag.review_note = note
    flag.save(update_fields=["reviewed_at", "reviewed_by", "review_note"])
    return flag
