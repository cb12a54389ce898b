import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from crm.services import api_client_create


class Command(BaseCommand):
    help = 'Create an API client for a game backend; prints {"name", "key", "signing_secret"} once as JSON.'

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True)
        parser.add_argument("--game", default="")
        parser.add_argument("--server", default="")

    def handle(self, *args, name, game, server, **options):
        try:
            credentials = api_client_create(name=name, game=game, server=server)
        except ValidationError as exc:
            raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items()))
        self.stdout.write(json.dumps(credentials.as_dict(), ensure_ascii=False))
