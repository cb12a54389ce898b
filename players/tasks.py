"""Celery entry points for players: thin wrappers over services."""

from celery import shared_task
from django.db import transaction


@shared_task(name="players.escalate_cases")
def escalate_cases() -> int:
    """Climb the escalation ladder: overdue cases to the supervisors, those held past
    their time to the head of service (every 15 minutes on the beat)."""
    from .services.cases import cases_escalate

    done = cases_escalate()
    return len(done.supervisor) + len(done.head)


@shared_task(name="players.import_job_run", acks_late=True)
def import_job_run_task(job_id: int, step: str) -> None:
    """Preview ("preview") or apply ("apply") an uploaded import. An apply that a lost
    worker leaves half-done resumes after its last committed chunk."""
    from players.services.imports import import_job_run

    import_job_run(job_id=job_id, step=step)


@shared_task(name="players.churn_scan")
def churn_scan_task() -> dict:
    """Re-judge every player's payer status (set-based, idempotent)."""
    from .services.payer_status import churn_scan

    return churn_scan()


def import_job_start(*, job, step: str) -> None:
    """Run an import's preview or apply as `import_job_run_task` once the request commits:
    in a worker, not the web process, when a broker is configured; without one the task
    runs eagerly in the request, its memory bounded by the reader's limits (players.tabular)."""
    transaction.on_commit(lambda: import_job_run_task.delay(job.pk, step))


@shared_task(name="players.surveys_remind")
def surveys_remind_task() -> int:
    """One reminder for unanswered satisfaction surveys (hourly on the beat)."""
    from .services.surveys import surveys_remind

    return surveys_remind()


@shared_task(name="players.project_pending", acks_late=True)
def project_pending_task() -> int:
    """Project the players marked "to project" (queued after each committed batch of
    events, and on the beat as a safety net): oldest first, a thousand players per
    transaction, until none is left or for `TASK_SECONDS`, when the rest goes to a fresh
    task. A worker killed mid-way loses nothing: its transaction rolls back and the marks
    stay (and the task, acknowledged late, is delivered again)."""
    from .services.projection import TASK_SECONDS, projection_lag_log, projection_run, projection_task_queue

    projection_lag_log()
    done = projection_run(seconds=TASK_SECONDS)
    if not done.drained:
        projection_task_queue()
    return done.players
