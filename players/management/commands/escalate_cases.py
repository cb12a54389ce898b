from django.core.management.base import BaseCommand

from players.services.cases import cases_escalate_overdue


class Command(BaseCommand):
    help = "Escalate overdue cases (flag them, e-mail the supervisors once). Run it every 15 minutes from cron."

    def handle(self, *args, **options):
        escalated = cases_escalate_overdue()
        self.stdout.write(f"Escalated {len(escalated)} case(s).")
