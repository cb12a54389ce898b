"""Celery entry points of the shared parts: thin wrappers over services."""

from celery import shared_task

from crm.workplace.aggregates import dashboard_refresh


@shared_task(name="crm.tasks.dashboard_refresh_task")
def dashboard_refresh_task() -> dict:
    """Recompute the supervisor dashboard's cached team figures (beat: every 10 minutes)."""
    snapshot = dashboard_refresh()
    return {"computed_at": snapshot["computed_at"].isoformat(), "timings_ms": snapshot["timings_ms"]}


@shared_task(name="players.nightly")  # the name the beat schedule has always used
def nightly_task() -> dict:
    """The nightly run on the beat schedule (03:30): churn scan, then VIP tier review."""
    from crm.nightly import nightly_run

    return nightly_run()


@shared_task(name="crm.tasks.work_report_mail_task")
def work_report_mail_task(period: str) -> dict:
    """E-mail the last complete week's or month's work report to the supervisors (beat:
    Mondays and the 1st of each month at 08:00)."""
    from crm.workplace.report_mail import work_report_mail

    sent = work_report_mail(period=period)
    return {"period": period, "start": sent.start.isoformat(), "end": sent.end.isoformat(), "to": len(sent.recipients)}
