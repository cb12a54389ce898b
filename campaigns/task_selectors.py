"""Reads for outreach tasks: what is on a person's day (my worklist, the dashboard's tasks)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db.models import Count, Q, QuerySet

from .models import OutreachTask, TaskStatus

WHEN_OVERDUE = "overdue"
WHEN_TODAY = "today"
WHEN_LATER = "later"
WHENS = (WHEN_OVERDUE, WHEN_TODAY, WHEN_LATER)


def tasks_on_my_day(*, user, today: date) -> QuerySet[OutreachTask]:
    """The open tasks assigned to `user` that have started, soonest due first: a campaign's
    task from the campaign's start date (so two weeks of calls do not land on the due date
    all at once), any other task at once. Served by the task_worklist index."""
    return (
        OutreachTask.objects.filter(assignee=user, status=TaskStatus.OPEN)
        .filter(Q(campaign__isnull=True) | Q(campaign__start_date__lte=today))
        .order_by("due_date", "id")
    )


def tasks_when(tasks: QuerySet[OutreachTask], *, when: str, today: date) -> QuerySet[OutreachTask]:
    """Only the overdue tasks, those due today, or those due later."""
    lookup = {WHEN_OVERDUE: "due_date__lt", WHEN_TODAY: "due_date", WHEN_LATER: "due_date__gt"}[when]
    return tasks.filter(**{lookup: today})


def task_when(task: OutreachTask, today: date) -> str:
    if task.due_date < today:
        return WHEN_OVERDUE
    return WHEN_TODAY if task.due_date == today else WHEN_LATER


@dataclass(frozen=True)
class TaskCounts:
    overdue: int
    today: int
    later: int

    @property
    def total(self) -> int:
        return self.overdue + self.today + self.later


def task_counts(tasks: QuerySet[OutreachTask], *, today: date) -> TaskCounts:
    """How many of `tasks` are overdue, due today and due later (one query)."""
    counts = tasks.order_by().aggregate(
        overdue=Count("id", filter=Q(due_date__lt=today)),
        today=Count("id", filter=Q(due_date=today)),
        later=Count("id", filter=Q(due_date__gt=today)),
    )
    return TaskCounts(**counts)
