from django.core.management.base import BaseCommand

from players.services.projection import projection_lag, projection_lag_log, projection_run


class Command(BaseCommand):
    help = (
        "Project the players whose payments or logins were accepted but not yet applied (totals, tier, "
        "payer status), oldest first; say how far behind the projection was. For cron without Celery, "
        "or after an outage."
    )

    def add_arguments(self, parser):
        parser.add_argument("--seconds", type=float, default=None, help="Stop after this long (default: until done).")

    def handle(self, *args, seconds=None, **options):
        projection_lag_log()
        lag = projection_lag()
        self.stdout.write(f"Waiting: {lag.pending_players} players, oldest {lag.seconds:.1f} s.")
        done = projection_run(seconds=seconds)
        self.stdout.write(f"Projected {done.players} players.")
