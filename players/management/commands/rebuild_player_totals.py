from django.core.management.base import BaseCommand

from players.services import players_totals_rebuild


class Command(BaseCommand):
    help = "Recompute every player's spend, purchase count and first/last paid time from the payment ledger."

    def handle(self, *args, **options):
        corrected = players_totals_rebuild()
        self.stdout.write(f"Corrected {len(corrected)} players.")
        for pk in corrected[:50]:
            self.stdout.write(f"  player id {pk}")
        if len(corrected) > 50:
            self.stdout.write(f"  ... and {len(corrected) - 50} more")
