"""Benchmark of the game API (issue 3): a live gunicorn (2 workers) on a PostgreSQL copy
of the benchmark dataset, loaded from this process over loopback with valid signatures
and unique event ids, beside the raw limit of the same write in plain psycopg.

    .venv/bin/python -m bench.run bench_api
    BENCH_API_SECONDS=10 .venv/bin/python -m bench.run bench_api

Every loop is bounded by a count and a time (BENCH_API_SECONDS per measure).
"""

from __future__ import annotations

import http.client
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from bench.common import report

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = "crm_bench_i3_api"
SECONDS = float(os.environ.get("BENCH_API_SECONDS", "10"))
MAX_REQUESTS = 50_000
CONCURRENCY = 8
# gunicorn: 2 worker processes, sync by default; BENCH_API_THREADS > 1 runs them as
# gthread workers. On 2 cores, sync workers measured better on every figure (single-event
# 215 vs 159 events/s, p99 56 vs 127 ms; GET p99 20 vs 22 ms): threads of one worker
# queue for the GIL, which lengthens the tail more than overlapping database waits saves.
THREADS = int(os.environ.get("BENCH_API_THREADS", "1"))
ROUNDS = 3


def _pg_url(dbname):
    host = os.environ.get("BENCH_PGHOST", "127.0.0.1")
    port = os.environ.get("BENCH_PGPORT", "5432")
    user = os.environ.get("BENCH_PGUSER", "postgres")
    return f"postgres://{user}@{host}:{port}/{dbname}"


@contextmanager
def dataset_copy(name: str):
    """A private copy of the dataset: bench.common.bench_database where it exists,
    else CREATE DATABASE ... TEMPLATE crm_bench_template here; dropped afterwards."""
    try:
        from bench.common import bench_database
    except ImportError:
        bench_database = None
    if bench_database is not None:
        with bench_database(name) as copy:  # the name with BENCH_DB_SUFFIX
            yield copy
        return
    from bench.common import TEMPLATE_DB, psql_connect

    with psql_connect() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE_DB}" STRATEGY FILE_COPY')
    try:
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput"],
            cwd=ROOT,
            env=_server_env(name),
            check=True,
            capture_output=True,
        )
        yield name
    finally:
        with psql_connect() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _server_env(dbname):
    return {
        **os.environ,
        "DATABASE_URL": _pg_url(dbname),
        "DJANGO_SETTINGS_MODULE": "crm.settings",
        "SECRET_KEY": "bench-only-not-secret",
        "DEBUG": "false",
        "SECURE_SSL_REDIRECT": "false",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_LEVEL": "ERROR",
        "CONN_MAX_AGE": "600",
    }


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def gunicorn(dbname):
    port = _free_port()
    process = subprocess.Popen(
        [
            *(
                sys.executable,
                "-m",
                "gunicorn",
                "crm.wsgi",
                "-w",
                "2",
                "-b",
                f"127.0.0.1:{port}",
                "--log-level",
                "error",
            ),
            # As in production (README): the sync worker that does not wait for the client to close.
            *(
                ("--worker-class", "gthread", "--threads", str(THREADS))
                if THREADS > 1
                else ("-k", "crm.server.SyncWorker")
            ),
        ],
        cwd=ROOT,
        env=_server_env(dbname),
    )
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", "/api/v1/ready/")
                conn.getresponse().read()
                break
            except OSError:
                time.sleep(0.3)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)


def _credentials(dbname):
    out = subprocess.run(
        [sys.executable, "manage.py", "create_api_client", "--name", f"bench-{uuid.uuid4().hex[:8]}"],
        cwd=ROOT,
        env=_server_env(dbname),
        check=True,
        capture_output=True,
    )
    return json.loads(out.stdout.decode().strip().splitlines()[-1])


def _accounts(dbname, count=20000):
    import psycopg

    with psycopg.connect(_pg_url(dbname).replace("postgres://", "postgresql://")) as conn:
        rows = conn.execute("SELECT account_id FROM players_player TABLESAMPLE SYSTEM (5) LIMIT %s", [count]).fetchall()
    return [r[0] for r in rows]


