"""Bulk import, side by side in one run on PostgreSQL (issue 4):

- PostgreSQL COPY of 1,000,000 player rows into players_player (the physical limit);
- django-import-export with default settings on 20,000 rows (the peer), and this
  project's tuned Resource (players/resources.py) on 5,000 rows;
- this project's path: `manage.py import_players` on 100,000 new rows, the same file
  again (all unchanged), and 1,000,000 rows; each in a subprocess so its peak RSS is
  its own (os.wait4);
- the admin end to end on 100,000 rows: upload, preview, confirm, background apply,
  polled until done (Django's test client against the real stack, thread runner).

Uses its own empty, migrated database `crm_i4_import_bench` (created and dropped
here; the bench template is not touched) and files under BENCH_IMPORT_DIR
(default /tmp/crm-bench-import, deleted afterwards). Loopback only.

    .venv/bin/python -m bench.run bench_import
"""

from __future__ import annotations

import csv
import json
import os
import random
import shutil
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

DB = "crm_i4_import_bench"
URL = f"postgres://postgres@127.0.0.1:5432/{DB}"
ROOT = Path(__file__).resolve().parent.parent
WORK = Path(os.environ.get("BENCH_IMPORT_DIR", "/tmp/crm-bench-import"))
COPY_ROWS = int(os.environ.get("BENCH_IMPORT_COPY_ROWS", 1_000_000))
BIG_ROWS = int(os.environ.get("BENCH_IMPORT_BIG_ROWS", 1_000_000))
OURS_ROWS = int(os.environ.get("BENCH_IMPORT_ROWS", 100_000))
PEER_ROWS = int(os.environ.get("BENCH_IMPORT_PEER_ROWS", 20_000))
TUNED_ROWS = int(os.environ.get("BENCH_IMPORT_TUNED_ROWS", 5_000))
HEADER = ["account_id", "server", "nickname", "channel", "level", "registered_at", "last_login_at", "phone", "birthday"]
CHANNELS = ["appstore", "huawei", "oppo", "vivo", "xiaomi", "taptap"]


def _player_rows(n: int, *, offsets: bool = True):
    """The same deterministic players for every contender."""
    rnd = random.Random(4)
    base = datetime(2024, 1, 1, 8, 0)
    for i in range(n):
        registered = base + timedelta(seconds=37 * i)
        login = registered + timedelta(days=200, minutes=i % 997)
        phone = f"13{rnd.randint(0, 9)}{rnd.randint(0, 99_999_999):08d}" if i % 3 else ""
        yield [
            f"b{i:08d}",
            f"s{i % 50}",
            f"玩家{i}",
            CHANNELS[i % len(CHANNELS)],
            str(rnd.randint(1, 120)),
            registered.isoformat(sep=" ") + ("+08:00" if offsets else ""),
            login.isoformat(sep="T" if offsets else " ") + ("+08:00" if offsets else ""),
            phone,
            f"19{rnd.randint(60, 99)}-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}",
        ]


def write_players_csv(path: Path, n: int, *, offsets: bool = True) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(_player_rows(n, offsets=offsets))
    return path


def write_copy_file(path: Path, n: int, columns: list[str]) -> Path:
    """The same players as full table rows in COPY text format (defaults filled in)."""
    now = "2026-11-22 12:00:00+00"
    fixed = {
        "real_name": "",
        "qq": "",
        "wechat": "",
        "email": "",
        "birthday_is_lunar": "f",
        "birthday_md": r"\N",
        "manager_id": r"\N",
        "notes": "",
        "preferred_channel": "",
        "timezone": "",
        "total_spend": "0",
        "purchase_count": "0",
        "first_paid_at": r"\N",
        "last_paid_at": r"\N",
        "payer_status": "non_payer",
        "tier_id": r"\N",
        "tier_since": r"\N",
        "tier_pinned_until": r"\N",
        "tier_below_since": r"\N",
        "created_at": now,
        "updated_at": now,
    }
    with path.open("w", encoding="utf-8") as handle:
        for row in _player_rows(n):
            values = dict(zip(HEADER, row, strict=True))
            values["phone"] = "+86" + values["phone"] if values["phone"] else ""
            handle.write("\t".join(values[c] if c in values else fixed[c] for c in columns) + "\n")
    return path


