import json

from django.core.management.base import BaseCommand, CommandError

from campaigns.channels import ChannelNotConfigured
from campaigns.services.wecom import wecom_results_read, wecom_sync


class Command(BaseCommand):
    help = (
        "Sync WeCom's customer tags and each member's customers (from where the last run stopped), "
        "then read the group-message tasks' results."
    )

    def add_arguments(self, parser):
        parser.add_argument("--max-pages", type=int, default=None, help="Stop after this many pages of customers.")
        parser.add_argument("--results-only", action="store_true", help="Only read the tasks' results.")

    def handle(self, *args, max_pages, results_only, **options):
        try:
            counts = {} if results_only else {"sync": wecom_sync(max_pages=max_pages)}
            counts["results"] = wecom_results_read()
        except ChannelNotConfigured as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(json.dumps(counts, sort_keys=True))
