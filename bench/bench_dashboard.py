"""The dashboard (admin index) on 1,000,000 players and 5,000,000 payments.

Targets (issue 9): the dashboard renders in ≤ 500 ms, with the team aggregates cached
(Redis, db 8 unless BENCH_CACHE_URL says otherwise) and refreshed by the periodic job,
whose own time is reported too. The dataset has no outreach work, so the copy gets
some first: 2,500 tasks and 5,000 contacts (with follow-ups) per manager, and 3 % of
the managed players at risk.
"""

import os
import time

from bench.common import bench_database, median_ms, report

os.environ["CACHE_URL"] = os.environ.get("BENCH_CACHE_URL", "redis://127.0.0.1:6379/8")


def _workload() -> dict:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO campaigns_outreachtask
                (player_id, assignee_id, kind, title, script, due_date, status, outcome, note, source,
                 created_at, completed_at)
            SELECT p.id, p.manager_id, 'win_back', 'Win-back call ' || p.id, '',
                   CURRENT_DATE + ((p.id % 21) - 14)::int, CASE WHEN p.id % 3 = 0 THEN 'done' ELSE 'open' END,
                   CASE WHEN p.id % 3 = 0 THEN (ARRAY['reached','no_answer','promised_return'])[1 + p.id % 3]
                        ELSE '' END,
                   '', 'bench:' || p.id, now() - interval '20 days',
                   CASE WHEN p.id % 3 = 0 THEN now() - ((p.id % 30) || ' days')::interval END
            FROM (SELECT id, manager_id, row_number() OVER (PARTITION BY manager_id ORDER BY id) AS n
                  FROM players_player WHERE manager_id IS NOT NULL) p
            WHERE p.n <= 2500
            """
        )
        tasks = cursor.rowcount
        cursor.execute(
            """
            INSERT INTO players_contactlog
                (player_id, channel, direction, staff_id, contacted_at, topic, summary, outcome,
                 next_follow_up, source, created_at)
            SELECT p.id, 'phone', 'outbound', p.manager_id, now() - ((p.id % 40) || ' days')::interval,
                   'Follow-up ' || p.id, '', 'reached', CURRENT_DATE + ((p.id % 30) - 20)::int, '', now()
            FROM (SELECT id, manager_id, row_number() OVER (PARTITION BY manager_id ORDER BY id DESC) AS n
                  FROM players_player WHERE manager_id IS NOT NULL) p
            WHERE p.n <= 5000
            """
        )
        contacts = cursor.rowcount
        cursor.execute(
            "UPDATE players_player SET payer_status = 'at_risk' WHERE manager_id IS NOT NULL AND id % 33 = 0"
        )
        at_risk = cursor.rowcount
    cases = _cases()
    start = time.perf_counter()
    from players.services.birthdays import birthdays_refresh

    birthdays_refresh(only_stale=True)  # the greetings' birthday index (the daily job keeps it current)
    keys_seconds = time.perf_counter() - start
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE campaigns_outreachtask; ANALYZE players_contactlog; ANALYZE players_player")
        cursor.execute("ANALYZE players_case; ANALYZE players_caseevent")
    return {
        "tasks": tasks,
        "contacts": contacts,
        "at_risk": at_risk,
        "cases": cases,
        "birthday keys (s)": round(keys_seconds, 1),
    }


def _cases() -> int:
    """100 cases per manager over the last 10 days, some resolved, some overdue."""
    from datetime import timedelta

    from django.utils import timezone

    from players.models import Case, Player

    now = timezone.now()
    rows = []
    for n, (pk, manager_id) in enumerate(
        Player.objects.filter(manager__isnull=False).order_by("manager_id", "pk").values_list("pk", "manager_id")[::240]
    ):
        opened = now - timedelta(hours=n % 240)
        resolved = n % 3 == 0
        rows.append(
            Case(
                player_id=pk,
                category="complaint",
                subject=f"Case {n}",
                owner_id=manager_id,
                status="resolved" if resolved else "in_progress",
                opened_at=opened,
                sla_hours=72,
                sla_due_at=opened + timedelta(hours=72),
                sla_met=(n % 2 == 0) if resolved else None,
                resolved_at=now if resolved else None,
            )
        )
    Case.objects.bulk_create(rows, batch_size=2000)
    return len(rows)


def main() -> None:
    with bench_database("crm_bench_i9_dashboard"):
        from django.contrib.auth import get_user_model
        from django.core.cache import cache
        from django.test import Client

        from crm.workplace.aggregates import CACHE_KEY, dashboard_refresh

        added = _workload()
        print(f"workload added: {added}", flush=True)
        cache.delete(CACHE_KEY)

        timings = []
        for _n in range(2):
            start = time.perf_counter()
            snapshot = dashboard_refresh()
            timings.append(time.perf_counter() - start)
        print(f"refresh per figure (ms, last run): {snapshot['timings_ms']}", flush=True)

        User = get_user_model()
        rows = [
            (
                "refresh job (dashboard_refresh), run 1 / run 2",
                f"{timings[0]:.1f} s / {timings[1]:.1f} s",
                "periodic (every 10 min); no target",
            )
        ]
        for username in ("bench_supervisor", "bench_manager_01"):
            client = Client()
            client.force_login(User.objects.get(username=username))

            def fetch(client=client):
                response = client.get("/admin/")
                assert response.status_code == 200, response.status_code
                return response

            body = fetch().content.decode()
            assert "wp-panel" in body
            rows.append(
                (f"dashboard for {username}, warm cache (median of 15)", f"{median_ms(fetch):.0f} ms", "≤ 500 ms")
            )
        report("Dashboard (1M players, 5M payments)", rows)
