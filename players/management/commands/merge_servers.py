import json

from django.contrib.auth import get_user_model
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.management.base import BaseCommand, CommandError

from players.services.servers import server_merge, server_merge_plan


class Command(BaseCommand):
    help = (
        "Merge game servers (合服): every account of the old servers moves to the new server id, "
        "with a row in its change history; API clients and greeting rules of the old servers follow. "
        "Payments keep their server and event ids. Example: merge_servers --game 三国 --into s100 s1 s2 s3"
    )

    def add_arguments(self, parser):
        parser.add_argument("old_servers", nargs="+", help="The old server ids.")
        parser.add_argument("--into", required=True, dest="new_server", help="The new server id.")
        parser.add_argument("--game", default="", help="The game (API clients of other games are left alone).")
        parser.add_argument("--note", default="", help="Why (kept with the merge's record).")
        parser.add_argument("--by", default="", help="The username recorded as having merged.")
        parser.add_argument("--dry-run", action="store_true", help="Only count what would move.")

    def handle(self, *args, old_servers, new_server, game, note, by, dry_run, **options):
        actor = None
        if by:
            actor = get_user_model().objects.filter(username=by).first()
            if actor is None:
                raise CommandError(f"No user {by!r}.")
        try:
            if dry_run:
                plan = server_merge_plan(game=game, old_servers=old_servers, new_server=new_server)
                self.stdout.write(
                    json.dumps(
                        {
                            "dry_run": True,
                            "new_server": plan.new_server,
                            "accounts": plan.accounts,
                            "rewrites_table": plan.rewrite,
                        },
                        ensure_ascii=False,
                    )
                )
                return
            merge = server_merge(game=game, old_servers=old_servers, new_server=new_server, actor=actor, note=note)
        except ValidationError as exc:
            raise CommandError(
                "; ".join(
                    " ".join(v) if k == NON_FIELD_ERRORS else f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items()
                )
            ) from exc
        self.stdout.write(
            json.dumps(
                {
                    "merge": merge.pk,
                    "new_server": merge.new_server,
                    "accounts": {s.server: s.accounts for s in merge.sources.all()},
                    "api_clients": merge.api_clients,
                    "rules": merge.rules,
                    "seconds": round(merge.duration_ms / 1000, 1),
                },
                ensure_ascii=False,
            )
        )
