from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _roles_sync_after_migrate(sender, **kwargs):
    from .roles import roles_sync

    roles_sync()


class CrmConfig(AppConfig):
    name = "crm"
    verbose_name = _("CRM")

    def ready(self):
        post_migrate.connect(_roles_sync_after_migrate, sender=self, dispatch_uid="crm.roles_sync")
        from django.conf import settings

        from .workplace.aggregates import REFRESH_MINUTES

        settings.CELERY_BEAT_SCHEDULE.setdefault(
            "dashboard-refresh",
            {"task": "crm.tasks.dashboard_refresh_task", "schedule": REFRESH_MINUTES * 60.0},
        )
