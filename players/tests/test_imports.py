"""players.services.imports with the real files under players/tests/files/."""

import csv
import shutil
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from players.models import ImportJob, ImportKind, ImportStatus, InvalidRowPolicy, Payment, Player
from players.services.imports import (
    ImportRun,
    import_file_command,
    import_file_run,
    import_job_apply,
    import_job_create,
    import_job_preview,
)
from vip.models import TierChange

FILES = Path(__file__).parent / "files"


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


SHANGHAI = ZoneInfo("Asia/Shanghai")

MESSY_ERRORS = [
    (4, "10002", "手机号", "138-bad is not a valid phone number.", "invalid"),
    (7, "10005", "生日", "1990-13-45 is not a real date.", "invalid"),
    (8, "10006", "昵称", "At most 64 characters (this has 100).", "invalid"),
    (10, "acc 10008", "账号", "An account id cannot contain spaces.", "invalid"),
    (11, "10001", "账号", "Same as row 2; skipped.", "duplicate"),
    (12, "10003", "账号", "This account id is also in row 5 with other values; keep one of them.", "invalid"),
    (13, "10009", "生日", "Unrecognised date 05/01/2024: use 2024-01-05, 2024/1/5 or 2024年1月5日.", "invalid"),
    (14, "10010", "等级", "A whole number is needed.", "invalid"),
]


def run_file(name, *, dry_run=False, **options):
    run = ImportRun(kind=options.pop("kind", ImportKind.PLAYERS), path=FILES / name, name=name, dry_run=dry_run)
    for key, value in options.items():
        setattr(run, key, value)
    return import_file_run(run)


def problems(run):
    return [(p.row, p.account_id, p.column, p.reason, p.outcome) for p in run.problems]


@pytest.mark.parametrize(
    ("name", "encoding"), [("messy_players_utf8_bom.csv", "utf-8-sig"), ("messy_players_gbk.csv", "gb18030")]
)
def test_messy_csv_reports_each_bad_row_and_stores_the_good_ones(db, manager, name, encoding):
    # given a player the file updates, with staff-owned fields the file has no column for
    Player.objects.create(
        account_id="10004", nickname="old", phone="+8613700000000", notes="keep me", manager=manager, level=1
    )

    # when the file is imported, skipping invalid rows
    run = run_file(name)

    # then every bad row is reported with its row number, column and reason
    assert run.detected_encoding == encoding
    assert problems(run) == MESSY_ERRORS
    assert (run.counts.total, run.counts.new, run.counts.updated, run.counts.unchanged, run.counts.invalid) == (
        13,
        4,
        1,
        1,
        7,
    )
    assert run.columns["ignored"] == ["备用列"]
    # and the good rows beside them were stored, in every date form
    assert sorted(Player.objects.values_list("account_id", flat=True)) == [
        "10001",
        "10003",
        "10004",
        "10007",
        "10011",
    ]
    first = Player.objects.get(account_id="10001")
    assert (first.nickname, str(first.phone), first.birthday, first.level, first.channel) == (
        "龙傲天",
        "+8613812345678",
        date(1990, 5, 17),
        58,
        "appstore",
    )
    assert first.registered_at == datetime(2024, 1, 5, 10, 30, tzinfo=SHANGHAI)
    third = Player.objects.get(account_id="10003")
    assert (str(third.phone), third.birthday, third.nickname) == ("+8613912345678", date(1992, 3, 4), "赵六")
    assert third.registered_at == datetime(2024, 1, 5, 2, 0, tzinfo=UTC)
    # Excel serial dates; empty cells and absent staff columns keep what was stored
    fourth = Player.objects.get(account_id="10004")
    assert fourth.birthday == date(1990, 1, 1)
    assert fourth.registered_at == datetime(2024, 1, 5, tzinfo=SHANGHAI)
    assert (fourth.nickname, str(fourth.phone), fourth.notes, fourth.manager, fourth.level) == (
        "孙七",
        "+8613700000000",
        "keep me",
        manager,
        7,
    )
    assert Player.objects.get(account_id="10007").server == "s3"
    assert Player.objects.get(account_id="10011").server == "s2"


