from django.core.management.base import BaseCommand

from campaigns.services.campaigns import campaigns_results_refresh_active


class Command(BaseCommand):
    help = (
        "Bring the results of running campaigns up to date (messages sent, returns seen). "
        "Scheduled every 15 minutes; run it from cron without Celery."
    )

    def handle(self, *args, **options):
        count = campaigns_results_refresh_active()
        self.stdout.write(f"{count} campaigns refreshed.")
