from django.core.management.base import BaseCommand, CommandError

from campaigns.services.top_spenders import year_spend_refresh


class Command(BaseCommand):
    help = (
        "Sum spend per player and year from the payment ledger for the year-end summary: the years whose "
        "payments changed since they were summed (the nightly run does this), or the --year given."
    )

    def add_arguments(self, parser):
        parser.add_argument("--year", type=int, action="append", help="Rebuild this year (repeatable).")

    def handle(self, *args, year=None, **options):
        if year and any(not 2000 <= y <= 2100 for y in year):
            raise CommandError("--year: expected a year between 2000 and 2100")
        rebuilt = year_spend_refresh(years=year)
        self.stdout.write(f"rebuilt: {', '.join(map(str, rebuilt)) or 'nothing changed'}")
