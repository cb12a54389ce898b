from django.apps import AppConfig
from django.conf import settings
from django.utils.translation import gettext_lazy as _


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = _("Campaigns")

    def ready(self):
        # Scheduled jobs of this app (crm/celery.py reads CELERY_BEAT_SCHEDULE).
        settings.CELERY_BEAT_SCHEDULE.setdefault(
            "campaigns.deliver_messages", {"task": "campaigns.deliver_messages", "schedule": 60.0}
        )
