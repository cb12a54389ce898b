"""A real gunicorn for tests that need separate worker processes (per-process caches,
SQLite locking between processes): migrate a fresh SQLite file, create an API client,
start `gunicorn crm.wsgi -k crm.server.SyncWorker -w N` on a free port and wait until
GET /api/v1/health/ answers 200 with the client's key (the application loaded, its
database reached). Used by crm/tests/test_api_client_changes.py and
players/tests/test_api_concurrency.py."""

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import requests

ROOT = Path(__file__).resolve().parents[2]


class Serving(NamedTuple):
    base_url: str
    credentials: dict  # create_api_client's JSON line: key, signing_secret, ...
    env: dict  # the server's environment, for other processes on the same database
    db_path: Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gunicorn_env(db_path: Path, **extra: str) -> dict:
    """Production settings (crm.settings) on the SQLite file `db_path`, quiet logs."""
    return {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{db_path}",
        "SECRET_KEY": "test-only",
        "DEBUG": "false",
        "SECURE_SSL_REDIRECT": "false",
        "ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SETTINGS_MODULE": "crm.settings",
        "LOG_LEVEL": "WARNING",
        **extra,
    }


def manage(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args], env=env, cwd=ROOT, check=True, capture_output=True
    )


@contextmanager
def gunicorn_serving(db_path: Path, client_name: str, *, workers: int = 2, **extra_env: str) -> Iterator[Serving]:
    """gunicorn with `workers` workers on a fresh SQLite file, an API client named
    `client_name`; stopped (and waited for) on exit."""
    env = gunicorn_env(db_path, **extra_env)
    manage(env, "migrate", "--noinput")
    out = manage(env, "create_api_client", "--name", client_name)
    credentials = json.loads(out.stdout.decode().strip().splitlines()[-1])
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "crm.wsgi", "-k", "crm.server.SyncWorker", "-w", str(workers)]
        + ["-b", f"127.0.0.1:{port}", "--log-level", "warning"],
        env=env,
        cwd=ROOT,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        headers = {"Authorization": f"Bearer {credentials['key']}"}
        for _ in range(150):
            try:
                if requests.get(base_url + "/api/v1/health/", headers=headers, timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.2)
        yield Serving(base_url, credentials, env, db_path)
    finally:
        server.terminate()
        server.wait(timeout=20)