def run_clients(concurrency, seconds, max_requests, one_call):
    """`concurrency` threads call `one_call(i)` until the time or the count runs out;
    returns (completed calls, elapsed seconds, latencies in ms, errors)."""
    latencies: list[float] = []
    errors: list[str] = []
    counter = iter(range(max_requests))
    lock = threading.Lock()
    stop_at = time.perf_counter() + seconds

    def worker():
        local = []
        while time.perf_counter() < stop_at:
            with lock:
                n = next(counter, None)
            if n is None:
                break
            start = time.perf_counter()
            try:
                one_call(n)
            except Exception as exc:  # noqa: BLE001 (counted and shown)
                errors.append(repr(exc)[:200])
                continue
            local.append((time.perf_counter() - start) * 1000)
        with lock:
            latencies.extend(local)

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(latencies), time.perf_counter() - started, latencies, errors


def cpu_seconds() -> dict[str, float]:
    """CPU seconds used so far by the gunicorn processes, the PostgreSQL server's
    processes and this (client) process, read from /proc (Linux; {} elsewhere). On 2
    shared cores the figures say where each request's time goes."""
    proc = Path("/proc")
    if not proc.is_dir():
        return {}
    tick = os.sysconf("SC_CLK_TCK")
    groups = {"gunicorn": 0.0, "postgres": 0.0, "client": time.process_time()}
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        name, fields = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2 :].split()
        # utime + stime, and the cutime + cstime of children it has reaped: a backend that
        # ends (the raw limit's connections) moves its CPU to the postmaster's children.
        used = sum(int(value) for value in fields[11:15]) / tick
        if "gunicorn" in command:
            groups["gunicorn"] += used
        elif name.startswith("postgres") or command.startswith("postgres"):
            groups["postgres"] += used
    return groups


@contextmanager
def cpu_per(box: dict):
    """Fills box["ms"] with CPU milliseconds by group for the block; divide by the count."""
    before = cpu_seconds()
    yield box
    after = cpu_seconds()
    box["ms"] = {group: (after[group] - before[group]) * 1000 for group in after}


def cpu_line(box: dict, count: int) -> str:
    if not box.get("ms") or not count:
        return "n/a"
    return " / ".join(f"{ms / count:.2f}" for ms in box["ms"].values())