# --- processes and the database ------------------------------------------------------


def child_env(**extra) -> dict:
    env = {
        **os.environ,
        "DATABASE_URL": URL,
        "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-only"),
        "DEBUG": "false",
        "SECURE_SSL_REDIRECT": "false",
        "ALLOWED_HOSTS": "testserver,127.0.0.1,localhost",
        "STATICFILES_BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage",
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "crm.settings",
        "CELERY_BROKER_URL": "",
    }
    env.update(extra)
    return env


def run_child(args: list[str], **env) -> dict:
    """Run a process to the end; its wall time and output."""
    start = time.perf_counter()
    process = subprocess.run(args, cwd=ROOT, env=child_env(**env), capture_output=True, text=True)
    if process.returncode:
        raise RuntimeError(f"{' '.join(args)} failed:\n{process.stderr[-3000:]}")
    return {"wall": time.perf_counter() - start, "stdout": process.stdout}


def run_measured(args: list[str], **env) -> dict:
    """Run a process and reap it with os.wait4: its wall time, CPU time, peak RSS
    (its own), and the import's own time as the command reports it (without the
    seconds Django takes to start)."""
    import re
    import tempfile

    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        process = subprocess.Popen(args, cwd=ROOT, env=child_env(**env), stdout=out, stderr=err)
        _pid, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if process.returncode:
        raise RuntimeError(f"{' '.join(args)} failed:\n{stderr[-3000:]}")
    took = re.search(r"Took ([0-9.]+) s", stdout)
    return {
        "wall": wall,
        "seconds": float(took[1]) if took else wall,
        "cpu": usage.ru_utime + usage.ru_stime,
        "rss_mb": usage.ru_maxrss / 1024,
    }


def psql(dbname: str = "postgres"):
    from bench.common import psql_connect

    return psql_connect(dbname)


def database_create() -> None:
    with psql() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB}"')
    run_child([sys.executable, "manage.py", "migrate", "--noinput", "-v0"])


def database_drop() -> None:
    with psql() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')


def players_truncate() -> None:
    with psql(DB) as conn:
        conn.execute("TRUNCATE players_player RESTART IDENTITY CASCADE")
        conn.execute("VACUUM ANALYZE players_player")


def players_count() -> int:
    with psql(DB) as conn:
        return conn.execute("SELECT count(*) FROM players_player").fetchone()[0]


def player_columns() -> list[str]:
    with psql(DB) as conn:
        rows = conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'players_player' "
            "AND column_name <> 'id' ORDER BY ordinal_position"
        ).fetchall()
    return [r[0] for r in rows]


def copy_load(path: Path, columns: list[str]) -> float:
    with psql(DB) as conn, conn.cursor() as cursor:
        start = time.perf_counter()
        with cursor.copy(f"COPY players_player ({', '.join(columns)}) FROM STDIN") as copy, path.open("rb") as f:
            while block := f.read(1 << 20):
                copy.write(block)
        return time.perf_counter() - start


# --- the parts that run inside Django (subprocesses) ------------------------------------


