"""Service records at volume: the daily work report (日报表) and the escalation scan.

    python -m bench.run bench_service

On a copy of the benchmark dataset (bench.common.bench_database) it adds, with COPY,
100,000 contacts over 30 days, 20,000 cases over 60 days (most resolved, some waiting on
the player, about 2,000 overdue), their "opened" events and 30,000 completed outreach
tasks, all for the dataset's VIP managers, then times the report for a day and for 30
days (team, per day, one manager), its CSV, the first escalation of every overdue case
(with the e-mail) and the steady-state scan that finds nothing. The issue names no
target: the figures are printed for the record.
"""

from __future__ import annotations

import os
import random
import time
from contextlib import contextmanager
from datetime import timedelta

from bench.common import median_ms, report

DB_NAME = "crm_bench_service"
CONTACTS = int(os.environ.get("BENCH_SERVICE_CONTACTS", 100_000))
CASES = int(os.environ.get("BENCH_SERVICE_CASES", 20_000))
TASKS = int(os.environ.get("BENCH_SERVICE_TASKS", 30_000))
NO_TARGET = "none named"


@contextmanager
def _database():
    """The dataset copy when the foundation's helper exists, else an empty migrated DB."""
    from bench import common

    if hasattr(common, "bench_database"):
        with common.bench_database(DB_NAME) as name:
            yield name
        return
    with common.psql_connect() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{DB_NAME}"')
    os.environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{DB_NAME}"
    os.environ.setdefault("SECRET_KEY", "bench-only-not-secret")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    try:
        yield DB_NAME
    finally:
        from django.db import connections

        connections.close_all()
        with common.psql_connect() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')


def _managers_and_players(rng):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from players.models import Player

    User = get_user_model()
    managers = list(User.objects.filter(groups__name="VIP manager").order_by("pk"))
    if not managers:  # no dataset: make a small book of players
        group = Group.objects.get(name="VIP manager")
        for i in range(20):
            user = User.objects.create_user(f"bench_mgr_{i}", is_staff=True)
            user.groups.add(group)
            managers.append(user)
        Player.objects.bulk_create(
            [Player(account_id=f"bench-{i}", manager=managers[i % 20]) for i in range(20_000)], batch_size=5000
        )
    supervisor = User.objects.filter(groups__name="Supervisor", email__gt="").first()
    if supervisor is None:
        supervisor = User.objects.create_user("bench_boss", email="boss@example.com", is_staff=True)
        supervisor.groups.add(Group.objects.get(name="Supervisor"))
    book = {}
    for pk, manager_id in Player.objects.filter(manager__in=managers).values_list("pk", "manager_id")[:200_000]:
        book.setdefault(manager_id, []).append(pk)
    return [m for m in managers if m.pk in book], book


def _copy(table: str, columns: list[str], rows) -> None:
    from django.db import connection

    connection.ensure_connection()
    with connection.connection.cursor() as cursor, cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as cp:
        for row in rows:
            cp.write_row(row)


def _generate(now, managers, book, rng) -> int:
    """Write the service data; returns how many open cases are overdue."""
    from players.models import CaseStatus, ContactOutcome

    outcomes = [o for o, _label in ContactOutcome.choices]
    channels = ["phone", "qq", "wechat", "in_game", "sms"]
    today = now.date()

    def contact_rows():
        for _ in range(CONTACTS):
            manager = rng.choice(managers)
            at = now - timedelta(seconds=rng.randint(0, 30 * 86400))
            follow = (today + timedelta(days=rng.randint(-3, 7))) if rng.random() < 0.2 else None
            yield (
                rng.choice(book[manager.pk]),
                rng.choice(channels),
                "outbound",
                manager.pk,
                at,
                rng.randint(1, 20),
                "回访",
                "",
                rng.choice(outcomes),
                follow,
                "",
                at,
            )

    _copy(
        "players_contactlog",
        [
            "player_id",
            "channel",
            "direction",
            "staff_id",
            "contacted_at",
            "duration_minutes",
            "topic",
            "summary",
            "outcome",
            "next_follow_up",
            "source",
            "created_at",
        ],
        contact_rows(),
    )

    overdue = 0
    case_rows = []
    for _ in range(CASES):
        manager = rng.choice(managers)
        opened = now - timedelta(seconds=rng.randint(0, 60 * 86400))
        due = opened + timedelta(hours=72)
        roll = rng.random()
        resolved_at = sla_met = satisfaction = closed_at = paused_at = None
        if roll < 0.75 and opened + timedelta(hours=1) < now:
            resolved_at = min(opened + timedelta(hours=rng.uniform(0.5, 100)), now)
            sla_met = resolved_at <= due
            satisfaction = rng.randint(1, 5) if rng.random() < 0.6 else None
            status = CaseStatus.CLOSED if rng.random() < 0.5 else CaseStatus.RESOLVED
            closed_at = resolved_at if status == CaseStatus.CLOSED else None
        elif roll < 0.85:
            status = CaseStatus.WAITING
            paused_at = opened + (now - opened) / 2
        else:
            status = rng.choice([CaseStatus.NEW, CaseStatus.IN_PROGRESS])
            overdue += due < now
        case_rows.append(
            (
                rng.choice(book[manager.pk]),
                rng.choice(["complaint", "payment", "account", "bug", "suggestion", "question"]),
                rng.choice(["low", "normal", "normal", "high", "urgent"]),
                rng.choice(channels),
                "充值未到账",
                "",
                manager.pk,
                status,
                opened,
                manager.pk,
                72,
                due,
                paused_at,
                0,
                sla_met,
                None,
                0,
                "已补发" if resolved_at else "",
                resolved_at,
                closed_at,
                "",
                None,
                satisfaction,
                "",
                now,
                "round_the_clock",  # the SLA clock, the escalation level (issue 22) and the checklist
                0,  # (issue 20): NOT NULL without a database default
                "{}",
            )
        )
    _copy(
        "players_case",
        [
            "player_id",
            "category",
            "severity",
            "channel",
            "subject",
            "description",
            "owner_id",
            "status",
            "opened_at",
            "opened_by_id",
            "sla_hours",
            "sla_due_at",
            "sla_paused_at",
            "sla_paused_seconds",
            "sla_met",
            "escalated_at",
            "escalation_count",
            "resolution",
            "resolved_at",
            "closed_at",
            "compensation_item",
            "compensation_value",
            "satisfaction",
            "satisfaction_note",
            "updated_at",
            "sla_clock",
            "escalation_level",
            "checklist",
        ],
        case_rows,
    )
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """INSERT INTO players_caseevent (case_id, type, parameters, actor_id, at)
               SELECT id, 'opened', '{}'::jsonb, opened_by_id, opened_at FROM players_case"""
        )

    def task_rows():
        for _ in range(TASKS):
            manager = rng.choice(managers)
            done = now - timedelta(seconds=rng.randint(0, 30 * 86400))
            yield (
                rng.choice(book[manager.pk]),
                manager.pk,
                "win_back",
                "回访",
                "",
                done.date(),
                "done",
                rng.choice(outcomes),
                "",
                "",
                done,
                done,
            )

    _copy(
        "campaigns_outreachtask",
        [
            "player_id",
            "assignee_id",
            "kind",
            "title",
            "script",
            "due_date",
            "status",
            "outcome",
            "note",
            "source",
            "created_at",
            "completed_at",
        ],
        task_rows(),
    )
    with connection.cursor() as cursor:
        for table in ("players_contactlog", "players_case", "players_caseevent", "campaigns_outreachtask"):
            cursor.execute(f"ANALYZE {table}")
    return overdue