def percentile(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def raw_limit(dbname, accounts, concurrency, seconds=SECONDS):
    """The same write in plain psycopg: ledger insert ON CONFLICT DO NOTHING + player totals, one transaction each."""
    import psycopg

    url = _pg_url(dbname).replace("postgres://", "postgresql://")
    local = threading.local()
    now = datetime.now(UTC)
    run = uuid.uuid4().hex[:8]

    def one(n):
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = psycopg.connect(url)
        account = accounts[n % len(accounts)]
        with conn.transaction():
            row = conn.execute(
                "INSERT INTO players_payment (player_id, source, source_ref, event_id, kind, amount, currency,"
                " amount_base, server, occurred_at, received_at, order_id, product, refund_of, fingerprint)"
                " SELECT id, 'api', 'raw', %s, 'purchase', %s, 'CNY', %s, '', %s, %s, '', '', '', ''"
                " FROM players_player WHERE account_id = %s"
                " ON CONFLICT (source, source_ref, event_id) DO NOTHING RETURNING player_id",
                [f"raw-{run}-{n}", Decimal("6.00"), Decimal("6.00"), now, now, account],
            ).fetchone()
            if row:
                conn.execute(
                    "UPDATE players_player SET total_spend = total_spend + %s, purchase_count = purchase_count + 1,"
                    " last_paid_at = GREATEST(last_paid_at, %s) WHERE id = %s",
                    [Decimal("6.00"), now, row[0]],
                )

    done, elapsed, latencies, errors = run_clients(concurrency, seconds, MAX_REQUESTS, one)
    return done, elapsed, errors


# The batch's write alone, in three forms, to show where a batch's floor lies: as the
# schema is (the totals on the players row, which has 16 indexes); the ledger insert with
# no totals at all; and the totals in a narrow table of their own (a design not taken:
# it would move total_spend & co. out of every admin list, filter and sort that reads them).
def _totals_update(table: str, key: str) -> str:
    return (
        f"UPDATE {table} t SET total_spend = t.total_spend + d.spend, purchase_count = t.purchase_count + d.n,"
        " last_paid_at = GREATEST(t.last_paid_at, %(now)s)"
        " FROM (SELECT player_id, 6.00 * count(*) AS spend, count(*) AS n FROM new GROUP BY player_id) d"
        f" WHERE t.{key} = d.player_id"
    )


FLOOR_TOTALS = {
    "players": _totals_update("players_player", "id"),
    "ledger only": "SELECT count(*) FROM new",
    "narrow totals": _totals_update("bench_narrow_totals", "player_id"),
}


def narrow_totals_table(dbname) -> None:
    """The experiment's table: every player's totals, keyed by player, nothing else indexed."""
    with _admin(dbname) as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS bench_narrow_totals WITH (fillfactor = 80) AS"
            " SELECT id AS player_id, total_spend, purchase_count, first_paid_at, last_paid_at FROM players_player"
        )
        conn.execute("ALTER TABLE bench_narrow_totals ADD PRIMARY KEY (player_id)")
        conn.execute("VACUUM ANALYZE bench_narrow_totals")


def checkpoint(dbname) -> None:
    """Every page's next change writes a full-page image to the WAL again: each floor
    starts from the same state (otherwise the one run right after the others, on pages
    they already touched since the last checkpoint, is spared that cost)."""
    with _admin(dbname) as conn:
        conn.execute("CHECKPOINT")


def _admin(dbname):
    import psycopg

    return psycopg.connect(_pg_url(dbname).replace("postgres://", "postgresql://"), autocommit=True)


def raw_batch_floor(dbname, accounts, totals="players", concurrency=2, seconds=SECONDS):
    """The batch's write alone in plain psycopg, set-based: 1000 ledger rows by one
    INSERT ... SELECT FROM unnest ON CONFLICT DO NOTHING and the totals (FLOOR_TOTALS)
    by one statement, one transaction per batch (no tier, no churn, no Python)."""
    import psycopg

    url = _pg_url(dbname).replace("postgres://", "postgresql://")
    local = threading.local()
    run = uuid.uuid4().hex[:8]

    def one(n):
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = psycopg.connect(url)
        now = datetime.now(UTC)
        chunk = [accounts[(n * 1000 + i) % len(accounts)] for i in range(1000)]
        with conn.transaction(), conn.cursor(binary=True) as cursor:
            cursor.execute(
                "WITH new AS (INSERT INTO players_payment (player_id, source, source_ref, event_id, kind, amount,"
                " currency, amount_base, server, occurred_at, received_at, order_id, product, refund_of, fingerprint)"
                " SELECT p.id, 'api', 'raw', e, 'purchase', 6.00, 'CNY', 6.00, '', %(now)s, %(now)s, '', '', '', ''"
                " FROM unnest(%(accounts)s::text[], %(events)s::text[]) AS u(a, e)"
                " JOIN players_player p ON p.account_id = u.a"
                " ON CONFLICT (source, source_ref, event_id) DO NOTHING RETURNING player_id) " + FLOOR_TOTALS[totals],
                {"now": now, "accounts": chunk, "events": [f"rawb-{run}-{n}-{i}" for i in range(1000)]},
            )

    done, elapsed, latencies, errors = run_clients(concurrency, seconds, 200, one)
    return done, elapsed, errors


FLOOR_LABELS = {
    "players": "its write alone, psycopg set-based, 2 clients (events/s)",
    "ledger only": "the ledger insert alone, no totals (events/s)",
    "narrow totals": "the write, totals in a narrow table (events/s)",
}


