"""The work reports (日报表): contacts, cases and outreach per person and for the team.

The workplace's, since it counts what several apps hold: players' contacts and cases
(service records) and campaigns' outreach tasks. The admin screen is `reports_admin`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import gettext

from campaigns.models import GiftEntry, OutreachTask, TaskStatus
from crm.formatting import money
from crm.names import person_name
from players.models import Case, ContactLog, ContactOutcome, SatisfactionSurvey, SurveyStatus
from players.models.surveys import SURVEY_CATEGORIES
from players.selectors.surveys import survey_results

TEAM_REPORT_PERMISSION = "players.view_team_report"


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
    gifts: int = 0  # gifts given (the gift ledger's actor), greetings' and compensations' alike
    gifts_value: Decimal = Decimal("0")
    # satisfaction surveys answered in the range about this person's work (the survey's manager)
    surveys_answered: int = 0
    surveys_score_sum: int = 0
    surveys_low: int = 0

    @property
    def sla_met_pct(self) -> float | None:
        return round(100 * self.sla_met / self.cases_resolved, 1) if self.cases_resolved else None

    @property
    def satisfaction_avg(self) -> float | None:
        return round(self.satisfaction_sum / self.satisfaction_count, 2) if self.satisfaction_count else None

    @property
    def survey_avg(self) -> float | None:
        return round(self.surveys_score_sum / self.surveys_answered, 2) if self.surveys_answered else None

    @property
    def gifts_value_text(self) -> str:
        return money(self.gifts_value)

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
            "gifts",
            "gifts_value",
            "surveys_answered",
            "surveys_score_sum",
            "surveys_low",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for outcome, count in other.outreach.items():
            self.outreach[outcome] = self.outreach.get(outcome, 0) + count


@dataclass
class SurveyCategoryRow:
    """Satisfaction surveys answered in the range about one category (a case's, or return visits)."""

    category: str
    label: str
    answered: int
    average: float | None
    low: int


@dataclass
class WorkReport:
    start: date
    end: date
    rows: list[WorkReportRow]
    total: WorkReportRow
    outcomes: list[tuple[str, str]]  # (value, label) of outreach outcomes that occur
    survey_categories: list[SurveyCategoryRow] = field(default_factory=list)


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
    the range; gifts count for who gave them (the gift ledger); satisfaction surveys
    answered in the range for the manager they judge, and per category. Seven grouped
    aggregate queries, whatever the volume."""
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

    given = GiftEntry.objects.filter(given_on__gte=start, given_on__lte=end)
    if user_ids is not None:
        given = given.filter(actor_id__in=user_ids)
    gift_keys = ["actor_id"] + (["given_on"] if by_day else [])
    for r in given.values(*gift_keys).annotate(n=Count("pk"), worth=Sum("value")).order_by():
        target = row(r["actor_id"], r.get("given_on"))
        target.gifts += r["n"]
        target.gifts_value += r["worth"] or 0

    answered = SatisfactionSurvey.objects.filter(
        status=SurveyStatus.ANSWERED, answered_at__gte=since, answered_at__lt=until
    )
    if user_ids is not None:
        answered = answered.filter(manager_id__in=user_ids)
    survey_keys = ["manager_id"]
    if by_day:
        answered_by = answered.annotate(report_day=TruncDate("answered_at", tzinfo=tz))
        survey_keys.append("report_day")
    else:
        answered_by = answered
    for r in survey_results(answered_by, by=survey_keys):
        target = row(r["manager_id"], r.get("report_day"))
        target.surveys_answered += r["answered"]
        target.surveys_score_sum += r["score_sum"]
        target.surveys_low += r["low"]
    categories = dict(SURVEY_CATEGORIES)
    survey_categories = [
        SurveyCategoryRow(
            category=r["category"],
            label=str(categories.get(r["category"], r["category"] or "-")),
            answered=r["answered"],
            average=round(r["average"], 2) if r["average"] is not None else None,
            low=r["low"],
        )
        for r in survey_results(answered, by="category")
    ]

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
    return WorkReport(
        start=start, end=end, rows=ordered, total=total, outcomes=outcomes, survey_categories=survey_categories
    )


def report_users_for(user):
    """Whose rows a user may see: everybody with players.view_team_report, else their own."""
    if user.is_superuser or user.has_perm(TEAM_REPORT_PERMISSION):
        return None
    return [user]


# --- weekly and monthly reports (周报、月报) ----------------------------------------------------
PERIODS = ("week", "month")


def period_range(period: str, day: date) -> tuple[date, date]:
    """The week (Monday to Sunday) or calendar month holding `day`, as (first, last) day."""
    if period == "week":
        first = day - timedelta(days=day.weekday())
        return first, first + timedelta(days=6)
    if period == "month":
        first = day.replace(day=1)
        following = (first + timedelta(days=32)).replace(day=1)
        return first, following - timedelta(days=1)
    raise ValueError(period)


def period_last_complete(period: str, today: date) -> tuple[date, date]:
    """The last week or month that has ended before `today` (what a scheduled report sends)."""
    first, _last = period_range(period, today)
    return period_range(period, first - timedelta(days=1))


def period_report(*, period: str, day: date, users=None) -> WorkReport:
    """The weekly or monthly report holding `day`: the daily report's figures per person and
    for the team over the whole period."""
    start, end = period_range(period, day)
    return service_work_report(start=start, end=end, users=users)
