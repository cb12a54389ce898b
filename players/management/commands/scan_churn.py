from django.core.management.base import BaseCommand
from django.utils.dateparse import parse_datetime

from players.services.payer_status import SCAN_BATCH_SIZE, churn_scan


class Command(BaseCommand):
    help = "Re-judge every player's payer status and churn risk (set-based SQL, idempotent) and write today's snapshot."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=SCAN_BATCH_SIZE, help="Player ids per transaction.")
        parser.add_argument("--now", help="Judge as of this ISO date-time with offset (default: now).")

    def handle(self, *args, batch_size, now, **options):
        counts = churn_scan(now=parse_datetime(now) if now else None, batch_size=batch_size)
        self.stdout.write(", ".join(f"{name}: {value}" for name, value in counts.items()))
