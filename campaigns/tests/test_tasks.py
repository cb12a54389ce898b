"""The greetings job under the real scheduler: the beat entry, and a real Celery
worker against Redis (db 4 unless CRM_TEST_REDIS_URL says otherwise)."""

import os
import time
from datetime import date
from zoneinfo import ZoneInfo

import pytest
from django.db import OperationalError, connections

from campaigns.models import Greeting, OutreachTask
from crm.celery import app

REDIS_URL = os.environ.get("CRM_TEST_REDIS_URL", "redis://127.0.0.1:6379/4")


def redis_or_skip():
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.exceptions.RedisError as exc:
        pytest.skip(f"needs Redis at {REDIS_URL} for a real Celery worker: {exc}")


def test_beat_runs_the_greetings_job_on_shanghai_time(db):
    from django_celery_beat.models import CrontabSchedule

    entry = app.conf.beat_schedule["campaigns.greetings_daily"]
    assert entry["task"] == "campaigns.greetings_daily"
    assert app.conf.timezone == "Asia/Shanghai"

    # when django-celery-beat stores the schedule, it keeps Shanghai as its zone
    stored = CrontabSchedule.from_schedule(entry["schedule"])
    assert str(stored.timezone) == "Asia/Shanghai"
    assert str(stored.minute) == "5" and str(stored.hour) == "*"
    assert entry["schedule"].tz == ZoneInfo("Asia/Shanghai")


def test_the_task_runs_eagerly_without_a_broker(make_rule, make_player):
    from campaigns.tasks import greetings_daily

    make_rule(occasion="birthday", task_lead_days=0)
    make_player(birthday=date(1990, 11, 22))

    result = greetings_daily.delay(on="2026-11-22").get()

    assert result["greeted"] == 1
    assert OutreachTask.objects.count() == 1


@pytest.fixture
def redis_available():
    redis_or_skip()


def greetings_seen() -> int:
    try:
        return Greeting.objects.count()
    except OperationalError:
        # SQLite's in-memory test database is one shared cache: while the worker's
        # transaction writes the table, a read from this thread is refused at once
        # ("database table is locked") instead of waiting. Look again later.
        return 0


def test_a_real_worker_runs_the_scheduled_job_and_tasks_appear(
    redis_available, transactional_db, make_rule, make_player, manager
):
    from celery.contrib.testing.worker import start_worker
    from celery.signals import task_postrun

    # given birthdays on the day and a rule that creates call tasks on the day
    make_rule(occasion="birthday", task_lead_days=0)
    players = [make_player(birthday=date(1990 + i, 11, 22), manager=manager) for i in range(3)]
    make_player(birthday=date(1990, 11, 23))
    entry = app.conf.beat_schedule["campaigns.greetings_daily"]
    saved = {key: app.conf[key] for key in ("broker_url", "task_always_eager")}
    app.conf.update(broker_url=REDIS_URL, task_always_eager=False)

    def close_worker_connections(**kwargs):
        connections.close_all()  # the worker thread's own connections, so the test DB can be dropped

    task_postrun.connect(close_worker_connections, weak=False)
    try:
        # when a real worker consumes the scheduled task from Redis
        with start_worker(app, pool="solo", perform_ping_check=False, loglevel="WARNING", shutdown_timeout=30):
            with app.connection_for_write(REDIS_URL) as connection:
                app.send_task(entry["task"], kwargs={"on": "2026-11-22"}, connection=connection)
            deadline = time.monotonic() + 60
            while greetings_seen() < 3 and time.monotonic() < deadline:
                time.sleep(0.2)
    finally:
        task_postrun.disconnect(close_worker_connections)
        app.conf.update(saved)

    # then the day's greeting tasks are in the database
    assert set(OutreachTask.objects.values_list("player_id", flat=True)) == {p.pk for p in players}
    assert Greeting.objects.count() == 3
