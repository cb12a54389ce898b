from django.core.management.base import BaseCommand

from players.services.cases import cases_escalate


class Command(BaseCommand):
    help = (
        "Escalate overdue cases (flag them, e-mail the supervisors once; later the head of service)."
        " Run it every 15 minutes from cron."
    )

    def handle(self, *args, **options):
        done = cases_escalate()
        self.stdout.write(f"Escalated {len(done.supervisor)} case(s) to the supervisors, {len(done.head)} to the head.")
