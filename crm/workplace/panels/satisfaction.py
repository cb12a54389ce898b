"""Satisfaction surveys (players.models.surveys): the team's results over 30 days, per
manager and per category (a case's category, or "return visit")."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from crm.names import staff_name
from players.models import SatisfactionSurvey
from players.models.surveys import SURVEY_CATEGORIES
from players.selectors.surveys import survey_low_score, survey_results, survey_total

from ..aggregates import aggregate
from ..registry import PANEL_ROWS, TEAM, PanelContent, PanelRequest, Row, Tile, admin_url, panel

DAYS = 30


@aggregate("satisfaction", label=_("Satisfaction, 30 days"))
def satisfaction_figures(now: datetime) -> dict:
    since = now - timedelta(days=DAYS)
    surveys = SatisfactionSurvey.objects.filter(sent_at__gte=since)
    return {
        "since": since,
        "total": survey_total(surveys),
        "managers": survey_results(surveys, by="manager_id"),
        "categories": survey_results(surveys, by="category"),
    }


def _score(row) -> str:
    if row["average"] is None:
        return "–"
    return f"★ {row['average']:.1f}"


@panel(
    "satisfaction",
    title=_("Satisfaction, 30 days"),
    audience=TEAM,
    order=35,
    permissions=["players.view_satisfactionsurvey"],
)
def satisfaction_panel(ctx: PanelRequest) -> PanelContent | None:
    figures = (ctx.team or {}).get("satisfaction")
    if figures is None:
        return None
    names = {
        u.pk: staff_name(u)
        for u in get_user_model().objects.filter(
            pk__in=[r["manager_id"] for r in figures["managers"] if r["manager_id"]]
        )
    }
    categories = dict(SURVEY_CATEGORIES)

    def meta(row):
        return _("%(answered)d of %(sent)d answered, %(low)d low") % row

    rows = [
        Row(
            text=names.get(row["manager_id"], str(_("nobody"))),
            url=admin_url("players_satisfactionsurvey_changelist", manager__id__exact=row["manager_id"]),
            meta=f"{_score(row)} · {meta(row)}",
            badge=str(_("manager")),
            badge_colour="#417690",
            tone="bad" if row["average"] is not None and row["average"] < 3 else "",
        )
        for row in sorted(figures["managers"], key=lambda r: (r["average"] is None, r["average"] or 0))
    ][: PANEL_ROWS // 2 + 1]
    rows += [
        Row(
            text=str(categories.get(row["category"], row["category"])),
            url=admin_url("players_satisfactionsurvey_changelist", category=row["category"]),
            meta=f"{_score(row)} · {meta(row)}",
            badge=str(_("category")),
            badge_colour="#6d4c41",
            tone="bad" if row["average"] is not None and row["average"] < 3 else "",
        )
        for row in figures["categories"]
    ][: PANEL_ROWS - len(rows)]
    total = figures["total"]
    return PanelContent(
        tiles=[
            Tile(str(_("Average score")), _score(total), admin_url("players_satisfactionsurvey_changelist")),
            Tile(
                str(_("Answered")),
                f"{total['answered']:,} / {total['sent']:,}",
                admin_url("players_satisfactionsurvey_changelist", status="answered"),
            ),
            Tile(
                str(_("Low scores")),
                f"{total['low']:,}",
                admin_url("players_satisfactionsurvey_changelist", score__lte=survey_low_score()),
                tone="bad" if total["low"] else "",
            ),
        ],
        rows=rows,
        empty=_("No survey was sent in the last 30 days."),
    )
