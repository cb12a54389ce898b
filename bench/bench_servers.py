"""Server merges (合服, issue 21): all four servers of the 1M-player dataset merged into one.

    BENCH_DB_SUFFIX=_h3 .venv/bin/python -m bench.run bench_servers

On a copy of crm_bench_template, alternating (same load on the shared machine):

- the floor: the bare re-key, `UPDATE players_player SET server = ... WHERE server IN (...)`
  in psycopg, rolled back: what any merge that updates the rows pays (each moved row is
  written again with a new entry in every one of the table's indexes);
- the merge: `players.services.servers.server_merge` (history rows + re-key + record), rolled
  back, then once more committed and checked: every account on the new server, every other
  value of every account unchanged (a digest of the rows), the ledger's row count and sum
  unchanged, one history row per account, the table's indexes as defined before.

While the committed merge runs, another connection looks a player up by account id (as the
API and the admin do) every 0.5 s: the longest wait is what a user sees meanwhile (on
PostgreSQL the rewrite of the table holds every reader off until the merge commits).

Target (issue 21): 1M accounts in at most 60 s. The ratio merge/floor says what the history
rows, the record and the way the accounts are re-keyed cost against the bare UPDATE.
"""

from __future__ import annotations

import os
import threading
import time

from bench.common import bench_database, report

TARGET_SECONDS = 60
ROUNDS = int(os.environ.get("BENCH_SERVERS_ROUNDS", 1))
OLD = ["s1", "s2", "s3", "s4"]
NEW = "s100"
# Every column but the two a merge changes, as one digest per table (the check that nothing else moved).
ROWS_DIGEST = (
    "SELECT md5(string_agg(md5((to_jsonb(p) - 'server' - 'updated_at')::text), '' ORDER BY p.id)) FROM players_player p"
)
INDEXES = "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'players_player' ORDER BY 1"


def _lookups_during(stop: threading.Event, waits: list, dsn: dict, account_id: str) -> None:
    """Look a player up every 0.5 s on a connection of its own until `stop`: each lookup's seconds."""
    import psycopg

    with psycopg.connect(**dsn, autocommit=True) as conn:
        while not stop.is_set():
            start = time.perf_counter()
            conn.execute("SELECT server FROM players_player WHERE account_id = %s", [account_id]).fetchone()
            waits.append(time.perf_counter() - start)
            stop.wait(0.5)


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
            cursor.execute(ROWS_DIGEST)
            digest = cursor.fetchone()[0]
            cursor.execute(INDEXES)
            indexes = cursor.fetchall()
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

        loads = []
        for _ in range(ROUNDS):
            loads.append(os.getloadavg()[0])
            floors.append(floor())
            loads.append(os.getloadavg()[0])
            merges.append(merge())

        history_before = Player.history.count()
        with connection.cursor() as cursor:
            cursor.execute("CHECKPOINT")
        params = connection.get_connection_params()
        dsn = {k: params[k] for k in ("dbname", "user", "host", "port") if params.get(k)}
        stop, waits = threading.Event(), []
        lookups = threading.Thread(
            target=_lookups_during, args=(stop, waits, dsn, Player.objects.values_list("account_id", flat=True).first())
        )
        lookups.start()
        time.sleep(1)
        loads.append(os.getloadavg()[0])
        start = time.perf_counter()
        record = server_merge(game="bench", old_servers=OLD, new_server=NEW, note="bench")
        committed = time.perf_counter() - start
        time.sleep(1)
        stop.set()
        lookups.join()
        on_new = Player.objects.filter(server=NEW).count()
        history_rows = Player.history.count() - history_before
        with connection.cursor() as cursor:
            cursor.execute("SELECT COUNT(*), SUM(amount_base) FROM players_payment")
            ledger_after = cursor.fetchone()
            cursor.execute(ROWS_DIGEST)
            digest_after = cursor.fetchone()[0]
            cursor.execute(INDEXES)
            indexes_after = cursor.fetchall()

        ratios = [m / f for m, f in zip(merges, floors, strict=True)]
        report(
            f"Server merge: {accounts:,} accounts on {len(OLD)} servers into one",
            [
                ("bare re-key UPDATE (rolled back), s", " / ".join(f"{s:.1f}" for s in floors), "the floor"),
                ("server_merge (rolled back), s", " / ".join(f"{s:.1f}" for s in merges), f"≤ {TARGET_SECONDS} s"),
                ("merge / floor, per round", " / ".join(f"{r:.2f}" for r in ratios), "-"),
                ("server_merge committed, s", f"{committed:.1f}", f"≤ {TARGET_SECONDS} s"),
                ("  its own duration_ms", f"{record.duration_ms:,}", "-"),
                (
                    "a player lookup meanwhile: longest wait, s",
                    f"{max(waits):.1f} ({len(waits)} lookups)" if waits else "-",
                    "-",
                ),
                ("load average (1 min) at each measure", " / ".join(f"{x:.1f}" for x in loads), "-"),
                ("accounts on the new server", f"{on_new:,}", f"{accounts:,}"),
                ("history rows written", f"{history_rows:,}", f"{accounts:,}"),
                ("every other value of every account unchanged", str(digest_after == digest), "True"),
                ("the table's indexes as before", str(indexes_after == indexes), "True"),
                (
                    "ledger rows, sum unchanged",
                    str((ledger_after[0], ledger_after[1]) == (ledger, ledger_sum)),
                    "True",
                ),
            ],
        )