def _django():
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def part_resource(path: str, tuned: str) -> None:
    """django-import-export: default settings (only the natural key set), or our Resource."""
    _django()
    import tablib
    from import_export import resources

    from players.models import Player
    from players.resources import PlayerResource

    class DefaultPlayerResource(resources.ModelResource):
        class Meta:
            model = Player
            fields = HEADER
            import_id_fields = ("account_id",)

    dataset = tablib.Dataset().load(Path(path).read_text(encoding="utf-8"), format="csv")
    resource = PlayerResource() if tuned == "1" else DefaultPlayerResource()
    start = time.perf_counter()
    result = resource.import_data(dataset, dry_run=False, raise_errors=False)
    elapsed = time.perf_counter() - start
    print(
        json.dumps(
            {
                "seconds": elapsed,
                "rows": len(dataset),
                "invalid": len(result.invalid_rows),
                "errors": len(result.row_errors()),
                "stored": Player.objects.count(),
            }
        )
    )


def part_admin(path: str) -> None:
    """Upload, preview, confirm, apply in the background; poll the progress URL."""
    _django()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.test import Client
    from django.urls import reverse

    from players.models import ImportJob

    user, _ = get_user_model().objects.get_or_create(username="bench-ops", defaults={"is_staff": True})
    user.groups.add(Group.objects.get(name="Operations"))
    client = Client()
    client.force_login(user)

    def wait(job_id, statuses):
        while True:
            state = client.get(reverse("admin:players_importjob_progress", args=[job_id])).json()
            if state["status"] in statuses:
                return state
            time.sleep(0.5)

    start = time.perf_counter()
    with open(path, "rb") as handle:
        response = client.post(
            reverse("admin:players_importjob_add"), {"kind": "players", "file": handle, "invalid_rows": "skip"}
        )
    assert response.status_code == 302, response.content[:500]
    job = ImportJob.objects.latest("pk")
    wait(job.pk, {"previewed", "failed"})
    preview = time.perf_counter() - start
    client.post(reverse("admin:players_importjob_apply", args=[job.pk]))
    state = wait(job.pk, {"done", "failed", "rejected"})
    elapsed = time.perf_counter() - start
    job.refresh_from_db()
    print(
        json.dumps(
            {
                "seconds": elapsed,
                "preview": preview,
                "status": state["status"],
                "new": job.new_count,
                "rows": job.total_rows,
            }
        )
    )


# --- main ------------------------------------------------------------------------------