def test_preview_counts_without_writing_and_a_second_import_changes_nothing(db):
    # when the file is previewed
    preview = run_file("messy_players_utf8_bom.csv", dry_run=True)
    # then it counts as the apply will, and writes nothing
    assert (preview.counts.new, preview.counts.updated, preview.counts.unchanged, preview.counts.invalid) == (
        5,
        0,
        1,
        7,
    )
    assert not Player.objects.exists()

    # when applied twice
    run_file("messy_players_utf8_bom.csv")
    before = dict(Player.objects.values_list("account_id", "updated_at"))
    again = run_file("messy_players_gbk.csv")

    # then the second run finds every valid row unchanged and touches no row
    assert (again.counts.new, again.counts.updated, again.counts.unchanged) == (0, 0, 6)
    assert dict(Player.objects.values_list("account_id", "updated_at")) == before


def test_reject_policy_imports_nothing_when_a_row_is_invalid(db):
    run = run_file("messy_players_gbk.csv", invalid_rows=InvalidRowPolicy.REJECT)

    assert run.rejected
    assert run.counts.invalid == 7
    assert not Player.objects.exists()


def test_empty_cells_clear_values_only_when_asked(db, tmp_path):
    Player.objects.create(account_id="a1", nickname="keep", channel="huawei", phone="+8613800000001")
    path = tmp_path / "clear.csv"
    path.write_text("account_id,nickname,channel\na1,,oppo\n", encoding="utf-8")

    run = import_file_run(ImportRun(kind=ImportKind.PLAYERS, path=path, name="clear.csv", dry_run=False))
    player = Player.objects.get(account_id="a1")
    assert (run.counts.updated, player.nickname, player.channel) == (1, "keep", "oppo")

    import_file_run(ImportRun(kind=ImportKind.PLAYERS, path=path, name="clear.csv", dry_run=False, blank_clears=True))
    player.refresh_from_db()
    assert (player.nickname, player.channel, str(player.phone)) == ("", "oppo", "+8613800000001")


def test_staff_columns_are_written_when_present(db, manager, tmp_path):
    from players.models import Consent

    Player.objects.create(account_id="a1", notes="old")
    path = tmp_path / "staff.csv"
    path.write_text(
        '账号,专属客服,备注,标签,首选联系方式,拒绝营销\na1,manager_a,新备注,"whale, 老玩家",微信,是\na2,nobody,,,,\n',
        encoding="utf-8",
    )

    run = import_file_run(ImportRun(kind=ImportKind.PLAYERS, path=path, name="staff.csv", dry_run=False))

    player = Player.objects.get(account_id="a1")
    assert (player.manager, player.notes, player.preferred_channel) == (manager, "新备注", "wechat")
    # the former opt-out column refuses marketing on every channel, in the consent ledger
    refused = Consent.objects.filter(player=player, purpose="marketing", status="refused")
    assert sorted(refused.values_list("channel", flat=True)) == ["email", "in_game", "phone", "sms", "wechat"]
    assert sorted(player.tags.values_list("name", flat=True)) == ["whale", "老玩家"]
    assert problems(run) == [(3, "a2", "专属客服", "No active staff user nobody.", "invalid")]


