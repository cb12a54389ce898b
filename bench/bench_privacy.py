"""A player's data on request and erasure on request (issue 20, items 2 and 3), for a
player with a big history, on a copy of the 1M-player dataset.

    BENCH_DB_SUFFIX=_h5 .venv/bin/python -m bench.run bench_privacy

One of the dataset's players gets 10,000 payments, 500 contacts, 50 cases with a note
each, 200 messages, 100 tasks, 20 feedback reports and 30 profile edits (change history);
a stored import file of 100,000 rows mentions the player once. Then it times the data
file (ZIP of JSON + XLSX, as the admin's download) and the erasure (request + confirmation,
one transaction), and checks after the erasure that totals and row counts are unchanged.
The issue names no target: figures for the record.
"""

from __future__ import annotations

import os
import tempfile
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from bench.common import bench_database, report

DB_NAME = "crm_bench_privacy"
PAYMENTS = int(os.environ.get("BENCH_PRIVACY_PAYMENTS", 10_000))
CONTACTS = int(os.environ.get("BENCH_PRIVACY_CONTACTS", 500))
IMPORT_ROWS = int(os.environ.get("BENCH_PRIVACY_IMPORT_ROWS", 100_000))
NO_TARGET = "none named"


def _history(player, manager, now):
    from campaigns.models import Message, OutreachTask
    from players.models import Case, CaseEvent, ContactLog, FeedbackReport, FeedbackTopic, Payment
    from players.services import player_update
    from players.services.ledger import players_totals_rebuild

    Payment.objects.bulk_create(
        [
            Payment(
                player=player,
                source="demo",
                source_ref="bench-privacy",
                event_id=f"privacy-{n}",
                kind="purchase",
                amount=Decimal("6.00"),
                currency="CNY",
                amount_base=Decimal("6.00"),
                server=player.server,
                occurred_at=now - timedelta(minutes=n * 30),
                product="月卡",
                fingerprint=f"{n:064d}",
            )
            for n in range(PAYMENTS)
        ],
        batch_size=2000,
    )
    players_totals_rebuild(player_ids=[player.pk])
    ContactLog.objects.bulk_create(
        [
            ContactLog(
                player=player,
                staff=manager,
                channel="phone",
                contacted_at=now - timedelta(days=n % 365, minutes=n),
                topic="回访",
                summary=f"第 {n} 次回访，{player.real_name or '玩家'} 说手机 {player.phone}",
            )
            for n in range(CONTACTS)
        ],
        batch_size=1000,
    )
    cases = Case.objects.bulk_create(
        [
            Case(
                player=player,
                category="payment",
                subject=f"充值未到账 {n}",
                description=f"联系 {player.phone}",
                owner=manager,
                opened_at=now - timedelta(days=n),
                sla_hours=72,
                sla_due_at=now - timedelta(days=n) + timedelta(hours=72),
                status="resolved",
                resolution="已补发",
            )
            for n in range(50)
        ]
    )
    CaseEvent.objects.bulk_create(
        [
            CaseEvent(case=c, type="note", parameters={"text": f"打给 {player.phone}"}, actor=manager, at=now)
            for c in cases
        ]
    )
    Message.objects.bulk_create(
        [
            Message(
                player=player,
                channel="sms",
                body=f"{player.nickname} 您好 {n}",
                status="sent",
                scheduled_for=now - timedelta(days=n),
                sent_at=now - timedelta(days=n),
                source=f"bench-privacy:{n}",
            )
            for n in range(200)
        ]
    )
    OutreachTask.objects.bulk_create(
        [
            OutreachTask(player=player, assignee=manager, title=f"回访 {player.nickname}", due_date=now.date())
            for _n in range(100)
        ]
    )
    topic = FeedbackTopic.objects.create(kind="bug", title="副本卡住", fingerprint="bench-privacy-topic")
    FeedbackReport.objects.bulk_create(
        [
            FeedbackReport(
                topic=topic, player=player, kind="bug", text=f"副本卡住 {n}", fingerprint="x", reported_at=now
            )
            for n in range(20)
        ]
    )
    for n in range(30):
        player_update(player=player, data={"notes": f"备注 {n}", "qq": f"{10000000 + n}"}, actor=manager)


