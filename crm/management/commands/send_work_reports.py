from datetime import date

from django.core.management.base import BaseCommand, CommandError

from crm.workplace.report_mail import work_report_mail


class Command(BaseCommand):
    help = (
        "E-mail the team's work report of the last complete week or month to the supervisors "
        "(staff with players.view_team_report and an e-mail address), with CSV and XLSX attached."
    )

    def add_arguments(self, parser):
        parser.add_argument("period", choices=["week", "month"])
        parser.add_argument("--date", dest="today", help="Run as of this day (YYYY-MM-DD); default today in TIME_ZONE.")
        parser.add_argument("--dry-run", action="store_true", help="Say what would be sent to whom; send nothing.")

    def handle(self, *args, period, today=None, dry_run=False, **options):
        if today:
            try:
                today = date.fromisoformat(today)
            except ValueError:
                raise CommandError(f"--date: expected YYYY-MM-DD, got {today!r}") from None
        sent = work_report_mail(period=period, today=today, dry_run=dry_run)
        verb = "would send" if dry_run else "sent"
        if not sent.recipients:
            self.stdout.write(f"{period} {sent.start} – {sent.end}: no supervisor with an e-mail address; nothing sent")
            return
        self.stdout.write(f"{period} {sent.start} – {sent.end}: {verb} to {', '.join(sent.recipients)}")