def test_consent_columns_go_through_the_ledger_with_the_file_and_row_as_evidence(db, supervisor, tmp_path):
    from players.models import Consent, ConsentEvent

    existing = Player.objects.create(account_id="a1")
    path = tmp_path / "consents.csv"
    path.write_text(
        "账号,短信营销,邮件营销,游戏内营销\n"
        "a1,同意,拒绝,\n"
        "a2,withdrawn,yes,\n"
        "a3,也许,同意,撤回\n"  # a bad cell: the row is refused, naming the column
        "a4,=cmd|' /C calc'!A0,,\n",  # a formula is not a consent
        encoding="utf-8",
    )

    run = import_file_run(
        ImportRun(kind=ImportKind.PLAYERS, path=path, name="consents.csv", dry_run=False, actor=supervisor)
    )

    in_force = {(c.player.account_id, c.channel): c.status for c in Consent.objects.select_related("player")}
    assert in_force == {
        ("a1", "sms"): "granted",
        ("a1", "email"): "refused",
        ("a2", "sms"): "withdrawn",
        ("a2", "email"): "granted",
    }
    assert [(p[0], p[2]) for p in problems(run)] == [(4, "短信营销"), (5, "短信营销")]
    event = ConsentEvent.objects.get(player=existing, channel="sms")
    assert (event.source, event.recorded_by, event.purpose) == ("import", supervisor, "marketing")
    assert "consents.csv" in event.evidence and "2" in event.evidence
    # the same file again records nothing new: the consents in force already say so
    import_file_run(ImportRun(kind=ImportKind.PLAYERS, path=path, name="consents.csv", dry_run=False))
    assert ConsentEvent.objects.count() == 4


def test_xlsx_written_by_openpyxl(db):
    run = run_file("players.xlsx")

    assert problems(run) == [(3, "x2", "email", "not-an-email is not an email address.", "invalid")]
    assert (run.counts.new, run.counts.invalid) == (2, 1)
    alice = Player.objects.get(account_id="x1")
    assert (str(alice.phone), alice.birthday, alice.level) == ("+8613812345670", date(1995, 6, 1), 42)
    assert alice.registered_at == datetime(2024, 1, 5, 10, 30, tzinfo=SHANGHAI)
    assert sorted(alice.tags.values_list("name", flat=True)) == ["whale", "老玩家"]
    bob = Player.objects.get(account_id="x3")
    assert (str(bob.phone), bob.birthday) == ("+85291234567", date(1998, 7, 24))
    assert bob.registered_at == datetime(2024, 1, 5, 10, tzinfo=UTC)


def test_payment_history_imported_twice_changes_nothing_the_second_time(db, tiers):
    # when the payment history is imported
    first = run_file("payments.csv", kind=ImportKind.PAYMENTS)

    # then the valid events are in the ledger, the bad ones explained
    assert problems(first) == [
        (6, "p2", "amount", "Must be greater than 0.", "invalid"),
        (7, "p3", "amount", "A refund of 100.00 exceeds the player's total spend of 0.00.", "invalid"),
    ]
    assert (first.counts.new, first.counts.unchanged, first.counts.invalid) == (4, 0, 2)
    p1 = Player.objects.get(account_id="p1")
    assert p1.total_spend == Decimal("648.00")
    assert not Player.objects.filter(account_id="p3").exists()
    # and each affected player's tier was evaluated once, not once per row
    assert list(TierChange.objects.filter(player=p1).values_list("to_tier__name", flat=True)) == ["V4"]
    assert Player.objects.get(account_id="p2").tier.name == "V1"

    # when the same file is imported again
    second = run_file("payments.csv", kind=ImportKind.PAYMENTS)

    # then nothing changes
    assert (second.counts.new, second.counts.unchanged, second.counts.invalid) == (0, 4, 2)
    assert Payment.objects.count() == 4
    p1.refresh_from_db()
    assert p1.total_spend == Decimal("648.00")
    assert TierChange.objects.count() == 2


def test_payment_preview_classifies_against_the_ledger(db, tiers):
    run_file("payments.csv", kind=ImportKind.PAYMENTS)

    preview = run_file("payments.csv", kind=ImportKind.PAYMENTS, dry_run=True)

    assert (preview.counts.new, preview.counts.unchanged, preview.counts.invalid) == (1, 4, 1)


