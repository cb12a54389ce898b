"""The nightly payer-churn scan over 1,000,000 players and 5,000,000 payments.

Runs on a copy of crm_bench_template (bench.common.bench_database):

1. the first scan: nobody has churn figures yet, so every payer is evaluated,
   inserted and most change status (the dataset only knows non_payer/active);
2. the nightly scan a day later: the steady state (statuses move for the players
   whom a day's passage pushes over a threshold; unchanged rows are not written);
3. the same scan again at the same instant: idempotent, nothing written;
4. memory: Python's peak allocation (tracemalloc) for a scan of the first 10 % of
   the players and for all of them. No row reaches Python, so the two are alike:
   flat in the number of players. PostgreSQL's side is bounded by the batch size.

    .venv/bin/python -m bench.run bench_churn
"""

from __future__ import annotations

import time
import tracemalloc
from datetime import timedelta

from bench.common import bench_database, peak_rss_mb, report

TARGET_SECONDS = 60


def _scan(now, **kwargs):
    from players.services.payer_status import churn_scan

    tracemalloc.start()
    start = time.perf_counter()
    counts = churn_scan(now=now, **kwargs)
    seconds = time.perf_counter() - start
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return counts, seconds, peak / 2**20


def main() -> None:
    with bench_database("crm_bench_i5_churn"):
        from django.db import connection
        from django.utils import timezone

        from crm.nightly import nightly_run
        from players.models import Payment, Player

        players = Player.objects.count()
        payments = Payment.objects.count()
        with connection.cursor() as cursor:
            cursor.execute("SELECT MAX(occurred_at) FROM players_payment")
            latest = cursor.fetchone()[0]
        now = max(timezone.now(), latest)

        # memory flatness: the first 10 % of the players, then (below) everyone
        tenth = Player.objects.order_by("pk").values_list("pk", flat=True)[players // 10]
        small_counts, small_seconds, small_peak = _scan(now, below_id=tenth)

        first_counts, first_seconds, first_peak = _scan(now)
        night = now + timedelta(days=1)
        start = time.perf_counter()
        nightly = nightly_run(now=night)
        nightly_seconds = time.perf_counter() - start
        again_counts, again_seconds, again_peak = _scan(night)

        changed = f"{first_counts['changed']:,} status changes of {first_counts['evaluated']:,} payers"
        report(
            f"Nightly churn scan ({players:,} players, {payments:,} payments, PostgreSQL)",
            [
                ("first scan (no figures yet)", f"{first_seconds:.1f} s", f"≤ {TARGET_SECONDS} s"),
                ("  of which", changed, "-"),
                ("nightly run a day later (scan + tier review)", f"{nightly_seconds:.1f} s", f"≤ {TARGET_SECONDS} s"),
                ("  status changes", f"{nightly['churn']['changed']:,}", "-"),
                (
                    "same scan again (idempotent)",
                    f"{again_seconds:.1f} s, {again_counts['changed']} changes",
                    "0 changes",
                ),
                (
                    "Python peak, 10 % of players",
                    f"{small_peak:.2f} MiB ({small_counts['evaluated']:,} payers, {small_seconds:.1f} s)",
                    "flat",
                ),
                ("Python peak, all players", f"{first_peak:.2f} MiB", "flat (same as 10 %)"),
                ("Python peak, nightly scan", f"{again_peak:.2f} MiB", "flat"),
                ("process peak RSS", f"{peak_rss_mb():.0f} MiB", "-"),
            ],
        )
