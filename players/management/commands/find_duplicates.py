import json

from django.core.management.base import BaseCommand

from players.services.duplicates import duplicates_find


class Command(BaseCommand):
    help = (
        "Find accounts that may be one person (the same phone, WeChat, QQ, e-mail, or real name and birthday) "
        "and refresh the list of possible duplicates. Also part of the nightly run."
    )

    def handle(self, *args, **options):
        found = duplicates_find()
        self.stdout.write(
            json.dumps(
                {"pairs": found.pairs, "new": found.new, "removed": found.removed, "seconds": round(found.seconds, 1)}
            )
        )
