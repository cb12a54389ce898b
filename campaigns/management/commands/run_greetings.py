from datetime import date

from django.core.management.base import BaseCommand, CommandError

from campaigns.services.greetings import greetings_run


class Command(BaseCommand):
    help = (
        "Create the day's greeting call tasks and send the day's greeting messages (birthdays, anniversaries, "
        "festivals), catching up missed days within CRM_GREETINGS_CATCH_UP_DAYS. Safe to run repeatedly (cron)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--date", dest="on", help="Run as of this day (YYYY-MM-DD); default today in TIME_ZONE.")
        parser.add_argument("--dry-run", action="store_true", help="Count who would be greeted; change nothing.")
        parser.add_argument("--catch-up-days", type=int, help="Override CRM_GREETINGS_CATCH_UP_DAYS.")

    def handle(self, *args, on=None, dry_run=False, catch_up_days=None, **options):
        if on:
            try:
                on = date.fromisoformat(on)
            except ValueError:
                raise CommandError(f"--date: expected YYYY-MM-DD, got {on!r}") from None
        report = greetings_run(on=on, dry_run=dry_run, catch_up_days=catch_up_days)
        verb = "would greet" if dry_run else "greeted"
        for line in report.lines:
            self.stdout.write(
                f"{line.occasion_date} {line.rule}: {verb} {line.greeted}"
                + (
                    ""
                    if dry_run
                    else f" (tasks {line.tasks}, messages {line.messages}, gifts {line.gifts}, "
                    f"gifts refused {line.gifts_refused})"
                )
            )
        self.stdout.write(
            f"{report.run_date}: {verb} {report.greeted} in total (catch-up window {report.catch_up_days} days)."
        )
