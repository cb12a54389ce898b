from django.apps import AppConfig, apps
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _roles_sync_after_migrate(sender, **kwargs):
    # post_migrate is sent only for apps with a models module (crm has none), once per
    # app: sync once, after the last of them, when every permission exists.
    last = [config for config in apps.get_app_configs() if config.models_module is not None][-1]
    if sender.label != last.label:
        return
    from .roles import roles_sync

    roles_sync()


class CrmConfig(AppConfig):
    name = "crm"
    verbose_name = _("CRM")

    def ready(self):
        from .formatting import local_time_install

        local_time_install()  # showing a far-off stored time must not fail a page
        post_migrate.connect(_roles_sync_after_migrate, dispatch_uid="crm.roles_sync")
        from django.conf import settings

        from .workplace.aggregates import REFRESH_MINUTES

        settings.CELERY_BEAT_SCHEDULE.setdefault(
            "dashboard-refresh",
            {"task": "crm.tasks.dashboard_refresh_task", "schedule": REFRESH_MINUTES * 60.0},
        )
        # The nightly run at 03:30 in TIME_ZONE (Asia/Shanghai): churn scan, then tier review.
        from celery.schedules import crontab

        settings.CELERY_BEAT_SCHEDULE.setdefault(
            "players.nightly", {"task": "players.nightly", "schedule": crontab(hour=3, minute=30)}
        )
        # The weekly and monthly work reports to the supervisors, at 08:00: Mondays (last
        # week) and the 1st (last month).
        settings.CELERY_BEAT_SCHEDULE.setdefault(
            "work-report-weekly",
            {
                "task": "crm.tasks.work_report_mail_task",
                "schedule": crontab(hour=8, minute=0, day_of_week=1),
                "args": ("week",),
            },
        )
        settings.CELERY_BEAT_SCHEDULE.setdefault(
            "work-report-monthly",
            {
                "task": "crm.tasks.work_report_mail_task",
                "schedule": crontab(hour=8, minute=0, day_of_month=1),
                "args": ("month",),
            },
        )

        # A user reads as their display name (crm.names) wherever Django shows one: pickers,
        # list columns, change history, messages. Django's own User is the user model, so
        # its str() is set here rather than on a class of ours.
        from django.contrib.auth.models import User
        from django.db.models.signals import post_delete, post_save

        from .api import schema  # noqa: F401  (registers the OpenAPI authentication extension)
        from .api.authentication import _client_changed
        from .models import ApiClient
        from .names import staff_name
        from .workplace import reports_admin, timeline_sources  # noqa: F401  (the work report's admin; the timeline's sources)

        User.__str__ = staff_name
        User.get_full_name = staff_name

        post_save.connect(_client_changed, sender=ApiClient, dispatch_uid="crm.api_client_cache")
        post_delete.connect(_client_changed, sender=ApiClient, dispatch_uid="crm.api_client_cache_delete")
