"""Server merges (合服, issue 21): all four servers of the 1M-player dataset merged into one.

    BENCH_DB_SUFFIX=_h21 .venv/bin/python -m bench.run bench_servers

On a copy of crm_bench_template, alternating (same load on the shared machine):

- the floor: the bare re-key, `UPDATE players_player SET server = ... WHERE server IN (...)`
  in psycopg, rolled back;
- the merge: `players.services.servers.server_merge` (history rows + re-key + record), rolled
  back, then once more committed and checked: every account on the new server, the ledger's
  row count and sum unchanged, one history row per account.

Target (issue 21): 1M accounts in at most 60 s. The ratio merge/floor says what the
history rows and the record cost beyond the re-key itself.
"""

from __future__ import annotations

import os
import time

from bench.common import bench_database, report

TARGET_SECONDS = 60
ROUNDS = int(os.environ.get("BENCH_SERVERS_ROUNDS", 1))
OLD = ["s1", "s2", "s3", "s4"]
NEW = "s100"


def main() -> None:
    with bench_database("crm_bench_servers"):
        from django.db import connection, transaction

        from players.models import Payment, Player
        from players.services.servers import server_merge

        accounts = Player.objects.filter(server__in=OLD).count()
        ledger = Payment.objects.count()
        with connection.cursor() as cursor:
            cursor.execute("SELECT SUM(amount_base) FROM players_payment")
            ledger_sum = cursor.fetchone()[0]
        floors, merges = [], []

        class Rollback(Exception):
            pass

        def timed_rolled_back(fn):
            start = time.perf_counter()
            try:
                with transaction.atomic():
                    fn()
                    raise Rollback
            except Rollback:
                pass
            return time.perf_counter() - start

        def floor():
            with connection.cursor() as cursor:
                cursor.execute("CHECKPOINT")
            return timed_rolled_back(
                lambda: connection.cursor().execute(
                    "UPDATE players_player SET server = %s, updated_at = now() WHERE server = ANY(%s)", [NEW, OLD]
                )
            )

        def merge():
            with connection.cursor() as cursor:
                cursor.execute("CHECKPOINT")
            return timed_rolled_back(lambda: server_merge(old_servers=OLD, new_server=NEW))

        for _ in range(ROUNDS):
            floors.append(floor())
            merges.append(merge())

        history_before = Player.history.count()
        with connection.cursor() as cursor:
            cursor.execute("CHECKPOINT")
        start = time.perf_counter()
        record = server_merge(game="bench", old_servers=OLD, new_server=NEW, note="bench")
        committed = time.perf_counter() - start
        on_new = Player.objects.filter(server=NEW).count()
        history_rows = Player.history.count() - history_before
        with connection.cursor() as cursor:
            cursor.execute("SELECT COUNT(*), SUM(amount_base) FROM players_payment")
            ledger_after = cursor.fetchone()

        ratios = [m / f for m, f in zip(merges, floors, strict=True)]
        report(
            f"Server merge: {accounts:,} accounts on {len(OLD)} servers into one",
            [
                ("bare re-key UPDATE (rolled back), s", " / ".join(f"{s:.1f}" for s in floors), "the floor"),
                ("server_merge (rolled back), s", " / ".join(f"{s:.1f}" for s in merges), f"≤ {TARGET_SECONDS} s"),
                ("merge / floor, per round", " / ".join(f"{r:.2f}" for r in ratios), "-"),
                ("server_merge committed, s", f"{committed:.1f}", f"≤ {TARGET_SECONDS} s"),
                ("  its own duration_ms", f"{record.duration_ms:,}", "-"),
                ("accounts on the new server", f"{on_new:,}", f"{accounts:,}"),
                ("history rows written", f"{history_rows:,}", f"{accounts:,}"),
                (
                    "ledger rows, sum unchanged",
                    str((ledger_after[0], ledger_after[1]) == (ledger, ledger_sum)),
                    "True",
                ),
            ],
        )
