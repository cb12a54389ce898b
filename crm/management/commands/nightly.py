from django.core.management.base import BaseCommand

from crm.nightly import nightly_run


class Command(BaseCommand):
    help = "The nightly job (also on the Celery beat schedule): payer churn scan, VIP tier review, consent history purge, year-end spend sums."

    def handle(self, *args, **options):
        result = nightly_run()
        for part, counts in result.items():
            self.stdout.write(f"{part}: " + ", ".join(f"{name}: {value}" for name, value in counts.items()))
