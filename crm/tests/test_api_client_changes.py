"""A disabled client, or a rotated-out key, is refused within a second on every worker
(the contract): two gunicorn workers that both know the client, a third process that
changes it, requests timed from the commit. With the default process-local cache and
with Redis (CACHE_URL), as in production."""

import os
import subprocess
import sys
import threading
import time

import pytest
import requests

from crm.tests.gunicorn import ROOT, gunicorn_serving

REDIS_URL = os.environ.get("CRM_TEST_REDIS_CACHE_URL_CLIENTS", "redis://127.0.0.1:6379/8")
TIERS = "/api/v1/vip/tiers/"

CHANGE = """
import time
from crm.models import ApiClient
from crm.services import api_client_{action}
api_client_{action}(client=ApiClient.objects.get(name="two-workers"))
print(time.time())
"""


def _redis_or_skip():
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=1).ping()
    except redis.RedisError:
        pytest.skip(f"needs Redis at {REDIS_URL}")


@pytest.fixture(params=["locmem", "redis"])
def two_workers(request, tmp_path):
    """gunicorn, 2 workers, on its own SQLite file; (base_url, credentials, env)."""
    extra = {"CRM_API_THROTTLE_RATE": ""}
    if request.param == "redis":
        _redis_or_skip()
        extra["CACHE_URL"] = REDIS_URL
    with gunicorn_serving(tmp_path / "db.sqlite3", "two-workers", **extra) as serving:
        yield serving.base_url, serving.credentials, serving.env


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
