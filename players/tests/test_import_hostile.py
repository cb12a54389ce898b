"""The hostile-file corpus (players/tests/hostile_files.py) through the two doors an
import has, the `import_players` command and the admin's upload -> preview -> apply,
each under a memory bound: a file-level problem fails the job with its reason before
any row is written, a bad cell costs only its row, and no job is left running."""

import csv
import io
import os
import subprocess
import sys
import tracemalloc

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse

from players.models import ImportJob, ImportStatus, Player
from players.tests.hostile_files import CORPUS

# What each file must end as: ("failed", words of its reason) or ("done", {account id: imported?}).
EXPECTED = {
    "zip_bomb": ("failed", "too big to import once decompressed"),
    "many_shared_strings": ("done", {"b1": True, "b2": True}),
    "tall_sheet": ("done", {"t1": True}),
    "random_bytes": ("failed", "not a readable XLSX workbook"),
    "nul_byte": ("done", {"p1": True, "p2": False, "p3": True}),
    "mixed_encodings": ("failed", "Row 12002 of the file is not valid UTF-8 text"),
    "huge_line": ("failed", "Line 1 of the file is longer than 1,000,000 characters"),
    "huge_cell": ("failed", "Row 3 has a cell longer than 131,072 characters"),
    "many_columns": ("failed", "The file has 10,000 columns"),
    "formula_cells": ("done", {"p1": True, "p2": False, "p3": False}),
    "impossible_dates": ("done", {"p1": False, "p2": False, "p3": False, "p4": True}),
}
# Python allocations of one import, at most (tracemalloc); the zip bomb took 600 MB.
MEMORY_BOUND = 16 * 1024 * 1024
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\0")


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def peak_of(action) -> int:
    tracemalloc.start()
    try:
        action()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def assert_outcome(name, job):
    outcome, detail = EXPECTED[name]
    assert not job.is_running
    if outcome == "failed":
        assert job.status == ImportStatus.FAILED
        assert detail in job.message
        assert not Player.objects.exists()
        return
    assert job.status == ImportStatus.DONE, job.message
    stored = set(Player.objects.values_list("account_id", flat=True))
    assert stored == {account for account, imported in detail.items() if imported}
    invalid = {e["account_id"] for e in job.errors_sample}
    assert invalid == {account for account, imported in detail.items() if not imported}
    with job.error_report.open("rb") as handle:
        report = list(csv.reader(handle.read().decode("utf-8-sig").splitlines()))
    for row in report[1:]:
        assert row[0].isdigit() and row[2], row  # every problem names its row and its column
        assert not any(cell.startswith(FORMULA_START) for cell in row), row


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_hostile_file_through_the_command(db, tmp_path, name):
    path = CORPUS[name](tmp_path)

    def run():
        try:
            call_command("import_players", str(path), "--no-progress", stdout=io.StringIO())
        except CommandError as exc:
            assert EXPECTED[name][0] == "failed", exc

    peak = peak_of(run)

    assert_outcome(name, ImportJob.objects.get())
    assert peak < MEMORY_BOUND, f"{name}: {peak / 2**20:.1f} MB"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_hostile_file_through_the_admin(client, operations, tmp_path, django_capture_on_commit_callbacks, name):
    path = CORPUS[name](tmp_path)
    client.force_login(operations)

    def upload_and_apply():
        with django_capture_on_commit_callbacks(execute=True), path.open("rb") as handle:
            client.post(
                reverse("admin:players_importjob_add"),
                {"kind": "players", "file": handle, "encoding": "", "invalid_rows": "skip"},
            )
        job = ImportJob.objects.get()
        if job.status == ImportStatus.PREVIEWED:
            with django_capture_on_commit_callbacks(execute=True):
                client.post(reverse("admin:players_importjob_apply", args=[job.pk]))

    peak = peak_of(upload_and_apply)

    job = ImportJob.objects.get()
    assert_outcome(name, job)
    # The test client builds the upload's body in memory: twice the file, not the import's.
    assert peak < MEMORY_BOUND + 2 * path.stat().st_size, f"{name}: {peak / 2**20:.1f} MB"


def test_a_nul_is_a_row_problem_found_by_the_preview(client, operations, tmp_path, django_capture_on_commit_callbacks):
    # given a file whose second row holds a NUL in its nickname
    path = CORPUS["nul_byte"](tmp_path)
    client.force_login(operations)

    # when it is uploaded
    with django_capture_on_commit_callbacks(execute=True), path.open("rb") as handle:
        client.post(
            reverse("admin:players_importjob_add"),
            {"kind": "players", "file": handle, "encoding": "", "invalid_rows": "skip"},
        )

    # then the preview already names the row and the column, before anything is applied
    job = ImportJob.objects.get()
    assert job.status == ImportStatus.PREVIEWED
    assert (job.new_count, job.invalid_count) == (2, 1)
    [problem] = job.errors_sample
    assert (problem["row"], problem["account_id"], problem["column"]) == (3, "p2", "昵称")
    assert "NUL" in problem["reason"]