def main() -> None:
    with _database():
        from django.conf import settings
        from django.utils import timezone

        from crm.workplace.reports import service_work_report
        from crm.workplace.reports_admin import report_csv
        from players.selectors.service_records import follow_ups_due
        from players.services.cases import cases_escalate_overdue

        settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
        rng = random.Random(8)
        now = timezone.now()
        managers, book = _managers_and_players(rng)
        started = time.perf_counter()
        overdue = _generate(now, managers, book, rng)
        generated = time.perf_counter() - started

        today = timezone.localdate()
        month_ago = today - timedelta(days=29)
        one = managers[0]
        day_ms = median_ms(lambda: service_work_report(start=today, end=today))
        month_ms = median_ms(lambda: service_work_report(start=month_ago, end=today))
        by_day_ms = median_ms(lambda: service_work_report(start=month_ago, end=today, by_day=True))
        manager_ms = median_ms(lambda: service_work_report(start=month_ago, end=today, users=[one]))
        csv_ms = median_ms(
            lambda: report_csv(service_work_report(start=month_ago, end=today, by_day=True)), runs=5, warmup=1
        )
        figures = service_work_report(start=month_ago, end=today).total
        follow_ms = median_ms(lambda: list(follow_ups_due(user=one, include_overdue=True)))

        from django.core import mail

        mail.outbox = []
        started = time.perf_counter()
        escalated = cases_escalate_overdue()
        first_scan = time.perf_counter() - started
        steady_ms = median_ms(lambda: cases_escalate_overdue(), runs=15, warmup=2)

        report(
            f"Service records ({CONTACTS:,} contacts, {CASES:,} cases, {TASKS:,} outreach tasks; "
            f"{len(managers)} managers; generated in {generated:.1f} s)",
            [
                ("work report, team, one day (median)", f"{day_ms:.1f} ms", NO_TARGET),
                ("work report, team, 30 days (median)", f"{month_ms:.1f} ms", NO_TARGET),
                ("work report, team, 30 days by day (median)", f"{by_day_ms:.1f} ms", NO_TARGET),
                ("work report, one manager, 30 days (median)", f"{manager_ms:.1f} ms", NO_TARGET),
                ("work report CSV, 30 days by day (median)", f"{csv_ms:.1f} ms", NO_TARGET),
                (
                    "  30-day team figures",
                    f"{figures.contacts} contacts, {figures.cases_resolved} resolved, "
                    f"SLA {figures.sla_met_pct}%, sat. {figures.satisfaction_avg}",
                    "-",
                ),
                ("follow-ups due for a manager (median)", f"{follow_ms:.1f} ms", NO_TARGET),
                (
                    f"escalation, first run ({len(escalated):,} of {overdue:,} overdue, {len(mail.outbox)} e-mails)",
                    f"{first_scan * 1000:.0f} ms",
                    NO_TARGET,
                ),
                ("escalation scan with nothing overdue (median)", f"{steady_ms:.2f} ms", NO_TARGET),
            ],
        )


if __name__ == "__main__":
    main()