def _load() -> str:
    return "load average " + " ".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    from bench.common import report

    WORK.mkdir(parents=True, exist_ok=True)
    print(f"building files in {WORK} ... ({_load()})", flush=True)
    ours = write_players_csv(WORK / "players-100k.csv", OURS_ROWS)
    big = write_players_csv(WORK / "players-1m.csv", BIG_ROWS)
    peer = write_players_csv(WORK / "players-peer.csv", PEER_ROWS, offsets=False)
    tuned = write_players_csv(WORK / "players-tuned.csv", TUNED_ROWS)
    database_create()
    try:
        columns = player_columns()
        copy_file = write_copy_file(WORK / "players-1m.copy", COPY_ROWS, columns)

        print(f"COPY ... ({_load()})", flush=True)
        copy_seconds = copy_load(copy_file, columns)
        assert players_count() == COPY_ROWS
        players_truncate()

        print(f"django-import-export, defaults, {PEER_ROWS} rows ... ({_load()})", flush=True)
        out = run_child([sys.executable, "-m", "bench.bench_import", "resource", str(peer), "0"])
        peer_result = json.loads(out["stdout"].strip().splitlines()[-1])
        players_truncate()
        print(f"django-import-export, players/resources.py, {TUNED_ROWS} rows ... ({_load()})", flush=True)
        out = run_child([sys.executable, "-m", "bench.bench_import", "resource", str(tuned), "1"])
        tuned_result = json.loads(out["stdout"].strip().splitlines()[-1])
        players_truncate()

        command = [sys.executable, "manage.py", "import_players", "--no-progress"]
        print(f"import_players {OURS_ROWS} new ... ({_load()})", flush=True)
        first = run_measured([*command, str(ours)])
        assert players_count() == OURS_ROWS
        print(f"import_players {OURS_ROWS} unchanged ... ({_load()})", flush=True)
        again = run_measured([*command, str(ours)])
        players_truncate()
        print(f"import_players {BIG_ROWS} new ... ({_load()})", flush=True)
        million = run_measured([*command, str(big)])
        assert players_count() == BIG_ROWS
        players_truncate()

        print(f"admin, {OURS_ROWS} rows end to end ... ({_load()})", flush=True)
        out = run_child(
            [sys.executable, "-m", "bench.bench_import", "admin", str(ours)],
            CRM_IMPORT_RUNNER="thread",
            MEDIA_ROOT=str(WORK / "media"),
        )
        admin_result = json.loads(out["stdout"].strip().splitlines()[-1])
        assert admin_result["status"] == "done" and admin_result["new"] == OURS_ROWS, admin_result
    finally:
        database_drop()
        shutil.rmtree(WORK, ignore_errors=True)

    copy_rate = COPY_ROWS / copy_seconds
    rate = lambda rows, seconds: f"{rows / seconds:,.0f} rows/s"  # noqa: E731
    report(
        f"Bulk import on PostgreSQL (2 shared cores; {_load()} at the end)",
        [
            (
                f"COPY {COPY_ROWS:,} rows (physical limit)",
                f"{rate(COPY_ROWS, copy_seconds)} ({copy_seconds:.1f} s)",
                "-",
            ),
            (
                f"django-import-export defaults, {PEER_ROWS:,} rows",
                f"{rate(PEER_ROWS, peer_result['seconds'])} ({peer_result['seconds']:.1f} s, "
                f"{peer_result['invalid'] + peer_result['errors']} rows refused)",
                "the peer (issue: 267 rows/s)",
            ),
            (
                f"players/resources.py (full_clean, skip_unchanged, use_bulk), {TUNED_ROWS:,} rows",
                f"{rate(TUNED_ROWS, tuned_result['seconds'])} ({tuned_result['seconds']:.1f} s)",
                "- (issue: 576 rows/s with use_bulk + skip_unchanged)",
            ),
            (
                f"import_players {OURS_ROWS:,} new",
                f"{rate(OURS_ROWS, first['seconds'])} ({first['seconds']:.1f} s; process {first['wall']:.1f} s wall, "
                f"{first['cpu']:.1f} s CPU, {first['rss_mb']:.0f} MB peak)",
                "-",
            ),
            (
                f"import_players {OURS_ROWS:,} again (unchanged)",
                f"{rate(OURS_ROWS, again['seconds'])} ({again['seconds']:.1f} s; process {again['wall']:.1f} s wall, "
                f"{again['cpu']:.1f} s CPU) = {first['seconds'] / again['seconds']:.2f}x faster",
                ">= 2x faster than the first import",
            ),
            (
                f"import_players {BIG_ROWS:,} new",
                f"{rate(BIG_ROWS, million['seconds'])} ({million['seconds']:.1f} s; process {million['wall']:.1f} s "
                f"wall, {million['cpu']:.1f} s CPU, {million['rss_mb']:.0f} MB peak) = "
                f"{100 * BIG_ROWS / million['seconds'] / copy_rate:.0f} % of COPY",
                ">= 20 % of COPY's rows/s",
            ),
            (
                "peak memory, 1M rows vs 100k rows",
                f"{million['rss_mb']:.0f} MB vs {first['rss_mb']:.0f} MB = {million['rss_mb'] / first['rss_mb']:.2f}x",
                "<= 2x",
            ),
            (
                f"admin import of {OURS_ROWS:,} rows end to end",
                f"{admin_result['seconds']:.1f} s (preview ready after {admin_result['preview']:.1f} s)",
                "<= 60 s",
            ),
        ],
    )


if __name__ == "__main__":
    part = sys.argv[1]
    if part == "resource":
        part_resource(sys.argv[2], sys.argv[3])
    elif part == "admin":
        part_admin(sys.argv[2])
    else:
        raise SystemExit(f"unknown part {part}")
