from django.core.management.base import BaseCommand

from players.services.birthdays import birthdays_refresh


class Command(BaseCommand):
    help = "Recompute every player's birthday greeting key (birthday_md), e.g. after a bulk change of birthdays."

    def add_arguments(self, parser):
        parser.add_argument("--stale-only", action="store_true", help="Only players with a birthday but no key.")

    def handle(self, *args, stale_only=False, **options):
        changed = birthdays_refresh(only_stale=stale_only)
        self.stdout.write(f"{changed} birthday keys updated.")
