"""What every benchmark shares: a PostgreSQL database copied from the generated
dataset, Django pointed at it, timing helpers and a side-by-side report."""

from __future__ import annotations

import os
import resource
import statistics
import time
from collections.abc import Callable
from contextlib import contextmanager

ADMIN_URL = os.environ.get("BENCH_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres")
TEMPLATE_DB = "crm_bench_template"


def psql_connect(dbname: str = "postgres", autocommit: bool = True):
    import psycopg

    return psycopg.connect(f"host=127.0.0.1 port=5432 user=postgres dbname={dbname}", autocommit=autocommit)


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
    """Print `measure | figure | target` rows, aligned, under a title."""
    print(f"\n== {title} ==")
    width = max(len(r[0]) for r in rows)
    fig_width = max(len(r[1]) for r in rows)
    for measure, figure, target in rows:
        print(f"  {measure:<{width}}  {figure:>{fig_width}}   target: {target}")