def floor_rows(floors: dict) -> list[tuple[str, str, str]]:
    rows = []
    for totals, (done, elapsed, box, _errors) in floors.items():
        rows.append((f"  {FLOOR_LABELS[totals]}", f"{done * 1000 / elapsed:,.0f}", "reference"))
        rows.append(("    CPU ms per 1000 events: gunicorn / postgres / client", cpu_line(box, done), "-"))
    return rows


class SignedClient:
    """One keep-nothing HTTP client per thread (gunicorn's sync workers close each connection)."""

    def __init__(self, port, credentials):
        self.port = port
        self.key = credentials["key"]
        self.secret = credentials["signing_secret"]

    def call(self, method, path, payload=None):
        import hashlib
        import hmac

        headers = {"Authorization": f"Bearer {self.key}"}
        body = None
        if payload is not None:
            body = json.dumps(payload).encode()
            t = int(time.time())
            v1 = hmac.new(self.secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
            headers |= {"X-CRM-Signature": f"t={t},v1={v1}", "Content-Type": "application/json"}
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
        finally:
            conn.close()
        if response.status >= 300:
            raise RuntimeError(f"{method} {path} -> {response.status} {data[:200]!r}")
        return data


def _add(total: dict, box: dict) -> None:
    for group, ms in box.get("ms", {}).items():
        total["ms"][group] = total["ms"].get(group, 0.0) + ms


def event(run, n, account):
    return {
        "event_id": f"bench-{run}-{n}",
        "type": "purchase",
        "account_id": account,
        "amount": "6.00",
        "currency": "CNY",
        "occurred_at": datetime.now(UTC).isoformat(),
    }


def main() -> None:
    with dataset_copy(DB_NAME) as dbname:
        accounts = _accounts(dbname)
        random.shuffle(accounts)
        credentials = _credentials(dbname)
        raw_4_done, raw_4_elapsed, _errors = raw_limit(dbname, accounts, 4)
        with gunicorn(dbname) as port:
            client = SignedClient(port, credentials)
            run = uuid.uuid4().hex[:8]
            # warm both workers (imports, connections, caches)
            run_clients(2, 3, 40, lambda n: client.call("GET", f"/api/v1/players/{accounts[n]}/"))

            def read(n):
                return client.call("GET", f"/api/v1/players/{accounts[(n * 7) % len(accounts)]}/")

            # Reads twice: on the quiet copy, and after the writes below, while PostgreSQL
            # checkpoints and vacuums what they left (the players table's dead rows).
            quiet_reads = run_clients(CONCURRENCY, SECONDS, MAX_REQUESTS, read)

            # The raw limit and the API in alternating slices at the same concurrency, so a
            # change in the machine's load (it is shared) weighs on both alike.
            raw_done = raw_elapsed = single_done = single_elapsed = 0
            raw_errors, single_lat, single_errors = [], [], []
            raw_cpu, single_cpu = {"ms": {}}, {"ms": {}}
            offset = 0
            for _round in range(ROUNDS):
                with cpu_per({}) as box:
                    done, elapsed, errors = raw_limit(dbname, accounts, CONCURRENCY, SECONDS / ROUNDS)
                _add(raw_cpu, box)
                raw_done, raw_elapsed, raw_errors = raw_done + done, raw_elapsed + elapsed, raw_errors + errors
                with cpu_per({}) as box:
                    done, elapsed, latencies, errors = run_clients(
                        CONCURRENCY,
                        SECONDS / ROUNDS,
                        MAX_REQUESTS,
                        lambda n, offset=offset: client.call(
                            "POST", "/api/v1/payments/", event(run, offset + n, accounts[(offset + n) % len(accounts)])
                        ),
                    )
                _add(single_cpu, box)
                offset += MAX_REQUESTS
                single_done, single_elapsed = single_done + done, single_elapsed + elapsed
                single_lat, single_errors = single_lat + latencies, single_errors + errors
            raw_8 = raw_done / raw_elapsed
            raw_4 = raw_4_done / raw_4_elapsed
            single = (single_done, single_elapsed, single_lat, single_errors)
            batch_cpu = {}
            with cpu_per(batch_cpu):
                batches = run_clients(
                    2,
                    SECONDS,
                    200,
                    lambda n: client.call(
                        "POST",
                        "/api/v1/payments/batch/",
                        {
                            "events": [
                                event(f"{run}b{n}", i, accounts[(n * 1000 + i) % len(accounts)]) for i in range(1000)
                            ]
                        },
                    ),
                )
            floors = {}  # totals -> (batches done, seconds, CPU box, errors)
            narrow_totals_table(dbname)
            for totals in FLOOR_TOTALS:
                checkpoint(dbname)
                with cpu_per({}) as box:
                    done, elapsed, errors = raw_batch_floor(dbname, accounts, totals)
                floors[totals] = (done, elapsed, box, errors)
            reads = run_clients(CONCURRENCY, SECONDS, MAX_REQUESTS, read)

    single_done, single_elapsed, single_lat, single_errors = single
    batch_done, batch_elapsed, batch_lat, batch_errors = batches
    read_done, read_elapsed, read_lat, read_errors = reads
    quiet_done, quiet_elapsed, quiet_lat, quiet_errors = quiet_reads
    single_rate = single_done / single_elapsed
    floor_errors = [error for *_rest, errors in floors.values() for error in errors]
    report(
        f"Game API (gunicorn 2 workers x {THREADS} threads, PostgreSQL copy of the 1M-player dataset, loopback)",
        [
            ("raw limit, psycopg, 8 clients (events/s)", f"{raw_8:,.0f}", "reference"),
            ("raw limit, psycopg, 4 clients (events/s)", f"{raw_4:,.0f}", "reference (≈2,000 measured in the issue)"),
            (
                "single-event POST, 8 clients (events/s)",
                f"{single_rate:,.0f} ({single_rate / raw_8:.0%} of raw)",
                f"≥ 25 % of raw = {raw_8 * 0.25:,.0f}",
            ),
            ("  CPU ms per event: gunicorn / postgres / client", cpu_line(single_cpu, single_done), "-"),
            ("  the raw limit's, same order", cpu_line(raw_cpu, raw_done), "-"),
            ("single-event POST p50 (ms)", f"{statistics.median(single_lat):.1f}", "-"),
            ("single-event POST p99 (ms)", f"{percentile(single_lat, 99):.1f}", "≤ 50 ms"),
            ("batch POST of 1000, 2 clients (events/s)", f"{batch_done * 1000 / batch_elapsed:,.0f}", "≥ 20,000"),
            ("  CPU ms per 1000 events: gunicorn / postgres / client", cpu_line(batch_cpu, batch_done), "-"),
            *floor_rows(floors),
            ("batch POST of 1000 p50 (ms)", f"{statistics.median(batch_lat) if batch_lat else float('nan'):.0f}", "-"),
            ("GET player, 8 clients (req/s)", f"{quiet_done / quiet_elapsed:,.0f}", "-"),
            ("GET player p99 (ms)", f"{percentile(quiet_lat, 99):.1f}", "≤ 20 ms"),
            ("GET player after the writes (req/s)", f"{read_done / read_elapsed:,.0f}", "-"),
            ("GET player after the writes p99 (ms)", f"{percentile(read_lat, 99):.1f}", "≤ 20 ms"),
            (
                "errors (raw/single/batch/get/batch floors)",
                f"{len(raw_errors)}/{len(single_errors)}/{len(batch_errors)}/{len(read_errors) + len(quiet_errors)}"
                f"/{len(floor_errors)}",
                "0",
            ),
        ],
    )
    for sample in (raw_errors + single_errors + batch_errors + quiet_errors + read_errors + floor_errors)[:5]:
        print("  error:", sample)


if __name__ == "__main__":
    main()
