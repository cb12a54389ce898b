"""Payer churn (players.selectors.payer_status): churned and recovered this month, and the
churn and recovery trend over 12 months, from the status transitions."""

from __future__ import annotations

from datetime import datetime, time

from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _

from players.models import PayerStatus
from players.selectors.payer_status import churn_report

from ..aggregates import aggregate
from ..registry import TEAM, Chart, PanelContent, PanelRequest, Tile, admin_url, panel, team_tiles


def colour(hex_colour: str) -> dict:
    return {"borderColor": hex_colour, "backgroundColor": hex_colour}


@aggregate("churn", label=_("Churn and recovery per month"))
def churn_figures(now: datetime) -> dict:
    report = churn_report(now=now, months=12)
    months = []
    for month in report.months:
        total = report.total(month)
        months.append(
            {
                "month": month,
                "churned": total.churned,
                "recovered": total.recovered,
                "churn_pct": total.churn_pct,
                "recovery_pct": total.recovery_pct,
            }
        )
    return {"months": months, "month_start": timezone.make_aware(datetime.combine(report.months[-1], time.min))}


@team_tiles("churn", order=30)
def churn_tiles(ctx: PanelRequest) -> list[Tile]:
    figures = ctx.team.get("churn")
    if not figures or not ctx.user.has_perm("players.view_payerstatuschange"):
        return []
    this_month = figures["months"][-1]
    since = timezone.localtime(figures["month_start"]).isoformat(timespec="seconds")
    return [
        Tile(
            _("Churned this month"),
            f"{this_month['churned']:,}",
            admin_url(
                "players_payerstatuschange_changelist", to_status__exact=PayerStatus.CHURNED, changed_at__gte=since
            ),
            tone="bad" if this_month["churned"] else "",
        ),
        Tile(
            _("Recovered this month"),
            f"{this_month['recovered']:,}",
            admin_url(
                "players_payerstatuschange_changelist",
                from_status__exact=PayerStatus.CHURNED,
                to_status__exact=PayerStatus.ACTIVE,
                changed_at__gte=since,
            ),
            tone="good" if this_month["recovered"] else "",
        ),
    ]


@panel("churn_trend", title=_("Churn and recovery per month"), audience=TEAM, order=16)
def churn_chart(ctx: PanelRequest) -> PanelContent | None:
    figures = ctx.team.get("churn")
    if not figures:
        return None
    months = figures["months"]
    chart = Chart(
        kind="line",
        labels=[date_format(m["month"], "Y-m") for m in months],
        datasets=[
            {"label": str(_("Churned")), "data": [m["churned"] for m in months], **colour("#d9534f")},
            {"label": str(_("Recovered")), "data": [m["recovered"] for m in months], **colour("#2e9e5b")},
        ],
    )
    return PanelContent(chart=chart, more_url=admin_url("players_payerstatuschange_changelist"))
