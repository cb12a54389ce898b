import json

from django.core.management.base import BaseCommand

from campaigns.services.messaging import messages_deliver_due


class Command(BaseCommand):
    help = "Send the automatic messages that are due (fatigue rules, retries). Safe to run from cron every minute."

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, default=1000, help="At most this many messages in one run.")

    def handle(self, *args, limit, **options):
        counts = messages_deliver_due(limit=limit)
        self.stdout.write(json.dumps(counts, sort_keys=True))
