"""The admin on 1,000,000 players and 5,000,000 payments (issue 2's targets).

    .venv/bin/python -m bench.run bench_admin       (or: make bench)

Median of several runs through Django's test client (the whole stack: middleware,
sessions, permissions, templates) against a copy of crm_bench_template.
`BENCH_VERBOSE=1` also prints each page's queries with their times.
"""

from __future__ import annotations

import os
import time

from bench.common import bench_database, median_ms, report

RUNS = int(os.environ.get("BENCH_RUNS", "15"))


def main() -> None:
    with bench_database("crm_bench_i2_admin"):
        _run()


def _run() -> None:
    from django.contrib.auth import get_user_model
    from django.test import Client

    from players.models import Player

    User = get_user_model()
    manager = User.objects.get(username="bench_manager_01")
    supervisor = User.objects.get(username="bench_supervisor")
    as_manager, as_supervisor = Client(), Client()
    as_manager.force_login(manager)
    as_supervisor.force_login(supervisor)

    # A whale of this manager's (many payments, many tier changes) for the player page,
    # another player for the searches.
    whale = Player.objects.filter(manager=manager).order_by("-purchase_count").first()
    someone = Player.objects.filter(manager=manager).exclude(phone="").order_by("pk")[1000]
    national_phone = str(someone.phone)[3:]  # +8613812345678 -> 13812345678, as typed

    changelist = "/admin/players/player/"
    pages = [
        ("changelist, first page, manager", as_manager, changelist, None, "≤ 150 ms"),
        ("changelist, first page, supervisor", as_supervisor, changelist, None, "≤ 150 ms"),
        (
            "changelist, filtered (V5, active, s1), supervisor",
            as_supervisor,
            changelist + f"?tier__id__exact={whale.tier_id}&payer_status__exact=active&server=s1",
            None,
            "≤ 150 ms",
        ),
        (
            "search: exact account id, supervisor",
            as_supervisor,
            changelist + f"?q={someone.account_id}",
            someone.account_id,
            "≤ 50 ms",
        ),
        (
            "search: exact account id, manager",
            as_manager,
            changelist + f"?q={someone.account_id}",
            someone.account_id,
            "≤ 50 ms",
        ),
        (
            "search: phone, supervisor",
            as_supervisor,
            changelist + f"?q={national_phone}",
            someone.account_id,
            "≤ 50 ms",
        ),
        ("search: phone, manager", as_manager, changelist + f"?q={national_phone}", someone.account_id, "≤ 50 ms"),
        (
            "search: nickname prefix, supervisor",
            as_supervisor,
            changelist + f"?q={someone.nickname[:2]}",
            None,
            "(no target)",
        ),
        (
            f"player page ({whale.purchase_count} payments), manager",
            as_manager,
            f"/admin/players/player/{whale.pk}/change/",
            whale.account_id,
            "≤ 150 ms",
        ),
        ("payments changelist, supervisor", as_supervisor, "/admin/players/payment/", None, "(no target)"),
        ("payments changelist, manager", as_manager, "/admin/players/payment/", None, "(no target)"),
    ]
    rows = []
    for title, client, url, expect, target in pages:
        response = client.get(url)
        assert response.status_code == 200, (title, url, response.status_code)
        if expect:
            assert expect in response.content.decode(), (title, url, "missing", expect)
        if os.environ.get("BENCH_VERBOSE"):
            _explain(title, client, url)
        rows.append((title, f"{median_ms(lambda c=client, u=url: c.get(u), runs=RUNS):.1f} ms", target))
    report(f"Admin on {Player.objects.count():,} players (median of {RUNS} runs)", rows)


def _explain(title, client, url) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        start = time.perf_counter()
        client.get(url)
        total = (time.perf_counter() - start) * 1000
    print(f"\n-- {title}: {len(queries)} queries, {total:.1f} ms")
    for q in queries.captured_queries:
        print(f"   {float(q['time']) * 1000:7.1f} ms  {q['sql'][:220]}")


if __name__ == "__main__":
    main()
