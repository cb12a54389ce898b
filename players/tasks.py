"""Celery entry points for players: thin wrappers over services."""

from celery import shared_task


@shared_task(name="players.escalate_cases")
def escalate_cases() -> int:
    """Flag overdue cases and tell the supervisors (every 15 minutes on the beat)."""
    from .services.cases import cases_escalate_overdue

    return len(cases_escalate_overdue())
