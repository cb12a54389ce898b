"""A disabled client, or a rotated-out key, is refused within a second on every worker
(the contract): two gunicorn workers that both know the client, a third process that
changes it, requests timed from the commit. With the default process-local cache and
with Redis (CACHE_URL), as in production."""

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("CRM_TEST_REDIS_CACHE_URL_CLIENTS", "redis://127.0.0.1:6379/8")
TIERS = "/api/v1/vip/tiers/"

CHANGE = """
import time
from crm.models import ApiClient
from crm.services import api_client_{action}
api_client_{action}(client=ApiClient.objects.get(name="two-workers"))
print(time.time())
"""


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _redis_or_skip():
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=1).ping()
    except redis.RedisError:
        pytest.skip(f"needs Redis at {REDIS_URL}")


@pytest.fixture(params=["locmem", "redis"])
def two_workers(request, tmp_path):
    """gunicorn, 2 workers, on its own SQLite file; (base_url, credentials, env)."""
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "SECRET_KEY": "test-only",
        "DEBUG": "false",
        "SECURE_SSL_REDIRECT": "false",
        "ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SETTINGS_MODULE": "crm.settings",
        "LOG_LEVEL": "WARNING",
        "CRM_API_THROTTLE_RATE": "",
    }
    if request.param == "redis":
        _redis_or_skip()
        env["CACHE_URL"] = REDIS_URL
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput"], env=env, cwd=ROOT, check=True, capture_output=True)
    out = subprocess.run(
        [*manage, "create_api_client", "--name", "two-workers"], env=env, cwd=ROOT, check=True, capture_output=True
    )
    credentials = json.loads(out.stdout.decode().strip().splitlines()[-1])
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "crm.wsgi", "-k", "crm.server.SyncWorker", "-w", "2"]
        + ["-b", f"127.0.0.1:{port}", "--log-level", "warning"],
        env=env,
        cwd=ROOT,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                requests.get(base_url + "/api/v1/ready/", timeout=5)
                break
            except requests.RequestException:
                time.sleep(0.2)
        yield base_url, credentials, env
    finally:
        server.terminate()
        server.wait(timeout=20)


def read(base_url, key):
    return requests.get(base_url + TIERS, headers={"Authorization": f"Bearer {key}"}, timeout=30).status_code


def hammer(base_url, key, until, threads=4):
    """(start time, status) of reads sent back to back from a few threads until
    `until()` returns true."""
    results = []

    def loop():
        while not until():
            started = time.time()
            results.append((started, read(base_url, key)))

    workers = [threading.Thread(target=loop) for _ in range(threads)]
    for worker in workers:
        worker.start()
    return workers, results


@pytest.mark.parametrize("action", ["disable", "rotate"])
def test_a_change_in_one_process_stops_the_key_on_every_worker_within_a_second(two_workers, action):
    base_url, credentials, env = two_workers
    key = credentials["key"]
    # both workers have read the client (16 reads, answered by whichever worker is free)
    assert {read(base_url, key) for _ in range(16)} == {200}

    changer = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "shell", "-c", CHANGE.format(action=action)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    done = []
    workers, results = hammer(base_url, key, until=lambda: done and time.time() > done[0] + 2.5)
    committed_at = float(changer.communicate(timeout=120)[0].strip().splitlines()[-1])
    done.append(committed_at)
    for worker in workers:
        worker.join()

    after = [(started - committed_at, status) for started, status in results if started > committed_at]
    accepted = [delay for delay, status in after if status == 200]
    last_accepted = max(accepted, default=0.0)
    print(f"{action}: {len(after)} reads after the commit, the last accepted {last_accepted:.3f} s after it")
    assert last_accepted <= 1.0, f"a request sent {last_accepted:.2f} s after the {action} was accepted"
    assert all(status == 401 for delay, status in after if delay > 1.0)
    assert any(delay > 2.0 for delay, _status in after)
