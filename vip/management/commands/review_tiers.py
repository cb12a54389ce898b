from django.core.management.base import BaseCommand

from vip.services import tiers_review


class Command(BaseCommand):
    help = "Expire tier pins and apply rolling-window downgrades whose grace period has run out."

    def handle(self, *args, **options):
        counts = tiers_review()
        self.stdout.write(", ".join(f"{name}: {value}" for name, value in counts.items()))
