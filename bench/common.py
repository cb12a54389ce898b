"""What every benchmark shares: a PostgreSQL database copied from the generated
dataset, Django pointed at it, timing helpers and a side-by-side report."""

from __future__ import annotations

import os
import resource
import statistics
import time
from collections.abc import Callable
from contextlib import contextmanager

PG_HOST = os.environ.get("BENCH_PGHOST", "127.0.0.1")
PG_PORT = os.environ.get("BENCH_PGPORT", "5432")
PG_USER = os.environ.get("BENCH_PGUSER", "postgres")
TEMPLATE_DB = "crm_bench_template"


def psql_connect(dbname: str = "postgres", autocommit: bool = True):
    import psycopg

    return psycopg.connect(f"host={PG_HOST} port={PG_PORT} user={PG_USER} dbname={dbname}", autocommit=autocommit)


def database_url(dbname: str) -> str:
    return f"postgres://{PG_USER}@{PG_HOST}:{PG_PORT}/{dbname}"


@contextmanager
def bench_database(name: str, *, template: str = TEMPLATE_DB, migrate: bool = True, build_missing: bool = True):
    """A private copy of the benchmark dataset, with Django pointed at it.

        with bench_database("crm_bench_churn"):
            from players.models import Player   # Django is set up on the copy
            ...

    Creates `name` from `template` (building the template first if it is missing),
    sets DATABASE_URL, sets Django up with `bench.settings` (DEBUG off), applies
    this branch's migrations that the template lacks, yields, then drops the copy.
    The template itself is never written to. `BENCH_DB_SUFFIX` (e.g. a work tree's name) is
    appended to `name`, so two work trees can run the same benchmark side by side.
    """
    import psycopg

    name += os.environ.get("BENCH_DB_SUFFIX", "")

    with psql_connect() as admin:
        missing = not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [template]).fetchone()
    if missing and build_missing:
        from bench.dataset import ensure_template

        ensure_template(template)  # a complete template only ever appears under its name
    with psql_connect() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        for attempt in range(60):
            # Idle leftovers (a forgotten psql, a crashed run) block copying; end them.
            admin.execute(
                """SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                   WHERE datname = %s AND pid <> pg_backend_pid() AND state = 'idle'""",
                [template],
            )
            try:
                admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY FILE_COPY')
                break
            except psycopg.errors.ObjectInUse:
                if attempt == 59:
                    raise
                time.sleep(5)  # someone is building or reading the template right now
    try:
        _django_use(name)
        if migrate:
            from django.core.management import call_command

            call_command("migrate", verbosity=0, interactive=False)
        yield name
    finally:
        from django.db import connections

        connections.close_all()
        with psql_connect() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _django_use(dbname: str) -> None:
    """Set Django up on `dbname`, or move an already set-up Django onto it."""
    os.environ["DATABASE_URL"] = database_url(dbname)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    import django
    from django.conf import settings
    from django.db import connections

    django.setup()
    connections.close_all()
    settings.DATABASES["default"]["NAME"] = dbname
    for conn in connections.all():
        conn.settings_dict["NAME"] = dbname


def median_ms(fn: Callable[[], object], runs: int = 15, warmup: int = 3) -> float:
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@contextmanager
def timed():
    box = {}
    start = time.perf_counter()
    yield box
    box["seconds"] = time.perf_counter() - start


def report(title: str, rows: list[tuple[str, str, str]]) -> None:
    """Print `measure | figure | target` rows, aligned, under a title and the machine's
    load (figures measured on a shared machine drift with it: compare runs at like loads)."""
    print(f"\n== {title} ==")
    one, five, fifteen = os.getloadavg()
    print(f"  (load average {one:.1f} / {five:.1f} / {fifteen:.1f} over 1 / 5 / 15 min, {os.cpu_count()} cores)")
    width = max(len(r[0]) for r in rows)
    fig_width = max(len(r[1]) for r in rows)
    for measure, figure, target in rows:
        print(f"  {measure:<{width}}  {figure:>{fig_width}}   target: {target}")
