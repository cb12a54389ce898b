"""Every test runs on the seed data the migrations created, whatever ran before it on
the same worker: a transactional test's closing flush is undone (root conftest). And
a run ends with pytest's summary line: CI judges a run by it."""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _own_database_env() -> dict:
    """The inner run's environment: on PostgreSQL a database name of its own, since its
    test databases (test_<name>_gw0, ...) would otherwise be the ones this run is using."""
    env = dict(os.environ)
    if env.get("DATABASE_URL", "").startswith("postgres"):
        env["DATABASE_URL"] = env["DATABASE_URL"].rstrip("/") + "_isolation"
    return env


def test_a_test_after_a_transactional_one_finds_the_seed_data():
    # Two tests in this order on one worker: the first flushes, the second reads.
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:randomly", "-n", "2", "crm/tests/seed_probe.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=_own_database_env(),
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert re.fullmatch(r"2 passed in [0-9.]+s.*", result.stdout.strip().splitlines()[-1])
    assert result.stderr == ""  # nothing after it (a log line on stderr once was)