def test_job_preview_then_apply_records_who_when_counts_and_report(db, operations):
    upload = SimpleUploadedFile("messy.csv", (FILES / "messy_players_gbk.csv").read_bytes())
    job = import_job_create(kind=ImportKind.PLAYERS, upload=upload, actor=operations)

    import_job_preview(job=job)
    job.refresh_from_db()
    assert job.status == ImportStatus.PREVIEWED
    assert (job.new_count, job.invalid_count, job.detected_encoding) == (5, 7, "gb18030")
    assert not Player.objects.exists()

    import_job_apply(job=job)
    job.refresh_from_db()
    assert job.status == ImportStatus.DONE
    assert (job.total_rows, job.new_count, job.invalid_count, job.created_by) == (13, 5, 7, operations)
    assert job.finished_at is not None
    assert job.chunks_done == 1
    with job.error_report.open("rb") as handle:
        report = list(csv.reader(handle.read().decode("utf-8-sig").splitlines()))
    assert report[0] == ["row", "account id", "column", "reason", "outcome"]
    outcome = {"invalid": "invalid, not imported", "duplicate": "duplicate, skipped"}
    assert [tuple(r) for r in report[1:]] == [(*(str(v) for v in e[:4]), outcome[e[4]]) for e in MESSY_ERRORS]
    assert Player.objects.count() == 5


def test_apply_resumes_after_the_last_committed_chunk(db, settings):
    lines = ["account_id,nickname"] + [f"r{i},n{i}" for i in range(10)]
    upload = SimpleUploadedFile("ten.csv", "\n".join(lines).encode())
    job = import_job_create(kind=ImportKind.PLAYERS, upload=upload, actor=None)
    import_job_preview(job=job)
    # a worker applied the first chunk of 4 rows, then died
    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.APPLYING, chunks_done=1, new_count=4)

    settings.CRM_IMPORT_CHUNK_SIZE = 4
    import_job_apply(job=job)

    job.refresh_from_db()
    assert job.status == ImportStatus.DONE
    # the first chunk is not written again; the rest is
    assert sorted(Player.objects.values_list("account_id", flat=True)) == [f"r{i}" for i in range(4, 10)]
    assert (job.new_count, job.chunks_done) == (10, 3)


def test_command_report_next_to_the_file(db, tmp_path):
    path = tmp_path / "players.csv"
    shutil.copy(FILES / "messy_players_gbk.csv", path)

    job, run = import_file_command(path=path, report_path=tmp_path / "players.csv.report.csv")

    assert (tmp_path / "players.csv.report.csv").exists()
    assert job.status == ImportStatus.DONE and job.file_name == "players.csv"
    assert run.counts.new == 5


def test_future_birthday_is_rejected(db, tmp_path):
    path = tmp_path / "f.csv"
    tomorrow = date.today() + timedelta(days=2)
    path.write_text(f"account_id,birthday\nf1,{tomorrow.isoformat()}\n", encoding="utf-8")

    run = import_file_run(ImportRun(kind=ImportKind.PLAYERS, path=path, name="f.csv", dry_run=False))

    assert problems(run) == [(2, "f1", "birthday", "This date is in the future.", "invalid")]


def test_imported_birthdays_are_found_by_the_greetings_index(db, tmp_path):
    from players.services.birthdays import birthdays_refresh

    Player.objects.create(account_id="b1", birthday=date(1990, 3, 4))
    birthdays_refresh()
    path = tmp_path / "b.csv"
    path.write_text("account_id,birthday\nb1,1991-12-25\nb2,1988-07-01\n", encoding="utf-8")

    import_file_run(ImportRun(kind=ImportKind.PLAYERS, path=path, name="b.csv", dry_run=False))

    assert dict(Player.objects.values_list("account_id", "birthday_md")) == {"b1": 1225, "b2": 701}


