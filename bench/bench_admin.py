"""The admin on 1,000,000 players and 5,000,000 payments (issue 2's targets).

    .venv/bin/python -m bench.run bench_admin       (or: make bench)

Median of several runs through Django's test client (the whole stack: middleware,
sessions, permissions, templates) against a copy of crm_bench_template.
`BENCH_VERBOSE=1` also prints each page's queries with their times.
"""

from __future__ import annotations

import os
import time

from bench.common import bench_database, report

RUNS = int(os.environ.get("BENCH_RUNS", "15"))


def main() -> None:
    with bench_database(os.environ.get("BENCH_DB_NAME", "crm_bench_i2_admin")):
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
    named = Player.objects.filter(manager=manager).exclude(real_name="").order_by("pk")[1000]

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
            "search: last 4 digits of a phone (尾号), supervisor",
            as_supervisor,
            changelist + f"?q={national_phone[-4:]}",
            None,  # about 80 players share them; the page shows the newest 50
            "≤ 50 ms",
        ),
        (
            "search: last 4 digits of a phone (尾号), manager",
            as_manager,
            changelist + f"?q={national_phone[-4:]}",
            someone.account_id,
            "≤ 50 ms",
        ),
        (
            "search: account id without its prefix, supervisor",
            as_supervisor,
            changelist + f"?q={someone.account_id[-6:]}",
            someone.account_id,
            "≤ 50 ms",
        ),
        (
            "search: real name, supervisor",
            as_supervisor,
            changelist + f"?q={named.real_name}",
            named.account_id,
            "≤ 50 ms",
        ),
        (
            "search: real name, manager",
            as_manager,
            changelist + f"?q={named.real_name}",
            named.account_id,
            "≤ 50 ms",
        ),
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
        wall, cpu, sql = _measure(lambda c=client, u=url: c.get(u))
        rows.append((title, f"{wall:6.1f} ms  (cpu {cpu:5.1f} + sql {sql:5.1f})", target))
    report(
        f"Admin on {Player.objects.count():,} players (median of {RUNS} runs; wall clock, "
        "and this process's CPU time plus the time spent waiting for SQL)",
        rows,
    )
    print(f"  load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


def _measure(fetch, runs=RUNS, warmup=3):
    """Median wall time, CPU time of this process and SQL time of one request. On a busy
    machine wall time mostly measures waiting for a core; CPU + SQL is what the request costs."""
    import statistics

    from django.db import connection

    sql = [0.0]

    def timed(execute, query, params, many, context):
        start = time.perf_counter()
        try:
            return execute(query, params, many, context)
        finally:
            sql[0] += time.perf_counter() - start

    for _ in range(warmup):
        fetch()
    walls, cpus, sqls = [], [], []
    with connection.execute_wrapper(timed):
        for _ in range(runs):
            sql[0] = 0.0
            wall, cpu = time.perf_counter(), time.process_time()
            fetch()
            walls.append((time.perf_counter() - wall) * 1000)
            cpus.append((time.process_time() - cpu) * 1000)
            sqls.append(sql[0] * 1000)
    return statistics.median(walls), statistics.median(cpus), statistics.median(sqls)


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
