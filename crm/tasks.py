"""Celery entry points of the shared parts: thin wrappers over services."""

from celery import shared_task

from crm.workplace.aggregates import dashboard_refresh


@shared_task(name="crm.tasks.dashboard_refresh_task")
def dashboard_refresh_task() -> dict:
    """Recompute the supervisor dashboard's cached team figures (beat: every 10 minutes)."""
    snapshot = dashboard_refresh()
    return {"computed_at": snapshot["computed_at"].isoformat(), "timings_ms": snapshot["timings_ms"]}
