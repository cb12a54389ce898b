"""Reads for payer churn: the filters the admin shares, the at-risk worklist and the
churn reports (monthly churn and recovery rates per tier, revenue at risk, trend).

Definitions used by the reports (months are calendar months in TIME_ZONE):

- *payers at the start of a month*: players whose latest status change before the
  month began left them ``active`` or ``at_risk``; their tier is the one recorded
  with that change.
- *churn rate* of a month and tier = players who became ``churned`` in the month /
  payers of that tier at its start.
- *recovery rate* = churned → active changes in the month / players ``churned`` at
  its start; a recovery counts under the tier the player churned from.
- *revenue at risk* = the last-window spend (30 days by default) of at-risk payers;
  the month's figure is the latest nightly snapshot in it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db import connection
from django.db.models import Count, ExpressionWrapper, F, Q, QuerySet, Sum
from django.db.models import DecimalField as DecimalFieldType
from django.utils import timezone

from ..churn_reasons import reasons
from ..models import PayerStatus, Player
from ..models.payer_status import RISK_BANDS, ChurnSnapshot, PlayerChurn
from . import player_scope_q
from .persons import BASIS_PERSON, person_basis, persons_only_q

if TYPE_CHECKING:
    from vip.models import Tier

# --- filters (admin list filters and any API filter call these) ---------------------


def risk_band_q(band: str, path: str = "churn__") -> Q:
    """Players whose churn risk score falls in `band` (see RISK_BANDS)."""
    low, high = RISK_BANDS[band]
    if low == 0:
        return Q(**{f"{path}risk_score": 0}) | Q(**{f"{path.rstrip('_')}__isnull": True})
    return Q(**{f"{path}risk_score__gte": low, f"{path}risk_score__lte": high})


def churn_reason_q(reason: str, path: str = "churn__") -> Q:
    """Players (or, with `path`, rows) for whom this at-risk reason applies: its flag
    (players.churn_reasons; ValueError for a code not registered there)."""
    for registered in reasons():
        if registered.code == reason:
            return Q(**{f"{path}{registered.column}": True})
    raise ValueError(reason)


def at_risk_vips(user) -> QuerySet:
    """At-risk payers holding a VIP tier that `user` may see, most valuable to save
    first: risk score × lifetime spend. A VIP person once (their main account) when
    statuses count per person: every account of theirs is at risk with them."""
    return (
        Player.objects.filter(
            player_scope_q(user), persons_only_q(), payer_status=PayerStatus.AT_RISK, tier__isnull=False
        )
        .select_related("churn", "tier", "manager")
        .annotate(
            priority=ExpressionWrapper(
                F("churn__risk_score") * F("total_spend"),
                output_field=DecimalFieldType(max_digits=20, decimal_places=2),
            )
        )
        .order_by(F("priority").desc(nulls_last=True), "-total_spend", "pk")
    )


def revenue_at_risk(*, user=None) -> dict:
    """Now: at-risk payers and the sum of their last-window spend, per tier id (None:
    no tier) and in total; a VIP person once when statuses count per person."""
    qs = PlayerChurn.objects.filter(persons_only_q("player__"), status=PayerStatus.AT_RISK)
    if user is not None:
        qs = qs.filter(player_scope_q(user, "player"))
    rows = qs.values("player__tier").annotate(revenue=Sum("spend_recent"), players=Count("pk")).order_by()
    by_tier = {r["player__tier"]: (r["players"], max(r["revenue"] or Decimal(0), Decimal(0))) for r in rows}
    return {
        "by_tier": by_tier,
        "players": sum(n for n, _r in by_tier.values()),
        "revenue": sum((r for _n, r in by_tier.values()), Decimal(0)),
    }


# --- the monthly report ---------------------------------------------------------------


@dataclass
class TierMonth:
    payers_at_start: int = 0
    churned: int = 0
    churned_at_start: int = 0
    recovered: int = 0
    revenue_at_risk: Decimal | None = None

    @property
    def churn_rate(self) -> float | None:
        return self.churned / self.payers_at_start if self.payers_at_start else None

    @property
    def recovery_rate(self) -> float | None:
        return self.recovered / self.churned_at_start if self.churned_at_start else None

    @property
    def churn_pct(self) -> float | None:
        return None if self.churn_rate is None else self.churn_rate * 100

    @property
    def recovery_pct(self) -> float | None:
        return None if self.recovery_rate is None else self.recovery_rate * 100


@dataclass
class ChurnReport:
    months: list[date]  # first day of each month, oldest first
    tiers: list[Tier | None]  # None: players without a tier
    cells: dict = field(default_factory=dict)  # (month, tier_id) -> TierMonth

    def cell(self, month: date, tier: Tier | None) -> TierMonth:
        return self.cells.setdefault((month, tier.pk if tier else None), TierMonth())

    def total(self, month: date) -> TierMonth:
        total = TierMonth()
        revenue = [
            c.revenue_at_risk for (m, _t), c in self.cells.items() if m == month and c.revenue_at_risk is not None
        ]
        for (m, _t), c in self.cells.items():
            if m == month:
                total.payers_at_start += c.payers_at_start
                total.churned += c.churned
                total.churned_at_start += c.churned_at_start
                total.recovered += c.recovered
        total.revenue_at_risk = sum(revenue, Decimal(0)) if revenue else None
        return total


def month_starts(*, now: datetime, months: int) -> list[date]:
    today = timezone.localdate(now)
    year, month = today.year, today.month
    starts = []
    for _ in range(months):
        starts.append(date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return starts[::-1]


def _aware(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def churn_report(*, now: datetime | None = None, months: int = 12) -> ChurnReport:
    """Churn and recovery per calendar month and tier over the last `months` months
    (the current month so far included), with the revenue at risk of each month. A VIP
    person of several accounts counts once (per account under CRM_VIP_TIER_BASIS=account)."""
    now = now or timezone.now()
    starts = month_starts(now=now, months=months)
    # vip's tiers, through the foreign key the history rows hold (players does not import vip)
    tiers = list(ChurnSnapshot._meta.get_field("tier").related_model.objects.order_by("level"))
    report = ChurnReport(months=starts, tiers=[*tiers, None])
    bounds = [connection.ops.adapt_datetimefield_value(_aware(m)) for m in [*starts, _next_month(starts[-1])]]
    # Counted per VIP person when statuses are: every account of a person carries the
    # person's status and history, so only the main accounts' rows count (the few linked
    # accounts come from the partial index player_person_linked).
    people = (
        f" AND player_id NOT IN (SELECT id FROM {Player._meta.db_table} WHERE person_account_id IS NOT NULL)"
        if person_basis() == BASIS_PERSON
        else ""
    )

    with connection.cursor() as cursor:
        # Who stood where when each month began: the latest change before it.
        for month, bound in zip(starts, bounds, strict=False):
            cursor.execute(
                f"""
                SELECT tier_id, to_status, COUNT(*) FROM (
                    SELECT tier_id, to_status,
                           ROW_NUMBER() OVER (PARTITION BY player_id ORDER BY changed_at DESC, id DESC) AS rn
                    FROM players_payerstatuschange WHERE changed_at < %s{people}
                ) latest WHERE rn = 1 GROUP BY tier_id, to_status
                """,
                [bound],
            )
            for tier_id, status, count in cursor.fetchall():
                cell = report.cells.setdefault((month, tier_id), TierMonth())
                if status in (PayerStatus.ACTIVE, PayerStatus.AT_RISK):
                    cell.payers_at_start += count
                elif status == PayerStatus.CHURNED:
                    cell.churned_at_start += count

        # Churns and recoveries in each month; a recovery under the tier it churned from.
        which_month = " ".join(f"WHEN changed_at < %s THEN {i}" for i in range(1, len(bounds)))
        cursor.execute(
            f"""
            SELECT CASE {which_month} END AS m, to_status, counted_tier, COUNT(*) FROM (
                SELECT changed_at, to_status,
                       CASE WHEN to_status = 'churned' THEN tier_id
                            ELSE LAG(tier_id) OVER (PARTITION BY player_id ORDER BY changed_at, id) END AS counted_tier
                FROM players_payerstatuschange
                WHERE (to_status = 'churned' OR (from_status = 'churned' AND to_status = 'active')){people}
            ) moves
            WHERE changed_at >= %s AND changed_at < %s
            GROUP BY 1, 2, 3
            """,
            [*bounds[1:], bounds[0], bounds[-1]],
        )
        for m, status, tier_id, count in cursor.fetchall():
            cell = report.cells.setdefault((starts[m - 1], tier_id), TierMonth())
            if status == PayerStatus.CHURNED:
                cell.churned += count
            else:
                cell.recovered += count

    # Revenue at risk: the latest snapshot of each month.
    latest_days = {}
    for day in ChurnSnapshot.objects.filter(day__gte=starts[0]).values_list("day", flat=True).distinct():
        key = date(day.year, day.month, 1)
        latest_days[key] = max(latest_days.get(key, day), day)
    for snap in ChurnSnapshot.objects.filter(day__in=latest_days.values()):
        cell = report.cells.setdefault((date(snap.day.year, snap.day.month, 1), snap.tier_id), TierMonth())
        cell.revenue_at_risk = snap.revenue_at_risk
    for month in starts:  # months with a snapshot show 0 where a tier had nothing at risk
        if month in latest_days:
            for tier in report.tiers:
                cell = report.cell(month, tier)
                if cell.revenue_at_risk is None:
                    cell.revenue_at_risk = Decimal(0)
    return report


def churn_report_rows(report: ChurnReport) -> list[list]:
    """The report as rows for CSV: one per month and tier (and a total per month)."""
    rows = []
    for month in report.months:
        for tier in [*report.tiers, "total"]:
            cell = report.total(month) if tier == "total" else report.cell(month, tier)
            name = "total" if tier == "total" else (tier.name if tier else "-")
            rows.append(
                [
                    month.strftime("%Y-%m"),
                    name,
                    cell.payers_at_start,
                    cell.churned,
                    _rate(cell.churn_rate),
                    cell.churned_at_start,
                    cell.recovered,
                    _rate(cell.recovery_rate),
                    "" if cell.revenue_at_risk is None else f"{cell.revenue_at_risk:.2f}",
                ]
            )
    return rows


def _rate(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.1f}"
