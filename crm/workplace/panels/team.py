"""The supervisor's team view: KPI tiles and trends from the cached aggregates."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _

from campaigns.models import OutreachTask, TaskStatus
from crm.formatting import CURRENCY_SYMBOLS, money
from crm.names import staff_name
from players.models import ContactOutcome, PayerStatus, Payment, PaymentKind, Player
from vip.models import Tier

from ..aggregates import aggregate
from ..registry import (
    TEAM,
    Chart,
    PanelContent,
    PanelRequest,
    Row,
    Tile,
    admin_url,
    built_team_tiles,
    panel,
    team_tiles,
)

REVENUE_DAYS = 30
TREND_MONTHS = 12
SUCCESS_OUTCOMES = (ContactOutcome.REACHED, ContactOutcome.PROMISED_RETURN)


def _iso(value: datetime) -> str:
    return timezone.localtime(value).isoformat(timespec="seconds")


def month_starts(now: datetime, months: int = TREND_MONTHS) -> list[datetime]:
    """The first instant (local time) of each of the last `months` months, oldest first."""
    local = timezone.localtime(now)
    year, month = local.year, local.month
    starts = []
    for _n in range(months):
        starts.append(local.replace(year=year, month=month, day=1, hour=0, minute=0, second=0, microsecond=0))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return starts[::-1]


def next_month_start(start: datetime) -> datetime:
    """The first instant (local time) of the month after the one `start` begins."""
    year, month = (start.year, start.month + 1) if start.month < 12 else (start.year + 1, 1)
    return timezone.make_aware(datetime(year, month, 1))


def money_whole(amount) -> str:
    """¥350,038: a tile has no room for cents."""
    symbol = CURRENCY_SYMBOLS.get(settings.CRM_BASE_CURRENCY, settings.CRM_BASE_CURRENCY + " ")
    return f"{'-' if amount < 0 else ''}{symbol}{abs(int(amount)):,}"


# --- aggregates (computed by the periodic refresh) ---------------------------


@aggregate("tiers", label=_("Players and revenue per tier"))
def tier_figures(now: datetime) -> dict:
    """Players per tier and net revenue of the last 30 days per (current) tier."""
    since = now - timedelta(days=REVENUE_DAYS)
    players = dict(Player.objects.order_by().values_list("tier_id").annotate(n=Count("id")).values_list("tier_id", "n"))
    revenue = {
        row["player__tier_id"]: (row["purchases"] or Decimal(0)) - (row["refunds"] or Decimal(0))
        for row in Payment.objects.filter(occurred_at__gte=since)
        .order_by()
        .values("player__tier_id")
        .annotate(
            purchases=Sum("amount_base", filter=Q(kind=PaymentKind.PURCHASE)),
            refunds=Sum("amount_base", filter=Q(kind=PaymentKind.REFUND)),
        )
    }
    return {"since": since, "players": players, "revenue": revenue}


@aggregate("at_risk_vips", label=_("At-risk VIPs"))
def at_risk_vips(now: datetime) -> int:
    return Player.objects.filter(payer_status=PayerStatus.AT_RISK, tier__isnull=False).count()


@aggregate("lapsed_this_month", label=_("Stopped paying this month"))
def lapsed_this_month(now: datetime) -> dict:
    """Payers whose 30-day silence began this month: last paid between (month start −
    30 days) and (now − 30 days). The churn tracking's transitions replace it once present."""
    month_start = month_starts(now, 1)[0]
    low, high = month_start - timedelta(days=30), now - timedelta(days=30)
    count = Player.objects.filter(last_paid_at__gte=low, last_paid_at__lt=high, total_spend__gt=0).count()
    return {"count": count, "low": low, "high": high}


@aggregate("outreach", label=_("Outreach success, 30 days"))
def outreach_figures(now: datetime) -> dict:
    """Outreach tasks finished in the last 30 days and how many reached the player."""
    since = now - timedelta(days=REVENUE_DAYS)
    done = OutreachTask.objects.filter(status=TaskStatus.DONE, completed_at__gte=since)
    figures = done.aggregate(done=Count("id"), reached=Count("id", filter=Q(outcome__in=SUCCESS_OUTCOMES)))
    return {"since": since, **figures}


@aggregate("overdue_by_manager", label=_("Overdue tasks per manager"))
def overdue_by_manager(now: datetime) -> list[tuple[int | None, int]]:
    """Open tasks past their due date, per assignee, most first (top 15)."""
    today = timezone.localdate(now)
    rows = (
        OutreachTask.objects.filter(status=TaskStatus.OPEN, due_date__lt=today)
        .order_by()
        .values("assignee_id")
        .annotate(n=Count("id"))
        .order_by("-n")[:15]
    )
    return {"today": today, "rows": [(r["assignee_id"], r["n"]) for r in rows]}


@aggregate("revenue_trend", label=_("Revenue per month"))
def revenue_trend(now: datetime) -> list[tuple[datetime, Decimal]]:
    """Net revenue per month over the last 12 months (local months).

    Bounded above too: one stored payment dated in year 9999 (an old row, a database
    edit) would otherwise be truncated to a month PostgreSQL cannot return, and the
    whole chart would vanish from the dashboard."""
    starts = month_starts(now)
    end = next_month_start(starts[-1])
    by_month = {
        timezone.localtime(row["month"]).date(): (row["purchases"] or Decimal(0)) - (row["refunds"] or Decimal(0))
        for row in Payment.objects.filter(occurred_at__gte=starts[0], occurred_at__lt=end)
        .annotate(month=TruncMonth("occurred_at"))
        .order_by()
        .values("month")
        .annotate(
            purchases=Sum("amount_base", filter=Q(kind=PaymentKind.PURCHASE)),
            refunds=Sum("amount_base", filter=Q(kind=PaymentKind.REFUND)),
        )
    }
    return [(start, by_month.get(start.date(), Decimal(0))) for start in starts]