def test_the_command_writes_nothing_when_a_later_row_is_not_in_the_files_encoding(db, tmp_path):
    # given 12,000 good UTF-8 rows, then one GBK row (more than two 5,000-row chunks)
    path = CORPUS["mixed_encodings"](tmp_path)

    # when the command imports it
    with pytest.raises(CommandError, match="Row 12002"):
        call_command("import_players", str(path), "--no-progress", stdout=io.StringIO())

    # then nothing was written, and the job says why
    assert not Player.objects.exists()
    job = ImportJob.objects.get()
    assert (job.status, job.chunks_done, job.resumable) == (ImportStatus.FAILED, 0, False)


def test_an_apply_stopped_by_an_error_is_failed_and_resumes_from_the_command(db, tmp_path, monkeypatch):
    # given a file of three chunks, and a database write that fails in the second
    from players.services import imports

    path = tmp_path / "players.csv"
    path.write_text("账号,昵称\n" + "".join(f"p{n},玩家{n}\n" for n in range(1, 8)), encoding="utf-8")
    write = imports._PlayerChunker._write
    calls = []

    def failing_write(self, rows):
        calls.append(len(rows))
        if len(calls) == 2:
            raise ConnectionResetError("the database went away")
        return write(self, rows)

    monkeypatch.setattr(imports._PlayerChunker, "_write", failing_write)

    # when the command runs, it stops with a clear message, and the job is failed, not "importing"
    with pytest.raises(CommandError, match="stopped on an unexpected error after 3 rows") as stopped:
        call_command("import_players", str(path), "--chunk-size", "3", "--no-progress", stdout=io.StringIO())
    job = ImportJob.objects.get()
    assert "--resume" in str(stopped.value)
    assert (job.status, job.resumable, job.chunks_done) == (ImportStatus.FAILED, True, 1)
    assert Player.objects.count() == 3

    # when it is resumed from the command line
    call_command("import_players", "--resume", str(job.pk), stdout=io.StringIO())

    # then the rest is imported once
    job.refresh_from_db()
    assert (job.status, job.new_count, job.total_rows) == (ImportStatus.DONE, 7, 7)
    assert Player.objects.count() == 7


def test_a_job_left_importing_by_a_killed_process_resumes_from_the_command(db, tmp_path):
    # given a job whose process was killed while importing (nothing could mark it)
    path = tmp_path / "players.csv"
    path.write_text("账号,昵称\np1,甲\np2,乙\n", encoding="utf-8")
    job = ImportJob.objects.create(
        file_name="players.csv", source_path=str(path), status=ImportStatus.APPLYING, language="en"
    )

    # when it is resumed
    call_command("import_players", "--resume", str(job.pk), stdout=io.StringIO())

    # then it finishes
    job.refresh_from_db()
    assert (job.status, job.new_count) == (ImportStatus.DONE, 2)


def test_the_zip_bomb_command_keeps_its_process_small(requires_postgres, transactional_db, tmp_path):
    """The whole `manage.py import_players` process, measured by the kernel (peak RSS):
    before the limits it grew to 646 MB on this 250 kB file."""
    path = CORPUS["zip_bomb"](tmp_path)
    database = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "crm.settings_test",
        "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}",
        "MEDIA_ROOT": str(tmp_path / "media"),
    }
    measure = (
        "import sys\n"
        "from django.core.management import execute_from_command_line\n"
        "try:\n"
        "    execute_from_command_line(sys.argv)\n"
        "except SystemExit:\n"
        "    pass\n"
        # VmHWM is this process's own peak: ru_maxrss would carry over the peak of the
        # pytest worker that forked it (Linux keeps it across exec), whatever ran there before.
        "print('PEAK', next(line.split()[1] for line in open('/proc/self/status') if line.startswith('VmHWM')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", measure, "import_players", str(path), "--no-progress"],
        cwd=django_settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )

    peak_kb = int(result.stdout.split("PEAK")[-1])
    assert "too big to import once decompressed" in result.stderr
    print(f"import_players peak RSS on the zip bomb: {peak_kb / 1024:.0f} MB")
    assert peak_kb < 200 * 1024, f"{peak_kb / 1024:.0f} MB"
    assert ImportJob.objects.get().status == ImportStatus.FAILED
