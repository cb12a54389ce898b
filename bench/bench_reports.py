"""Issue 22 items 5 and 6 at volume: the weekly and monthly work reports and the top-spender
programme (the segment, the booked calls, the year-end summary) on the 1M-player dataset.

    BENCH_DB_SUFFIX=_<you> python -m bench.run bench_reports

On a copy of the dataset it adds the service records bench_service adds (100,000 contacts over
30 days, 20,000 cases, 30,000 completed outreach tasks) and 20,000 gifts over 60 days, then
times each report and the top-spender paths against the issue's limit (≤ 5 s each).
"""

from __future__ import annotations

import random
import time
from datetime import timedelta
from decimal import Decimal

from bench.common import median_ms, report

TARGET = "≤ 5000 ms"
GIFTS = 20_000


def _gifts(now, managers, book, rng) -> None:
    from bench.bench_service import _copy
    from campaigns.models import GiftEntry

    today = now.date()
    rows = []
    for n in range(GIFTS):
        manager = managers[n % len(managers)]
        given = today - timedelta(days=rng.randrange(60))
        rows.append(
            (
                rng.choice(book[manager.pk]),
                "item",
                "月饼礼盒",
                "",
                Decimal(rng.choice(["38", "88", "188"])),
                given.replace(day=1),
                given,
                f"bench-gift-{n}",
                "",
                manager.pk,
                now,
            )
        )
    _copy(
        GiftEntry._meta.db_table,
        [
            "player_id",
            "kind",
            "item",
            "code",
            "value",
            "month",
            "given_on",
            "source",
            "reason",
            "actor_id",
            "created_at",
        ],
        rows,
    )


def main() -> None:
    from bench.bench_service import _database, _generate, _managers_and_players

    with _database():
        from django.utils import timezone

        from campaigns.services.top_spenders import (
            gift_proposals,
            half_month_before,
            top_spender_visits_create,
            top_spenders,
            year_spend_rebuild,
            year_spend_summary,
        )
        from crm.workplace.reports import period_report
        from crm.workplace.reports_admin import report_xlsx_file

        rng = random.Random(22)
        now = timezone.now()
        managers, book = _managers_and_players(rng)
        started = time.perf_counter()
        _generate(now, managers, book, rng)
        _gifts(now, managers, book, rng)
        generated = time.perf_counter() - started
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")

        today = timezone.localdate()
        one = managers[0]
        week_ms = median_ms(lambda: period_report(period="week", day=today), runs=7, warmup=1)
        month_ms = median_ms(lambda: period_report(period="month", day=today), runs=7, warmup=1)
        manager_month_ms = median_ms(lambda: period_report(period="month", day=today, users=[one]), runs=7, warmup=1)
        xlsx_ms = median_ms(
            lambda: report_xlsx_file(period_report(period="month", day=today)).close(), runs=5, warmup=1
        )
        figures = period_report(period="month", day=today).total

        start, end = half_month_before(today)
        segment_ms = median_ms(lambda: top_spenders(start=start, end=end, n=3), runs=7, warmup=1)
        ranked = top_spenders(start=start, end=end, n=3)
        proposals_ms = median_ms(lambda: gift_proposals(ranked, on=today), runs=7, warmup=1)
        overall_ms = median_ms(lambda: top_spenders(start=start, end=end, n=100, per="all"), runs=7, warmup=1)
        started = time.perf_counter()
        *_period, spenders, created = top_spender_visits_create(on=today)
        book_ms = (time.perf_counter() - started) * 1000
        year = (start - timedelta(days=1)).year if start.month == 1 and start.day == 1 else start.year

        # the nightly run sums the year from the ledger (PlayerYearSpend); the screen reads the sums
        started = time.perf_counter()
        year_spend_rebuild(year=year)
        rebuild_ms = (time.perf_counter() - started) * 1000

        def year_first_page():
            return year_spend_summary(year=year, limit=100)

        year_ms = median_ms(year_first_page, runs=5, warmup=1)
        _rows, payers = year_first_page()
        from players.selectors import players_visible_to

        mine = players_visible_to(one)
        manager_year_ms = median_ms(lambda: year_spend_summary(year=year, players=mine, limit=100), runs=5, warmup=1)

        report(
            f"Weekly/monthly reports and top spenders (1M players; {len(managers)} managers; "
            f"service data and {GIFTS:,} gifts generated in {generated:.1f} s)",
            [
                ("weekly report, team (median)", f"{week_ms:.1f} ms", TARGET),
                ("monthly report, team (median)", f"{month_ms:.1f} ms", TARGET),
                ("monthly report, one manager (median)", f"{manager_month_ms:.1f} ms", TARGET),
                ("monthly report XLSX (median)", f"{xlsx_ms:.1f} ms", TARGET),
                (
                    "  month's team figures",
                    f"{figures.contacts} contacts, {figures.cases_resolved} resolved, {figures.gifts} gifts",
                    "-",
                ),
                (f"top 3 per server, {start} – {end} (median)", f"{segment_ms:.1f} ms", TARGET),
                ("top 100 across servers (median)", f"{overall_ms:.1f} ms", TARGET),
                ("gift proposals of the top 3 per server (median)", f"{proposals_ms:.1f} ms", TARGET),
                (f"booking the half month's calls ({created} tasks)", f"{book_ms:.1f} ms", TARGET),
                (f"year-end summary {year}, first page of {payers:,} payers (median)", f"{year_ms:.1f} ms", TARGET),
                ("year-end summary, one manager's first page (median)", f"{manager_year_ms:.1f} ms", TARGET),
                (f"summing {year} from the ledger (nightly, once)", f"{rebuild_ms:.1f} ms", "-"),
            ],
        )