def _import_file(player, media: Path):
    from django.core.files import File

    from players.models import ImportJob, ImportStatus

    path = media / "big.csv"
    with path.open("w", encoding="utf-8") as handle:
        handle.write("账号,手机,昵称\n")
        for n in range(IMPORT_ROWS):
            handle.write(f"other-{n},,路人{n}\n")
            if n == IMPORT_ROWS // 2:
                handle.write(f"{player.account_id},{player.phone},{player.nickname}\n")
    job = ImportJob.objects.create(file_name="big.csv", status=ImportStatus.DONE)
    with path.open("rb") as handle:
        job.file.save("big.csv", File(handle))


def main():
    with bench_database(DB_NAME), tempfile.TemporaryDirectory() as media:
        from django.conf import settings
        from django.contrib.auth import get_user_model
        from django.utils import timezone

        from players.models import DataRequest, Player
        from players.services.privacy import PLAYER_TABLES, erasure_confirm, erasure_request, player_data_file

        settings.MEDIA_ROOT = media
        User = get_user_model()
        supervisor = User.objects.get(username="bench_supervisor")
        second = User.objects.create_user("bench_supervisor_2", is_staff=True)
        second.groups.add(*supervisor.groups.all())
        player = Player.objects.filter(manager__isnull=False).exclude(phone="").order_by("pk").first()
        Player.objects.filter(pk=player.pk).update(real_name="欧阳锋", wechat="wx_bench", email="b@example.cn")
        player.refresh_from_db()
        now = timezone.now()
        started = time.perf_counter()
        _history(player, player.manager, now)
        _import_file(player, Path(media))
        setup_s = time.perf_counter() - started

        from players.services import privacy

        started = time.perf_counter()
        tables, _counts = privacy._player_rows(player)
        rows_s = time.perf_counter() - started
        started = time.perf_counter()
        found = privacy.import_rows_mentioning(privacy.player_values(player))
        scan_s = time.perf_counter() - started
        started = time.perf_counter()
        privacy._zip(player, tables, found, actor=supervisor, reason="bench", now=now)
        zip_s = time.perf_counter() - started
        if os.environ.get("BENCH_PRIVACY_PROFILE"):
            import cProfile
            import pstats

            profile = cProfile.Profile()
            profile.enable()
            tables, _counts = privacy._player_rows(player)
            privacy._zip(player, tables, found, actor=supervisor, reason="bench", now=now)
            profile.disable()
            pstats.Stats(profile).sort_stats("cumulative").print_stats(25)

        started = time.perf_counter()
        produced = player_data_file(player=player, actor=supervisor, reason="bench", delivered_via="email")
        copy_s = time.perf_counter() - started
        counts = produced.request.row_counts

        before = {t.label: t.rows(player.pk).count() for t in PLAYER_TABLES.values() if t.model is not DataRequest}
        spend = Player.objects.get(pk=player.pk).total_spend
        started = time.perf_counter()
        request = erasure_request(player=player, actor=supervisor, reason="bench")
        erasure_confirm(request=request, actor=second)
        erase_s = time.perf_counter() - started
        after = {t.label: t.rows(player.pk).count() for t in PLAYER_TABLES.values() if t.model is not DataRequest}
        erased = Player.objects.get(pk=player.pk)
        unchanged = before == after and erased.total_spend == spend and erased.erased_at is not None

        report(
            "A player's data on request and erasure (1M players, one with a big history)",
            [
                ("history written (setup)", f"{setup_s:.1f} s", "-"),
                (
                    "rows in the file",
                    f"{counts['players.Payment']:,} payments, {counts['players.ContactLog']:,} contacts, "
                    f"{counts['players.HistoricalPlayer']:,} history, {counts['import rows']} import row",
                    "-",
                ),
                ("data file (ZIP: JSON + XLSX)", f"{copy_s:.2f} s, {len(produced.content) / 1e6:.1f} MB", NO_TARGET),
                ("  reading every table's rows", f"{rows_s:.2f} s", "-"),
                (f"  scanning stored imports ({IMPORT_ROWS:,} rows)", f"{scan_s:.2f} s", "-"),
                ("  writing JSON + XLSX + ZIP", f"{zip_s:.2f} s", "-"),
                ("erasure (request + confirm)", f"{erase_s:.2f} s", NO_TARGET),
                ("totals and row counts unchanged", "yes" if unchanged else "NO", "yes"),
            ],
        )
        erasure = DataRequest.objects.get(pk=request.pk)
        print(f"  erasure's own record: {erasure.duration_ms} ms, rows per table {erasure.row_counts}")


if __name__ == "__main__":
    main()
