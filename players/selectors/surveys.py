"""Satisfaction survey results (players.models.surveys): the figures the dashboard's panel
and the work reports show, per manager and per category, and what counts as a low score
(CRM_SURVEY_LOW_SCORE: at or below it, a follow-up task for a supervisor)."""

from __future__ import annotations

from django.conf import settings
from django.db.models import Avg, Count, Q, QuerySet, Sum

from ..models import SatisfactionSurvey, SurveyStatus


def survey_low_score() -> int:
    """The highest score that counts as low."""
    return int(getattr(settings, "CRM_SURVEY_LOW_SCORE", 2))


def survey_is_low(score: int) -> bool:
    return score <= survey_low_score()


def survey_figures() -> dict:
    """The aggregates of a set of surveys: sent, answered, the answers' score sum and average,
    the low scores among them."""
    answered = Q(status=SurveyStatus.ANSWERED)
    return {
        "sent": Count("id"),
        "answered": Count("id", filter=answered),
        "score_sum": Sum("score", filter=answered),
        "average": Avg("score", filter=answered),
        "low": Count("id", filter=answered & Q(score__lte=survey_low_score())),
    }


def _plain(row: dict) -> dict:
    return {
        **row,
        "average": float(row["average"]) if row["average"] is not None else None,
        "score_sum": int(row["score_sum"] or 0),
    }


def survey_results(surveys: QuerySet[SatisfactionSurvey], *, by: str | list[str]) -> list[dict]:
    """`survey_figures` of `surveys` per `by` (e.g. "manager_id", "category"), one query."""
    keys = [by] if isinstance(by, str) else list(by)
    return [_plain(row) for row in surveys.values(*keys).annotate(**survey_figures()).order_by(*keys)]


def survey_total(surveys: QuerySet[SatisfactionSurvey]) -> dict:
    """`survey_figures` of all of `surveys`."""
    return _plain(surveys.aggregate(**survey_figures()))
