from django.apps import AppConfig
from django.conf import settings
from django.utils.translation import gettext_lazy as _


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = _("Campaigns")

    def ready(self):
        from celery.schedules import crontab

        # Scheduled jobs of this app (crm/celery.py reads CELERY_BEAT_SCHEDULE).
        settings.CELERY_BEAT_SCHEDULE.setdefault(
            "campaigns.deliver_messages", {"task": "campaigns.deliver_messages", "schedule": 60.0}
        )
        # Greetings: at minute 5 of every hour in CELERY_TIMEZONE (= TIME_ZONE,
        # Asia/Shanghai). The first run after local midnight creates the day's call
        # tasks and queues the day's messages; later runs pick up what changed and
        # catch up. Idempotent, so a duplicated beat is harmless.
        settings.CELERY_BEAT_SCHEDULE.setdefault(
            "campaigns.greetings_daily", {"task": "campaigns.greetings_daily", "schedule": crontab(minute=5)}
        )
        # A return is a login seen within 14 days of contact, and players.last_login_at
        # keeps only the latest: refresh often enough that a return is seen before the
        # player's next login moves it.
        settings.CELERY_BEAT_SCHEDULE.setdefault(
            "campaigns.refresh_campaign_results", {"task": "campaigns.refresh_campaign_results", "schedule": 900.0}
        )
