"""Reads for service records: cases, follow-ups and feedback (the daily work report, which
counts outreach tasks beside them, is the workplace's: crm/workplace/reports.py).

The dashboard and the player timeline (crm workplace) use these; the admin too.
Every function returns a queryset already joined for its use, or plain figures."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from ..models import (
    CLOCK_RUNNING,
    OPEN_STATUSES,
    Case,
    CaseEvent,
    ContactLog,
    FeedbackReport,
    FeedbackStatus,
    FeedbackTopic,
    Player,
)
from . import player_scope_q, sees_all_players


# --- cases -----------------------------------------------------------------------------------
def case_scope_q(user) -> Q:
    """Cases a user may see and handle: all with players.view_all_players, else those
    of the players they manage and those they own."""
    if sees_all_players(user):
        return Q()
    return player_scope_q(user, "player") | Q(owner=user)


def feedback_topic_scope_q(user) -> Q:
    """Feedback topics a user may see: all with players.view_all_players, else those
    with a report from a player they manage (a topic's reports come from many books)."""
    if sees_all_players(user):
        return Q()
    return Q(Exists(FeedbackReport.objects.filter(player_scope_q(user, "player"), topic=OuterRef("pk"))))


def feedback_reports_visible_to(user):
    return FeedbackReport.objects.filter(player_scope_q(user, "player")).select_related("player")


def cases_visible_to(user):
    return Case.objects.filter(case_scope_q(user)).select_related("player", "owner")


def cases_overdue(*, now: datetime | None = None):
    """Open cases whose clock runs and whose due time has passed (escalated or not)."""
    now = now or timezone.now()
    return (
        Case.objects.filter(status__in=CLOCK_RUNNING, sla_due_at__lt=now)
        .select_related("player", "owner")
        .order_by("sla_due_at")
    )


def cases_overdue_for(user, *, now: datetime | None = None):
    """The overdue cases a manager owns (their worklist)."""
    return cases_overdue(now=now).filter(owner=user)


def cases_due_soon_for(user, *, within: timedelta = timedelta(hours=24), now: datetime | None = None):
    now = now or timezone.now()
    return (
        Case.objects.filter(owner=user, status__in=CLOCK_RUNNING, sla_due_at__gte=now, sla_due_at__lt=now + within)
        .select_related("player")
        .order_by("sla_due_at")
    )


def cases_open_for(user):
    return Case.objects.filter(owner=user, status__in=OPEN_STATUSES).select_related("player").order_by("sla_due_at")


def cases_escalated(*, user=None):
    """Escalated cases still open: the supervisors' list. With `user`, scoped to them."""
    qs = Case.objects.filter(escalated_at__isnull=False, status__in=OPEN_STATUSES)
    if user is not None:
        qs = qs.filter(case_scope_q(user))
    return qs.select_related("player", "owner").order_by("escalated_at")


def case_timeline(case: Case):
    return CaseEvent.objects.filter(case=case).select_related("actor").order_by("at", "id")


def player_case_events(player):
    """Every case event of a player, newest first (for the player timeline)."""
    return CaseEvent.objects.filter(case__player=player).select_related("case", "actor").order_by("-at", "-id")


# --- follow-ups ----------------------------------------------------------------------------
def _later_contact_by_staff():
    return ContactLog.objects.filter(
        player=OuterRef("player"), contacted_at__gt=OuterRef("contacted_at"), staff__isnull=False
    )


def follow_ups_due(*, user=None, day: date | None = None, include_overdue: bool = False):
    """Contacts whose next follow-up falls on `day` (today in TIME_ZONE by default) and
    that no later contact by staff has answered. With `user`: follow-ups of the players
    that user manages (their worklist). `include_overdue` adds earlier, still open ones."""
    day = day or timezone.localdate()
    qs = (
        ContactLog.objects.filter(next_follow_up__lte=day)
        if include_overdue
        else ContactLog.objects.filter(next_follow_up=day)
    )
    if user is not None:
        # A semi-join on the manager's players (index player_manager_recent) lets the
        # planner probe the later-contact check per player instead of hashing every contact.
        qs = qs.filter(player__in=Player.objects.filter(manager=user).values("pk"))
    return (
        qs.filter(~Exists(_later_contact_by_staff()))
        .select_related("player", "staff")
        .order_by("next_follow_up", "contacted_at", "pk")
    )


def follow_ups_open(*, player):
    """The player's follow-ups still open (by the rule of follow_ups_due: no later contact
    by staff has answered them), earliest first."""
    return (
        ContactLog.objects.filter(player=player, next_follow_up__isnull=False)
        .filter(~Exists(_later_contact_by_staff()))
        .order_by("next_follow_up", "contacted_at", "pk")
    )


def player_next_follow_up(*, player) -> ContactLog | None:
    """The player's earliest follow-up still open, or None."""
    return follow_ups_open(player=player).first()


# --- feedback --------------------------------------------------------------------------------
def feedback_board(*, include_merged: bool = False):
    """Topics for the product team, most reported first."""
    qs = FeedbackTopic.objects.all()
    if not include_merged:
        qs = qs.exclude(status=FeedbackStatus.MERGED)
    return qs.order_by("-report_count", "-last_reported_at")


__all__ = [
    "case_scope_q",
    "case_timeline",
    "cases_due_soon_for",
    "cases_escalated",
    "cases_open_for",
    "cases_overdue",
    "cases_overdue_for",
    "cases_visible_to",
    "feedback_board",
    "follow_ups_due",
    "follow_ups_open",
    "player_case_events",
    "player_next_follow_up",
]