def test_imported_birthday_keys_follow_the_stored_lunar_flag_when_the_file_has_one_column(db, tmp_path):
    # given a player whose birthday is kept by the lunar calendar, and one by the solar
    from crm.calendar import birthday_key

    Player.objects.create(account_id="l1", birthday=date(1990, 3, 4), birthday_is_lunar=True)
    Player.objects.create(account_id="s1", birthday=date(1985, 5, 6))

    # when one file brings only a new birthday, and another only flips the calendar
    births = tmp_path / "births.csv"
    births.write_text("account_id,birthday\nl1,1992-02-10\n", encoding="utf-8")
    import_file_run(ImportRun(kind=ImportKind.PLAYERS, path=births, name="births.csv", dry_run=False))
    flags = tmp_path / "flags.csv"
    flags.write_text("account_id,birthday_is_lunar\ns1,true\n", encoding="utf-8")
    import_file_run(ImportRun(kind=ImportKind.PLAYERS, path=flags, name="flags.csv", dry_run=False))

    # then each key is the one of the stored calendar and the new values: the greeting comes on the right day
    keys = dict(Player.objects.values_list("account_id", "birthday_md"))
    assert keys == {"l1": birthday_key(date(1992, 2, 10), True), "s1": birthday_key(date(1985, 5, 6), True)}
    assert keys["l1"] != 210 and keys["s1"] != 506  # the lunar keys, not the solar month-days


def test_an_import_run_is_recorded_in_file_order():
    # a refund before the purchase it names is refused, as one event at a time would be
    from players.services.imports import _in_order_runs

    rows = [(n, {"kind": kind}) for n, kind in enumerate(["purchase", "refund", "purchase", "purchase", "refund"])]
    assert [[n for n, _v in run] for run in _in_order_runs(rows)] == [[0, 1], [2, 3, 4]]


def _manager_file(tmp_path):
    path = tmp_path / "managers.csv"
    path.write_text("账号,专属客服,备注\na1,manager_a,换人\na2,manager_a,新玩家\na3,,只改备注\n", encoding="utf-8")
    return path


def test_an_import_that_moves_players_writes_their_assignment_history(db, manager, other_manager, supervisor, tmp_path):
    from vip.models import ManagerAssignment

    moved = Player.objects.create(account_id="a1", manager=other_manager)
    Player.objects.create(account_id="a3", manager=other_manager)

    run = run_file_at(_manager_file(tmp_path), actor=supervisor)

    assert problems(run) == []
    rows = ManagerAssignment.objects.order_by("player__account_id")
    assert [(r.player.account_id, r.from_manager, r.to_manager, r.actor, r.note) for r in rows] == [
        ("a1", other_manager, manager, supervisor, "import managers.csv"),
        ("a2", None, manager, supervisor, "import managers.csv"),
    ]
    moved.refresh_from_db()
    assert moved.manager == manager
    assert Player.objects.get(account_id="a3").manager == other_manager  # an empty cell keeps the manager


def test_an_importer_who_may_not_assign_managers_gets_a_row_error(db, manager, other_manager, operations, tmp_path):
    from vip.models import ManagerAssignment

    Player.objects.create(account_id="a1", manager=other_manager)

    run = run_file_at(_manager_file(tmp_path), actor=operations)

    refusal = "You may not assign VIP managers: leave this column empty or ask a supervisor."
    assert problems(run) == [(2, "a1", "专属客服", refusal, "invalid"), (3, "a2", "专属客服", refusal, "invalid")]
    assert (run.counts.updated, run.counts.invalid) == (0, 2)
    assert Player.objects.get(account_id="a1").manager == other_manager
    assert not Player.objects.filter(account_id="a2").exists()
    assert Player.objects.get(account_id="a3").notes == "只改备注"  # good rows beside them are kept
    assert not ManagerAssignment.objects.exists()


def run_file_at(path, **options):
    run = ImportRun(kind=ImportKind.PLAYERS, path=path, name=path.name, dry_run=False)
    for key, value in options.items():
        setattr(run, key, value)
    return import_file_run(run)
