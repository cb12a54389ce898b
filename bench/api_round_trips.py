"""Round trips to PostgreSQL and in-process time per API write, through the API's own
handler (as gunicorn serves /api/v1/), on a migrated database (DATABASE_URL; it adds an
API client, 1000 players named rt-<run>-<n> and their events):

    PSYCOPG_IMPL=python CELERY_BROKER_URL=redis://127.0.0.1:6379/0 \\
        DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm_h5 \\
        .venv/bin/python -m bench.api_round_trips [--profile single|batch|logins|projection]

A round trip is counted where libpq waits for the server: each statement sent outside
a pipeline (BEGIN and COMMIT included), each pipeline's sync. A count does not move with
the machine's load, a time does: the times are medians of BENCH_ROUND_TRIPS_REPEAT
requests (30; batches a fifth). PSYCOPG_IMPL=python is needed to count (libpq's calls are
then made from Python, which also slows them: compare times only between runs of this
script). `--profile` prints pyinstrument's tree for that request kind.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
# With a broker (CELERY_BROKER_URL), a batch's projection is queued to this run's own queue
# (nobody consumes it) and run here between requests, untimed: the times are the accept's.
QUEUE = f"round-trips-{os.getpid()}"
os.environ.setdefault("CELERY_TASK_DEFAULT_QUEUE", QUEUE)

REPEAT = int(os.environ.get("BENCH_ROUND_TRIPS_REPEAT", "30"))


class RoundTrips:
    """Counts libpq's waits for the server (psycopg's Python implementation)."""

    def __init__(self):
        self.count = 0
        self.trace: list[str] | None = None

    def install(self) -> None:
        from psycopg import pq

        if pq.__impl__ != "python":
            self.count = None  # times only
            return
        from psycopg.pq import pq_ctypes

        counter = self
        pgconn = pq_ctypes.PGconn

        def counted(name, *, in_pipeline: bool):
            original = getattr(pgconn, name)

            def method(self, *args, **kwargs):
                piped = self.pipeline_status != pq.PipelineStatus.OFF
                if piped == in_pipeline:
                    counter.count += 1
                    if counter.trace is not None:  # BENCH_ROUND_TRIPS_TRACE=<request>: what each one sends
                        sql = next((a for a in args[:2] if isinstance(a, bytes)), b"")
                        counter.trace.append(f"{name}: {sql[:150].decode(errors='replace')}")
                return original(self, *args, **kwargs)

            setattr(pgconn, name, method)

        for name in ("send_query", "send_query_params", "send_prepare", "send_query_prepared", "exec_", "exec_params"):
            counted(name, in_pipeline=False)
        counted("pipeline_sync", in_pipeline=True)


def main(argv: list[str]) -> None:
    counter = RoundTrips()
    counter.install()
    import django

    django.setup()
    from django.conf import settings

    # The API client is read once (in production each process re-reads its clients every
    # 0.5 s without a shared cache): the counts are then those of every request.
    settings.CRM_API_CLIENT_CHECK_SECONDS = 10**6
    from django.db import connection
    from django.test import Client
    from django.test.client import ClientHandler

    from crm.api.authentication import signature_header
    from crm.api.handler import ApiMiddlewareMixin, by_path
    from crm.services import api_client_create
    from players.models import Player

    class ApiClientHandler(ApiMiddlewareMixin, ClientHandler):
        pass

    client = Client()
    client.handler = by_path(ApiClientHandler(enforce_csrf_checks=False), client.handler)
    credentials = api_client_create(name=f"round-trips-{uuid.uuid4().hex[:8]}")
    run = uuid.uuid4().hex[:8]
    accounts = [f"rt-{run}-{i}" for i in range(1000)]
    Player.objects.bulk_create([Player(account_id=a, server="s1") for a in accounts])

    def post(path, payload):
        body = json.dumps(payload).encode()
        headers = {
            "Authorization": f"Bearer {credentials.key}",
            "X-CRM-Signature": signature_header(credentials.signing_secret, body),
        }
        response = client.post(path, body, content_type="application/json", headers=headers)
        assert response.status_code < 300, (response.status_code, response.content[:300])
        return response

    fixed = datetime.now(UTC).isoformat()

    def payment(n, account, occurred_at=None):
        return {
            "event_id": f"rt-{run}-{n}",
            "type": "purchase",
            "account_id": account,
            "amount": "6.00",
            "currency": "CNY",
            "occurred_at": occurred_at or datetime.now(UTC).isoformat(),
        }

    from players.services.projection import projection_run

    def drain():
        if settings.CELERY_BROKER_URL:
            projection_run()

    numbers = iter(range(10**9))

    def batch():
        post("/api/v1/payments/batch/", {"events": [payment(next(numbers), accounts[i]) for i in range(1000)]})

    # name -> (the request timed, what runs before it untimed)
    kinds = {
        "single": (lambda: post("/api/v1/payments/", payment(next(numbers), accounts[0])), drain),
        "single, repeat": (lambda: post("/api/v1/payments/", payment("repeat", accounts[0], fixed)), drain),
        "batch": (batch, drain),
        "logins": (
            lambda: post(
                "/api/v1/logins/batch/",
                {"events": [{"account_id": a, "occurred_at": datetime.now(UTC).isoformat()} for a in accounts]},
            ),
            drain,
        ),
    }
    if settings.CELERY_BROKER_URL:  # the batch's projection alone: 1000 players, on a worker in production
        kinds["projection"] = (projection_run, batch)
    profile = argv[1] if len(argv) > 1 and argv[0] == "--profile" else None
    trace = os.environ.get("BENCH_ROUND_TRIPS_TRACE")
    print(f"{'request':<16} {'round trips':>12} {'wall ms':>8} {'CPU ms':>7}   (medians; CPU: this process)")
    for name, (call, before_call) in kinds.items():
        for _warm in range(6):  # past PostgreSQL's switch to generic plans (5 custom ones)
            before_call()
            call()
        counts, times, cpu = [], [], []
        repeat = REPEAT if name.startswith("single") else max(3, REPEAT // 5)
        for _i in range(repeat):
            before_call()
            before = counter.count or 0
            counter.trace = [] if trace == name else None
            start, start_cpu = time.perf_counter(), time.process_time()
            call()
            times.append((time.perf_counter() - start) * 1000)
            cpu.append((time.process_time() - start_cpu) * 1000)
            counts.append((counter.count or 0) - before)
            if counter.trace is not None:
                print("\n".join(counter.trace), "\n")
        drain()
        if counter.count is None:
            shown = "-"
        else:
            shown = "/".join(str(n) for n in sorted(set(counts)))
        print(f"{name:<16} {shown:>12} {statistics.median(times):>8.1f} {statistics.median(cpu):>7.1f}", flush=True)
        if profile == name:
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.0005)
            for _i in range(repeat):
                before_call()
                profiler.start()
                call()
                profiler.stop()
            print(profiler.output_text(unicode=True, color=False, show_all=False))
    connection.close()
    if settings.CELERY_BROKER_URL:
        import redis

        redis.Redis.from_url(settings.CELERY_BROKER_URL).delete(settings.CELERY_TASK_DEFAULT_QUEUE)


if __name__ == "__main__":
    main(sys.argv[1:])
