"""Service records (players.selectors.service_records): a manager's overdue cases, the team's
SLA, overdue and escalated cases."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.privacy import free_text_for
from players.models import CLOCK_RUNNING, OPEN_STATUSES, Case
from players.selectors.service_records import cases_due_soon_for, cases_overdue_for

from ..aggregates import aggregate
from ..player_actions import QuickAction, quick_action
from ..registry import MY_DAY, PANEL_ROWS, PanelContent, PanelRequest, Row, Tile, admin_url, panel, team_tiles

SLA_DAYS = 30


def _hours(delta: timedelta) -> int:
    return int(abs(delta.total_seconds()) // 3600)


@panel("cases", title=_("Overdue cases"), audience=MY_DAY, order=30, permissions=["players.view_case"])
def overdue_cases(ctx: PanelRequest) -> PanelContent:
    """Cases I own past their SLA (index case_owner_worklist), then those due within 24 hours."""
    now = timezone.now()
    overdue = cases_overdue_for(ctx.user, now=now)
    rows = [
        Row(
            text=f"#{c.pk} {free_text_for(ctx.user, c.subject)} · {c.player.nickname or c.player.account_id}",
            url=admin_url("players_case_change", c.pk),
            meta=_("%(hours)d h overdue") % {"hours": _hours(now - c.sla_due_at)},
            tone="bad",
        )
        for c in overdue[:PANEL_ROWS]
    ]
    if len(rows) < PANEL_ROWS:
        rows += [
            Row(
                text=f"#{c.pk} {free_text_for(ctx.user, c.subject)} · {c.player.nickname or c.player.account_id}",
                url=admin_url("players_case_change", c.pk),
                meta=_("due in %(hours)d h") % {"hours": _hours(c.sla_due_at - now)},
                tone="warn",
            )
            for c in cases_due_soon_for(ctx.user, now=now)[: PANEL_ROWS - len(rows)]
        ]
    return PanelContent(
        rows=rows,
        count=overdue.count(),
        more_url=admin_url("players_case_changelist", sla="overdue", mine="yes"),
        empty=_("No case is overdue."),
    )


@aggregate("cases", label=_("Cases: SLA met, overdue and escalated"))
def case_figures(now: datetime) -> dict:
    """SLA met over the cases resolved in the last 30 days; open cases overdue or escalated."""
    since = now - timedelta(days=SLA_DAYS)
    resolved = Case.objects.filter(resolved_at__gte=since, sla_met__isnull=False).aggregate(
        resolved=Count("id"), met=Count("id", filter=Q(sla_met=True))
    )
    overdue = Case.objects.filter(status__in=CLOCK_RUNNING, sla_due_at__lt=now).count()
    escalated = Case.objects.filter(escalated_at__isnull=False, status__in=OPEN_STATUSES).count()
    return {"since": since, **resolved, "overdue": overdue, "escalated": escalated}


@team_tiles("cases", order=60)
def case_tiles(ctx: PanelRequest) -> list[Tile]:
    figures = ctx.team.get("cases")
    if figures is None or not ctx.user.has_perm("players.view_case"):
        return []
    rate = f"{figures['met'] * 100 / figures['resolved']:.0f}%" if figures["resolved"] else "–"
    since = timezone.localtime(figures["since"]).isoformat(timespec="seconds")
    return [
        Tile(
            _("SLA met, 30 days"),
            rate,
            admin_url("players_case_changelist", resolved_at__gte=since),
            note=_("%(met)s of %(resolved)s resolved cases in time") % figures,
        ),
        Tile(
            _("Overdue cases"),
            f"{figures['overdue']:,}",
            admin_url("players_case_changelist", sla="overdue"),
            tone="bad" if figures["overdue"] else "",
        ),
        Tile(
            _("Escalated, still open"),
            f"{figures['escalated']:,}",
            admin_url("players_case_changelist", escalated="yes"),
            tone="warn" if figures["escalated"] else "",
        ),
    ]


@quick_action("case", order=20)
def open_case(player, user):
    if user.has_perm("players.add_case"):
        return QuickAction("case", _("Open a case"), admin_url("players_case_add", player=player.pk))
    return None


@quick_action("feedback", order=50)
def record_feedback(player, user):
    if user.has_perm("players.add_feedbackreport"):
        return QuickAction("feedback", _("Record feedback"), admin_url("players_feedbackreport_add", player=player.pk))
    return None
