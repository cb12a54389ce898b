"""The duplicate finder (issue 21) over the 1M-player dataset, and its admin list.

    BENCH_DB_SUFFIX=_h21 .venv/bin/python -m bench.run bench_duplicates

On a copy of crm_bench_template (~800k phones, ~400k QQ, ~300k WeChat ids, ~100k e-mails,
~350k real name + birthday; the generator's random values collide now and then, and 20,000
accounts are given the phone and QQ of another account, as a person with a second account):

- the floor, alternating with the finder: per rule one GROUP BY ... HAVING COUNT(*) > 1 over
  the players (the least any finder reads);
- `duplicates_find()`: the first run (every pair new) and a rerun (steady state: nothing
  changes), against the target of 60 s;
- the list: the first page as the supervisor (all pairs) and as a VIP manager (their own).
"""

from __future__ import annotations

import os
import time

from bench.common import bench_database, median_ms, report

TARGET_SECONDS = 60
ROUNDS = int(os.environ.get("BENCH_DUPLICATES_ROUNDS", 2))
SECOND_ACCOUNTS = 20_000


def main() -> None:
    with bench_database("crm_bench_duplicates"):
        from django.db import connection, transaction
        from django.test import Client

        from players.models import DuplicateCandidate
        from players.models.duplicates import DUPLICATE_RULES
        from players.services.duplicates import _key, _present, duplicates_find

        with connection.cursor() as cursor:
            # a second account of 20,000 people: every 50th player takes the phone and QQ of the one before
            cursor.execute(
                """UPDATE players_player p SET phone = o.phone, qq = o.qq
                   FROM players_player o WHERE o.id = p.id - 1 AND p.id %% 50 = 0 AND p.id <= %s
                   AND o.phone <> ''""",
                [SECOND_ACCOUNTS * 50],
            )
            cursor.execute("VACUUM ANALYZE players_player")

        def floor():
            start = time.perf_counter()
            with connection.cursor() as cursor:
                for rule in DUPLICATE_RULES:
                    keys = ", ".join(_key(rule, "p"))
                    cursor.execute(
                        f"SELECT COUNT(*) FROM (SELECT {keys} FROM players_player p WHERE {_present(rule)} "
                        f"GROUP BY {keys} HAVING COUNT(*) > 1) g"
                    )
            return time.perf_counter() - start

        class Rollback(Exception):
            pass

        def first_run():
            try:
                with transaction.atomic():
                    found = duplicates_find()
                    raise Rollback(found)
            except Rollback as done:
                return done.args[0]

        floors, firsts = [], []
        for _ in range(ROUNDS):
            floors.append(floor())
            firsts.append(first_run())
        kept = duplicates_find()  # committed
        rerun = duplicates_find()

        client = Client()
        from django.contrib.auth import get_user_model

        User = get_user_model()
        supervisor = User.objects.get(username="bench_supervisor")
        pairs_by_manager = (
            DuplicateCandidate.objects.filter(player_a__manager__isnull=False)
            .values_list("player_a__manager__username", flat=True)
            .first()
        )
        client.force_login(supervisor)
        supervisor_ms = median_ms(lambda: client.get("/admin/players/duplicatecandidate/"), runs=7, warmup=2)
        manager_ms = None
        if pairs_by_manager:
            client.force_login(User.objects.get(username=pairs_by_manager))
            manager_ms = median_ms(lambda: client.get("/admin/players/duplicatecandidate/"), runs=7, warmup=2)
        by_rule = {
            rule.code: DuplicateCandidate.objects.filter(**{rule.flag: True}).count() for rule in DUPLICATE_RULES
        }
        report(
            "Duplicate finder over 1,000,000 players",
            [
                ("floor: GROUP BY per rule, s", " / ".join(f"{s:.1f}" for s in floors), "-"),
                (
                    "duplicates_find, first run, s",
                    " / ".join(f"{f.seconds:.1f}" for f in firsts),
                    f"≤ {TARGET_SECONDS} s",
                ),
                (
                    "finder / floor, per round",
                    " / ".join(f"{f.seconds / s:.2f}" for f, s in zip(firsts, floors, strict=True)),
                    "-",
                ),
                ("duplicates_find, committed, s", f"{kept.seconds:.1f}", f"≤ {TARGET_SECONDS} s"),
                ("rerun (nothing changed), s", f"{rerun.seconds:.1f}", f"≤ {TARGET_SECONDS} s"),
                ("pairs found", f"{kept.pairs:,}", "-"),
                ("  by rule", ", ".join(f"{k} {v:,}" for k, v in by_rule.items()), "-"),
                ("rerun: new / removed", f"{rerun.new} / {rerun.removed}", "0 / 0"),
                ("list, supervisor, first page, ms", f"{supervisor_ms:.0f}", "-"),
                ("list, a VIP manager, ms", f"{manager_ms:.0f}" if manager_ms else "no pair of theirs", "-"),
            ],
        )
