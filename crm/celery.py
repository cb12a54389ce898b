import os

from celery import Celery
from celery.signals import task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")

app = Celery("crm")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def _connections_between_tasks(sender=None, **_kwargs) -> None:
    """Between a worker's tasks, close the database connections Django would close
    between requests (past CONN_MAX_AGE, broken, or left in a transaction), and keep
    the others (settings.CELERY_DB_REUSE_MAX turns Celery's close-every-time off). An
    eager task runs inside its caller's request and transaction: left alone."""
    if sender is None or getattr(sender.request, "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()
