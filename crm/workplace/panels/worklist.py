"""A VIP manager's day: bounded, indexed queries over the manager's own book."""

from __future__ import annotations

from datetime import timedelta

from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext, pgettext_lazy

from campaigns.task_selectors import WHEN_LATER, WHEN_OVERDUE, WHEN_TODAY, task_counts, tasks_on_my_day
from crm.formatting import money
from crm.privacy import free_text_for
from players.models import PayerStatus, Player
from players.selectors.service_records import follow_ups_due

from ..registry import MY_DAY, PANEL_ROWS, PanelContent, PanelRequest, Row, Tile, admin_url, panel

FOLLOW_UP_LOOKBACK_DAYS = 14
# Lists whose exact size would cost a scan show at most this many, then "50+".
COUNT_CAP = 50


def _overdue_note(due, today) -> str:
    days = (today - due).days
    if days <= 0:
        return str(_("today"))
    return ngettext("%(days)d day overdue", "%(days)d days overdue", days) % {"days": days}


def _task_note(due, today) -> str:
    if due > today:
        return _("due %(date)s") % {"date": date_format(due, "MONTH_DAY_FORMAT")}
    return _overdue_note(due, today)


@panel("tasks", title=_("Tasks due"), audience=MY_DAY, order=10, permissions=["campaigns.view_outreachtask"])
def tasks_due(ctx: PanelRequest) -> PanelContent:
    """My open tasks that have started (campaigns.task_selectors.tasks_on_my_day), soonest
    due first, with how many are overdue, due today and due later."""
    mine = tasks_on_my_day(user=ctx.user, today=ctx.today)
    counts = task_counts(mine, today=ctx.today)
    worklist = admin_url("campaigns_worklisttask_changelist")
    tiles = [
        Tile(
            label=str(label),
            value=f"{count:,}",
            url=admin_url("campaigns_worklisttask_changelist", when=when),
            tone=tone if count else "",
        )
        for label, count, when, tone in (
            (pgettext_lazy("tasks", "overdue"), counts.overdue, WHEN_OVERDUE, "bad"),
            (pgettext_lazy("tasks", "due today"), counts.today, WHEN_TODAY, "warn"),
            (pgettext_lazy("tasks", "later"), counts.later, WHEN_LATER, ""),
        )
    ]
    rows = [
        Row(
            text=f"{free_text_for(ctx.user, task.title_text)} · {task.player.nickname or task.player.account_id}",
            url=admin_url("campaigns_outreachtask_change", task.pk),
            meta=_task_note(task.due_date, ctx.today),
            tone="bad" if task.due_date < ctx.today else "",
        )
        for task in mine.select_related("player")[:PANEL_ROWS]
    ]
    return PanelContent(
        tiles=tiles if counts.total else [],
        rows=rows,
        count=counts.total,
        more_url=worklist,
        empty=_("No open tasks."),
    )


def follow_ups_window(user, today):
    """The service records' follow-ups (due today or overdue, not answered by a later
    contact) of my players, bounded to the last two weeks so the query stays small."""
    return follow_ups_due(user=user, day=today, include_overdue=True).filter(
        next_follow_up__gte=today - timedelta(days=FOLLOW_UP_LOOKBACK_DAYS)
    )


@panel("follow_ups", title=_("Follow-ups due"), audience=MY_DAY, order=20, permissions=["players.view_contactlog"])
def follow_ups(ctx: PanelRequest) -> PanelContent:
    """One bounded query (no separate count: a count would have to visit every
    follow-up in the window to find which are mine); more than the cap shows as "50+"."""
    found = list(follow_ups_window(ctx.user, ctx.today).order_by("next_follow_up", "id")[: COUNT_CAP + 1])
    rows = [
        Row(
            text=f"{c.player.nickname or c.player.account_id} · {c.topic or c.get_channel_display()}",
            url=admin_url("players_player_change", c.player_id),
            meta=_overdue_note(c.next_follow_up, ctx.today),
            tone="bad" if c.next_follow_up < ctx.today else "",
        )
        for c in found[:PANEL_ROWS]
    ]
    return PanelContent(
        rows=rows,
        count=min(len(found), COUNT_CAP),
        count_more=len(found) > COUNT_CAP,
        more_url=admin_url(
            "players_contactlog_changelist",
            follow_up="mine_overdue",
            next_follow_up__gte=(ctx.today - timedelta(days=FOLLOW_UP_LOOKBACK_DAYS)).isoformat(),
        ),
        empty=_("No follow-ups due."),
    )


@panel("at_risk", title=_("At-risk VIPs"), audience=MY_DAY, order=50, permissions=["players.view_player"])
def at_risk(ctx: PanelRequest) -> PanelContent:
    """My VIPs whose payer status is at risk, biggest spenders first (index player_status_manager)."""
    players = Player.objects.filter(manager=ctx.user, payer_status=PayerStatus.AT_RISK, tier__isnull=False)
    rows = [
        Row(
            text=p.nickname or p.account_id,
            url=admin_url("players_player_change", p.pk),
            meta=money(p.total_spend),
            badge=p.tier.name,
            badge_colour=p.tier.colour,
        )
        for p in players.select_related("tier").order_by("-total_spend", "-id")[:PANEL_ROWS]
    ]
    return PanelContent(
        rows=rows,
        count=players.count(),
        more_url=admin_url("players_player_changelist", payer_status__exact=PayerStatus.AT_RISK, tier__isnull="False"),
        empty=_("None of your VIPs is at risk."),
    )