# --- panels -------------------------------------------------------------------


def _tiers():
    return list(Tier.objects.order_by("-level"))


@panel("kpis", title=_("Team at a glance"), audience=TEAM, order=10, wide=True)
def kpis(ctx: PanelRequest) -> PanelContent | None:
    """The tiles every area registers with `team_tiles`, in their order."""
    tiles = built_team_tiles(ctx)
    return PanelContent(tiles=tiles) if tiles else None


@team_tiles("players", order=10)
def player_tiles(ctx: PanelRequest) -> list[Tile]:
    team, tiles = ctx.team, []
    if "tiers" in team:
        tiers = team["tiers"]
        total_revenue = sum(tiers["revenue"].values(), Decimal(0))
        vip_players = sum(n for tier_id, n in tiers["players"].items() if tier_id is not None)
        tiles.append(
            Tile(_("VIP players"), f"{vip_players:,}", admin_url("players_player_changelist", tier__isnull="False"))
        )
        tiles.append(
            Tile(
                _("Revenue, 30 days"),
                money_whole(total_revenue),
                admin_url("players_payment_changelist", occurred_at__gte=_iso(tiers["since"])),
            )
        )
    if "at_risk_vips" in team:
        tiles.append(
            Tile(
                _("At-risk VIPs"),
                f"{team['at_risk_vips']:,}",
                admin_url("players_player_changelist", payer_status__exact=PayerStatus.AT_RISK, tier__isnull="False"),
                tone="warn" if team["at_risk_vips"] else "",
            )
        )
    return tiles


@team_tiles("lapsed", order=30)
def lapsed_tiles(ctx: PanelRequest) -> list[Tile]:
    if "lapsed_this_month" not in ctx.team or "churn" in ctx.team:  # the churn tracking's figure wins
        return []
    lapsed = ctx.team["lapsed_this_month"]
    return [
        Tile(
            _("Stopped paying this month"),
            f"{lapsed['count']:,}",
            admin_url(
                "players_player_changelist",
                last_paid_at__gte=_iso(lapsed["low"]),
                last_paid_at__lt=_iso(lapsed["high"]),
            ),
            note=_("no payment for 30 days"),
            tone="bad" if lapsed["count"] else "",
        )
    ]


@team_tiles("outreach", order=50)
def outreach_tiles(ctx: PanelRequest) -> list[Tile]:
    if "outreach" not in ctx.team:
        return []
    outreach = ctx.team["outreach"]
    rate = f"{outreach['reached'] * 100 / outreach['done']:.0f}%" if outreach["done"] else "–"
    return [
        Tile(
            _("Outreach success, 30 days"),
            rate,
            admin_url(
                "campaigns_outreachtask_changelist",
                status__exact=TaskStatus.DONE,
                completed_at__gte=_iso(outreach["since"]),
            ),
            note=_("%(reached)s of %(done)s tasks reached the player") % outreach,
        )
    ]


@panel("tiers", title=_("Players and revenue per tier"), audience=TEAM, order=20)
def tiers_panel(ctx: PanelRequest) -> PanelContent | None:
    if "tiers" not in ctx.team:
        return None
    figures = ctx.team["tiers"]
    rows = []
    for tier in _tiers():
        rows.append(
            Row(
                text=f"{figures['players'].get(tier.pk, 0):,}",
                url=admin_url("players_player_changelist", tier__id__exact=tier.pk),
                meta=money(figures["revenue"].get(tier.pk, Decimal(0))),
                badge=tier.name,
                badge_colour=tier.colour,
            )
        )
    rows.append(
        Row(
            text=f"{figures['players'].get(None, 0):,}",
            url=admin_url("players_player_changelist", tier__isnull="True"),
            meta=money(figures["revenue"].get(None, Decimal(0))),
            badge=str(_("no tier")),
        )
    )
    return PanelContent(rows=rows, note=_("players · revenue of the last 30 days"))


@panel("overdue", title=_("Overdue tasks per manager"), audience=TEAM, order=30)
def overdue_panel(ctx: PanelRequest) -> PanelContent | None:
    if "overdue_by_manager" not in ctx.team:
        return None
    figures = ctx.team["overdue_by_manager"]
    users = get_user_model().objects.in_bulk([pk for pk, _n in figures["rows"] if pk])
    rows = []
    for pk, n in figures["rows"]:
        user = users.get(pk)
        name = staff_name(user) if user else str(_("(nobody)"))
        params = {"status__exact": TaskStatus.OPEN, "due_date__lt": figures["today"].isoformat()}
        if pk:
            params["assignee__id__exact"] = pk
        else:
            params["assignee__isnull"] = "True"
        rows.append(Row(text=name, url=admin_url("campaigns_outreachtask_changelist", **params), meta=f"{n:,}"))
    return PanelContent(rows=rows, empty=_("No overdue tasks."))


@panel("revenue_trend", title=_("Revenue per month"), audience=TEAM, order=15)
def revenue_chart(ctx: PanelRequest) -> PanelContent | None:
    if "revenue_trend" not in ctx.team:
        return None
    points = ctx.team["revenue_trend"]
    chart = Chart(
        kind="bar",
        labels=[date_format(start, "Y-m") for start, _v in points],
        datasets=[{"label": str(_("Net revenue")), "data": [float(v) for _s, v in points]}],
        money=True,
    )
    return PanelContent(chart=chart, more_url=admin_url("players_payment_changelist"))
