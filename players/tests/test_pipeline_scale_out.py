"""Scale-out on loopback: two API servers (gunicorn, two workers each) and two Celery
workers on one PostgreSQL and one Redis. Copies of batches, single events and logins are
fired at both servers at once; a worker is killed while it is projecting (it holds the
marks it took, waiting for a player's row the test keeps locked); then the ledger holds
every event exactly once and the projection converges: totals equal to the ledger, tiers
and payer statuses equal to a rebuild from scratch.

Needs PostgreSQL (DATABASE_URL) and Redis on 127.0.0.1:6379; skipped, with the reason
shown, without them."""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
import warnings
from contextlib import ExitStack, contextmanager
from datetime import timedelta
from decimal import Decimal

import psycopg
import pytest
import requests
from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone

from crm.api.authentication import signature_header
from crm.tests.gunicorn import ROOT, free_port
from players.models import PayerStatus, Payment, Player, PlayerChurn, ProjectionPending
from players.services.ledger import players_totals_rebuild
from players.services.ledger_engines import ledger_totals

REDIS = ("127.0.0.1", 6379)
PLAYERS = 24


@pytest.fixture
def requires_redis():
    try:
        with socket.create_connection(REDIS, timeout=1) as s:
            s.sendall(b"PING\r\n")
            if not s.recv(16).startswith(b"+PONG"):
                raise OSError("no PONG")
    except OSError as exc:
        pytest.skip(f"needs Redis on {REDIS[0]}:{REDIS[1]} ({exc})")


def _database_url(application_name: str) -> str:
    s = connection.settings_dict
    password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
    return (
        f"postgres://{s['USER']}{password}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"
        f"?application_name={application_name}"
    )


def _env(name: str, queue: str) -> dict:
    return {
        **os.environ,
        "DATABASE_URL": _database_url(name),
        "CELERY_BROKER_URL": f"redis://{REDIS[0]}:{REDIS[1]}/0",
        "CELERY_TASK_DEFAULT_QUEUE": queue,  # this test's own queue on a shared Redis
        "SECRET_KEY": "test-only",
        "DEBUG": "false",
        "SECURE_SSL_REDIRECT": "false",
        "ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SETTINGS_MODULE": "crm.settings",
        "CRM_API_THROTTLE_RATE": "",
        "LOG_LEVEL": "WARNING",
    }


@contextmanager
def _process(args: list[str], env: dict):
    process = subprocess.Popen(args, env=env, cwd=ROOT, start_new_session=True)
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


@contextmanager
def _api_server(name: str, queue: str, key: str):
    port = free_port()
    args = [sys.executable, "-m", "gunicorn", "crm.wsgi", "-k", "crm.server.SyncWorker", "-w", "2"]
    with _process([*args, "-b", f"127.0.0.1:{port}", "--log-level", "warning"], _env(name, queue)):
        base_url = f"http://127.0.0.1:{port}"
        for _ in range(150):  # serving once the health check answers the client
            try:
                health = requests.get(
                    base_url + "/api/v1/health/", headers={"Authorization": f"Bearer {key}"}, timeout=5
                )
                if health.status_code == 200:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.2)
        yield base_url


def _worker(name: str, queue: str):
    args = [sys.executable, "-m", "celery", "-A", "crm", "worker", "--concurrency", "1", "-Q", queue]
    return _process([*args, "-n", f"{name}@%h", "--loglevel", "WARNING", "--without-mingle", "--without-gossip"],
                    _env(name, queue))  # fmt: skip


def _post(base_url, path, credentials, payload):
    body = json.dumps(payload).encode()
    response = requests.post(
        base_url + path,
        data=body,
        timeout=120,
        headers={
            "Authorization": f"Bearer {credentials['key']}",
            "X-CRM-Signature": signature_header(credentials["signing_secret"], body),
            "Content-Type": "application/json",
        },
    )
    assert response.status_code < 300, response.text
    return response.json()


