import time

from django.core.management.base import BaseCommand

from crm.demo import demo_seed, demo_users


class Command(BaseCommand):
    help = "Load demo players, payments and staff (idempotent) and print the demo logins."

    def add_arguments(self, parser):
        parser.add_argument("--players", type=int, default=5000)

    def handle(self, *args, players, **options):
        logins = demo_users()
        start = time.perf_counter()
        result = demo_seed(players=players)
        took = time.perf_counter() - start
        if result["skipped"]:
            self.stdout.write("Demo data already loaded; nothing added.")
        else:
            self.stdout.write(f"Loaded {result['players']} players and {result['payments']} payments in {took:.0f} s.")
        self.stdout.write(self.style.SUCCESS("Demo logins (passwords are new on every run):"))
        for username, password, role in logins:
            self.stdout.write(f"  {username:<15} {password:<14} {role}")
