from datetime import date

from django.core.management.base import BaseCommand, CommandError

from campaigns.services.top_spenders import top_spender_visits_create
from crm.formatting import money


class Command(BaseCommand):
    help = (
        "Book the half-monthly return-visit calls of the top spenders of each server (the half month "
        "before --date) and of the key customers, with a gift proposal matched to spend. Safe to run repeatedly (cron)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--date", dest="on", help="Run as of this day (YYYY-MM-DD); default today in TIME_ZONE.")
        parser.add_argument("--top", type=int, help="How many per server (default CRM_TOP_SPENDER_COUNT).")
        parser.add_argument("--all-servers", action="store_true", help="Rank the whole company as one group.")
        parser.add_argument("--dry-run", action="store_true", help="List who would be called; book nothing.")

    def handle(self, *args, on=None, top=None, all_servers=False, dry_run=False, **options):
        if on:
            try:
                on = date.fromisoformat(on)
            except ValueError:
                raise CommandError(f"--date: expected YYYY-MM-DD, got {on!r}") from None
        if top is not None and top < 1:
            raise CommandError("--top: expected a whole number of at least 1")
        start, end, spenders, created = top_spender_visits_create(
            on=on, n=top, per="all" if all_servers else "server", dry_run=dry_run
        )
        for t in spenders:
            self.stdout.write(
                f"{t.group or '*'} {'key' if t.key else f'#{t.rank}'} {t.player.account_id if t.player else t.player_id}: "
                f"{money(t.spend)}, gift {money(t.gift)}"
            )
        verb = "would book" if dry_run else "booked"
        self.stdout.write(
            f"{start} – {end}: {len(spenders)} top spenders and key customers; {verb} {created if not dry_run else len(spenders)} calls"
        )
