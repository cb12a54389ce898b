"""Reads for service records: cases, follow-ups, feedback and the daily work report.

The dashboard and the player timeline (crm workplace) use these; the admin too.
Every function returns a queryset already joined for its use, or plain figures."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.contrib.auth import get_user_model
from django.db.models import Count, Exists, OuterRef, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import gettext

from crm.names import person_name

from ..models import (
    CLOCK_RUNNING,
    OPEN_STATUSES,
    Case,
    CaseEvent,
    ContactLog,
    ContactOutcome,
    FeedbackReport,
    FeedbackStatus,
    FeedbackTopic,
    Player,
)
from . import player_scope_q, sees_all_players

TEAM_REPORT_PERMISSION = "players.view_team_report"


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


def player_next_follow_up(*, player) -> ContactLog | None:
    """The player's earliest follow-up still open (by the rule of follow_ups_due: no later
    contact by staff has answered it), or None."""
    return (
        ContactLog.objects.filter(player=player, next_follow_up__isnull=False)
        .filter(~Exists(_later_contact_by_staff()))
        .order_by("next_follow_up", "contacted_at", "pk")
        .first()
    )


# --- feedback --------------------------------------------------------------------------------
def feedback_board(*, include_merged: bool = False):
    """Topics for the product team, most reported first."""
    qs = FeedbackTopic.objects.all()
    if not include_merged:
        qs = qs.exclude(status=FeedbackStatus.MERGED)
    return qs.order_by("-report_count", "-last_reported_at")


# --- the daily work report (日报表) ----------------------------------------------------------
@dataclass
class WorkReportRow:
    user_id: int | None
    name: str
    day: date | None = None
    contacts: int = 0
    contacts_reached: int = 0
    cases_opened: int = 0
    cases_resolved: int = 0
    sla_met: int = 0
    satisfaction_sum: int = 0
    satisfaction_count: int = 0
    outreach: dict = field(default_factory=dict)  # outcome -> tasks completed with it

    @property
    def sla_met_pct(self) -> float | None:
        return round(100 * self.sla_met / self.cases_resolved, 1) if self.cases_resolved else None

    @property
    def satisfaction_avg(self) -> float | None:
        return round(self.satisfaction_sum / self.satisfaction_count, 2) if self.satisfaction_count else None

    @property
    def outreach_done(self) -> int:
        return sum(self.outreach.values())

    def add(self, other: WorkReportRow) -> None:
        for name in (
            "contacts",
            "contacts_reached",
            "cases_opened",
            "cases_resolved",
            "sla_met",
            "satisfaction_sum",
            "satisfaction_count",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for outcome, count in other.outreach.items():
            self.outreach[outcome] = self.outreach.get(outcome, 0) + count


@dataclass
class WorkReport:
    start: date
    end: date
    rows: list[WorkReportRow]
    total: WorkReportRow
    outcomes: list[tuple[str, str]]  # (value, label) of outreach outcomes that occur


def _local_range(start: date, end: date) -> tuple[datetime, datetime]:
    tz = timezone.get_current_timezone()
    return (
        timezone.make_aware(datetime.combine(start, time.min), tz),
        timezone.make_aware(datetime.combine(end + timedelta(days=1), time.min), tz),
    )


def service_work_report(*, start: date, end: date, users=None, by_day: bool = False) -> WorkReport:
    """Contacts made, cases opened and resolved, SLA met %, average satisfaction and
    outreach outcomes, per person (and per day with `by_day`), from `start` to `end`
    inclusive (dates in TIME_ZONE), with the team's total.

    Contacts count for their staff; cases for their owner; outreach tasks for their
    assignee when completed. Satisfaction and SLA are those of the cases resolved in
    the range. Four grouped aggregate queries, whatever the volume."""
    since, until = _local_range(start, end)
    tz = timezone.get_current_timezone()
    user_ids = None if users is None else [getattr(u, "pk", u) for u in users]
    rows: dict[tuple, WorkReportRow] = {}

    def row(user_id, day):
        key = (user_id, day if by_day else None)
        if key not in rows:
            rows[key] = WorkReportRow(user_id=user_id, name="", day=key[1])
        return rows[key]

    def grouped(qs, who: str, when: str, **aggregates):
        if user_ids is not None:
            qs = qs.filter(**{f"{who}__in": user_ids})
        keys = [who]
        if by_day:
            qs = qs.annotate(report_day=TruncDate(when, tzinfo=tz))
            keys.append("report_day")
        return qs.values(*keys).annotate(**aggregates).order_by()

    contacts = ContactLog.objects.filter(contacted_at__gte=since, contacted_at__lt=until)
    for r in grouped(
        contacts,
        "staff_id",
        "contacted_at",
        n=Count("pk"),
        reached=Count("pk", filter=Q(outcome__in=[ContactOutcome.REACHED, ContactOutcome.PROMISED_RETURN])),
    ):
        target = row(r["staff_id"], r.get("report_day"))
        target.contacts += r["n"]
        target.contacts_reached += r["reached"]

    opened = Case.objects.filter(opened_at__gte=since, opened_at__lt=until)
    for r in grouped(opened, "owner_id", "opened_at", n=Count("pk")):
        row(r["owner_id"], r.get("report_day")).cases_opened += r["n"]

    resolved = Case.objects.filter(resolved_at__gte=since, resolved_at__lt=until)
    for r in grouped(
        resolved,
        "owner_id",
        "resolved_at",
        n=Count("pk"),
        met=Count("pk", filter=Q(sla_met=True)),
        score_sum=Sum("satisfaction"),
        score_n=Count("satisfaction"),
    ):
        target = row(r["owner_id"], r.get("report_day"))
        target.cases_resolved += r["n"]
        target.sla_met += r["met"]
        target.satisfaction_sum += r["score_sum"] or 0
        target.satisfaction_count += r["score_n"]

    try:
        from campaigns.models import OutreachTask, TaskStatus
    except ImportError:  # pragma: no cover - campaigns is installed with the CRM
        OutreachTask = None
    if OutreachTask is not None:
        tasks = OutreachTask.objects.filter(status=TaskStatus.DONE, completed_at__gte=since, completed_at__lt=until)
        if user_ids is not None:
            tasks = tasks.filter(assignee_id__in=user_ids)
        keys = ["assignee_id", "outcome"]
        if by_day:
            tasks = tasks.annotate(report_day=TruncDate("completed_at", tzinfo=tz))
            keys.append("report_day")
        for r in tasks.values(*keys).annotate(n=Count("pk")).order_by():
            target = row(r["assignee_id"], r.get("report_day"))
            outcome = r["outcome"] or "other"
            target.outreach[outcome] = target.outreach.get(outcome, 0) + r["n"]

    if user_ids is not None:
        for user_id in user_ids:
            if not by_day:
                row(user_id, None)
    names = {
        pk: person_name(first=first, last=last, username=username)
        for pk, username, first, last in get_user_model()
        .objects.filter(pk__in=[uid for uid, _day in rows if uid is not None])
        .values_list("pk", "username", "first_name", "last_name")
    }
    total = WorkReportRow(user_id=None, name="")
    for (user_id, _day), r in rows.items():
        # no staff: what the system did by itself (greeting messages, imports): "系统" / "System"
        r.name = names.get(user_id, "-") if user_id is not None else gettext("System")
        total.add(r)
    # people by name, then what the system did by itself
    ordered = sorted(rows.values(), key=lambda r: (r.day or date.min, r.user_id is None, r.name, r.user_id or 0))
    used = {o for r in ordered for o in r.outreach}
    outcomes = [(value, label) for value, label in ContactOutcome.choices if value in used]
    return WorkReport(start=start, end=end, rows=ordered, total=total, outcomes=outcomes)


def report_users_for(user):
    """Whose rows a user may see: everybody with players.view_team_report, else their own."""
    if user.is_superuser or user.has_perm(TEAM_REPORT_PERMISSION):
        return None
    return [user]


__all__ = [
    "WorkReport",
    "WorkReportRow",
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
    "player_case_events",
    "player_next_follow_up",
    "report_users_for",
    "service_work_report",
]