def _fire(calls) -> list:
    """Run every call at once, one thread each; their answers."""
    answers = [None] * len(calls)
    barrier = threading.Barrier(len(calls))

    def run(i):
        barrier.wait()
        answers[i] = calls[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    return answers


def _purchase(event_id, account, amount, at):
    return {"event_id": event_id, "type": "purchase", "account_id": account, "amount": amount, "currency": "CNY",
            "occurred_at": at.isoformat()}  # fmt: skip


def _blocked_projector(application_names: set[str]) -> str | None:
    """The worker whose projection waits for a row lock, by its connection's name."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT application_name FROM pg_stat_activity"
            " WHERE application_name = ANY(%s) AND wait_event_type = 'Lock'",
            [sorted(application_names)],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def _converged(timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not ProjectionPending.objects.exists():
            return True
        time.sleep(0.5)
    return False


def _derived() -> dict:
    return {
        p["pk"]: (p["total_spend"], p["purchase_count"], p["tier_id"], p["payer_status"])
        for p in Player.objects.values("pk", "total_spend", "purchase_count", "tier_id", "payer_status")
    }


def test_two_servers_and_two_workers_converge_after_a_worker_dies_mid_projection(
    requires_postgres, requires_redis, transactional_db, tiers
):
    from crm.services import api_client_create

    client = api_client_create(name="scale-out", game="Legends")
    credentials = {"key": client.key, "signing_secret": client.signing_secret}
    accounts = [f"so-{i}" for i in range(PLAYERS)]
    Player.objects.bulk_create([Player(account_id=a, server="s1") for a in accounts])
    hot = Player.objects.get(account_id=accounts[0])
    queue = f"scale-out-{uuid.uuid4().hex[:8]}"
    at = timezone.now() - timedelta(minutes=5)
    batches = [
        {"events": [_purchase(f"b{n}-{i}", accounts[i % PLAYERS], f"{10 + i % 7}.00", at) for i in range(150)]}
        for n in range(4)
    ]
    singles = [_purchase(f"s-{i}", accounts[i % PLAYERS], "648.00", at) for i in range(6)]
    # (not the hot player's while the test holds its row: a login moves the row itself)
    logins = {"events": [{"account_id": a, "occurred_at": timezone.now().isoformat()} for a in accounts[1:]]}

    with ExitStack() as stack:
        servers = [stack.enter_context(_api_server(f"crm-api-{x}", queue, client.key)) for x in "ab"]
        workers = {f"crm-worker-{x}": stack.enter_context(_worker(f"crm-worker-{x}", queue)) for x in "ab"}

        # The test holds the hot player's row (FOR SHARE: payments may still name it): the
        # worker that takes its mark waits there, mid-projection, holding the marks it took
        # (deleted, not yet committed).
        lock = psycopg.connect(_database_url("crm-test-lock").replace("postgres://", "postgresql://"))
        lock.execute("SELECT id FROM players_player WHERE id = %s FOR SHARE", [hot.pk])

        # every batch twice, at both servers at once; every single event three times; logins twice
        calls = [
            (lambda b=b, s=s: _post(s, "/api/v1/payments/batch/", credentials, b)) for b in batches for s in servers
        ]
        calls += [
            (lambda e=e, s=servers[i % 2]: _post(s, "/api/v1/payments/", credentials, e))
            for e in singles
            for i in range(3)
        ]
        calls += [(lambda s=s: _post(s, "/api/v1/logins/batch/", credentials, logins)) for s in servers]
        answers: list = []
        fired = threading.Thread(target=lambda: answers.extend(_fire(calls)))
        fired.start()

        victim = None
        deadline = time.monotonic() + 90
        while victim is None and time.monotonic() < deadline:
            victim = _blocked_projector(set(workers))
            time.sleep(0.2)
        assert victim, "no worker reached the locked player within 90 s"
        os.killpg(workers[victim].pid, signal.SIGKILL)  # the worker dies mid-projection
        workers[victim].wait(timeout=10)
        lock.rollback()
        lock.close()

        fired.join(timeout=240)
        assert not fired.is_alive() and len(answers) == len(calls)
        # as the beat would: one more task for what the dead worker held
        from celery import current_app

        with current_app.connection_for_write(f"redis://{REDIS[0]}:{REDIS[1]}/0") as broker, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # this process runs its own tasks eagerly; this one goes to the broker
            current_app.send_task("players.project_pending", queue=queue, connection=broker)
        assert _converged(120), f"{ProjectionPending.objects.count()} players still waiting"

    # exactly once in the ledger
    expected = {e["event_id"] for b in batches for e in b["events"]} | {e["event_id"] for e in singles}
    stored = Payment.objects.filter(source_ref=str(client.client.pk))
    assert stored.count() == len(expected)
    assert set(stored.values_list("event_id", flat=True)) == expected
    assert not stored.values("event_id").annotate(n=Count("pk")).filter(n__gt=1).exists()
    batch_answers = [a for a in answers if "created" in a and "duplicates" in a]
    assert sum(a["created"] for a in batch_answers) == sum(len(b["events"]) for b in batches)

    # totals equal to the ledger
    for player in Player.objects.filter(account_id__in=accounts).annotate(**ledger_totals("payments__")):
        assert (player.total_spend, player.purchase_count) == (player.ledger_spend, player.ledger_count)
        assert (player.last_login_at is not None) == (player.pk != hot.pk)  # logins: all but the hot one
    assert Player.objects.get(pk=hot.pk).total_spend > Decimal("0")

    # tiers and payer statuses equal to a rebuild from scratch
    converged = _derived()
    with transaction.atomic():
        Player.objects.update(
            total_spend=0, purchase_count=0, first_paid_at=None, last_paid_at=None, tier=None,
            payer_status=PayerStatus.NON_PAYER,
        )  # fmt: skip
        PlayerChurn.objects.all().delete()
        players_totals_rebuild()
        rebuilt = _derived()
        transaction.set_rollback(True)
    assert rebuilt == converged
