"""The projection of accepted events (players.services.projection): batches of payments
and logins are accepted with a durable mark per player, and their players' totals, tier
and payer status follow after the commit, in this process without a broker or on a
Celery worker with one; a single event is current when it returns; a crash between the
two loses nothing."""

import contextlib
import logging
import threading
import time
from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

from crm.celery import app
from players.models import PayerStatus, PayerStatusChange, Player, ProjectionPending
from players.services import payment_record
from players.services.activity import logins_record_batch
from players.services.ledger import payments_record_batch, players_totals_rebuild
from players.services.projection import projection_lag, projection_run
from players.tasks import project_pending_task
from vip.models import TierChange, TierChangeReason

BROKER = "redis://127.0.0.1:6379/15"  # set, never reached: the queued task is captured, not sent


def purchase(event_id, account_id, amount, *, kind="purchase", at=None, **extra):
    return {
        "event_id": event_id,
        "type": kind,
        "account_id": account_id,
        "amount": amount,
        "currency": "CNY",
        "occurred_at": (at or timezone.now() - timedelta(minutes=1)).isoformat(),
        **extra,
    }


def totals(account_id):
    player = Player.objects.select_related("tier").get(account_id=account_id)
    return player.total_spend, player.purchase_count, player.tier.name if player.tier else None, player.payer_status


def history(account_id):
    player = Player.objects.get(account_id=account_id)
    return (
        list(TierChange.objects.filter(player=player).order_by("id").values_list("to_tier__name", "reason")),
        list(PayerStatusChange.objects.filter(player=player).order_by("id").values_list("to_status", "trigger")),
    )


@contextlib.contextmanager
def single_event_held_open(*, account_id: str, event_id: str, amount: str):
    """A single event recorded in another thread whose transaction stays open 1.5 s (its
    player's row locked) while the block runs; it has committed when the block ends."""
    recorded, done = threading.Event(), threading.Event()

    def held_open():
        try:
            with transaction.atomic():
                payment_record(account_id=account_id, event_id=event_id, kind="purchase", amount=Decimal(amount),
                               currency="CNY", occurred_at=timezone.now(), source="api", source_ref="1")  # fmt: skip
                recorded.set()
                time.sleep(1.5)  # its player's row stays locked until this commits
        finally:
            connection.close()
            done.set()

    writer = threading.Thread(target=held_open)
    writer.start()
    assert recorded.wait(30)
    yield
    writer.join(30)
    assert done.is_set()


def test_without_a_broker_a_batch_is_projected_in_process_before_it_returns(tiers, settings):
    settings.CELERY_BROKER_URL = ""

    result = payments_record_batch(
        events=[purchase("a1", "pa", "600"), purchase("a2", "pa", "400"), purchase("b1", "pb", "6")],
        source="api",
        source_ref="1",
    )

    assert (result.created, result.errors) == (3, [])
    assert totals("pa") == (Decimal("1000.00"), 2, "V5", PayerStatus.ACTIVE)
    assert totals("pb")[0] == Decimal("6.00") and totals("pb")[3] == PayerStatus.ACTIVE
    assert not ProjectionPending.objects.exists()
    assert projection_lag().as_dict() == {"pending_players": 0, "lag_seconds": 0.0}


def test_with_a_broker_the_batch_leaves_marks_and_a_worker_projects_them(
    tiers, settings, django_capture_on_commit_callbacks
):
    settings.CELERY_BROKER_URL = BROKER
    payment_record(account_id="pa", event_id="old", kind="purchase", amount=Decimal("6"), currency="CNY",
                   occurred_at=timezone.now() - timedelta(days=1), source="api", source_ref="1")  # fmt: skip
    before = history("pa")

    # when a batch with the player twice (and a new one) is accepted
    with django_capture_on_commit_callbacks(execute=False) as queued:
        result = payments_record_batch(
            events=[purchase("a1", "pa", "600"), purchase("a2", "pa", "400"), purchase("n1", "new-1", "30")],
            source="api",
            source_ref="1",
        )

    # then the ledger has them, one mark per player, the task is queued at the commit,
    # and nothing derived has moved yet
    assert result.created == 3 and len(queued) == 1
    marks = list(ProjectionPending.objects.order_by("player_id").values_list("player_id", "ledger"))
    assert marks == sorted((Player.objects.get(account_id=a).pk, True) for a in ("pa", "new-1"))
    assert totals("pa") == (Decimal("6.00"), 1, "V1", PayerStatus.ACTIVE)
    assert projection_lag(now=timezone.now() + timedelta(seconds=5)).seconds >= 5

    # when a worker runs the task
    assert project_pending_task.run() == 2

    # then the derived state is current and the marks are gone
    assert totals("pa") == (Decimal("1006.00"), 3, "V5", PayerStatus.ACTIVE)
    assert totals("new-1")[:2] == (Decimal("30.00"), 1)
    assert history("pa") == (before[0] + [("V5", TierChangeReason.PAYMENT)], before[1])
    assert projection_lag().pending_players == 0

    # and running it again (a task delivered twice) changes nothing
    ProjectionPending.objects.create(
        player_id=Player.objects.get(account_id="pa").pk, since=timezone.now(), ledger=True
    )
    assert projection_run().players == 1
    assert totals("pa") == (Decimal("1006.00"), 3, "V5", PayerStatus.ACTIVE)
    assert history("pa") == (before[0] + [("V5", TierChangeReason.PAYMENT)], before[1])


def test_a_single_event_is_current_when_it_returns_with_the_batches_before_it(
    tiers, settings, django_capture_on_commit_callbacks
):
    settings.CELERY_BROKER_URL = BROKER
    with django_capture_on_commit_callbacks(execute=False):
        payments_record_batch(events=[purchase("a1", "pa", "600")], source="api", source_ref="1")
    assert totals("pa")[0] == Decimal("0.00")

    # a single event for the same player: projected in its own transaction, from the ledger
    payment_record(account_id="pa", event_id="s1", kind="purchase", amount=Decimal("400"), currency="CNY",
                   occurred_at=timezone.now(), source="api", source_ref="1")  # fmt: skip

    assert totals("pa") == (Decimal("1000.00"), 2, "V5", PayerStatus.ACTIVE)
    # the batch's mark is still there for the worker, which then finds nothing to change
    assert ProjectionPending.objects.count() == 1
    changes = history("pa")
    projection_run()
    assert history("pa") == changes and totals("pa")[0] == Decimal("1000.00")


def test_a_projection_that_dies_midway_loses_nothing(tiers, settings, django_capture_on_commit_callbacks):
    settings.CELERY_BROKER_URL = BROKER
    with django_capture_on_commit_callbacks(execute=False):
        payments_record_batch(
            events=[purchase(f"e{i}", f"p{i % 3}", "100") for i in range(9)], source="api", source_ref="1"
        )

    # given a worker that dies after projecting, before its transaction commits
    with pytest.raises(RuntimeError), transaction.atomic():
        assert projection_run().players == 3
        assert totals("p0")[0] == Decimal("300.00")
        raise RuntimeError("worker killed")

    # then its marks are back and nothing it wrote is left
    assert ProjectionPending.objects.count() == 3
    assert totals("p0")[:2] == (Decimal("0.00"), 0)

    # and the next run (the redelivered task, the beat, `manage.py project_pending`) converges
    out = StringIO()
    call_command("project_pending", stdout=out)
    assert "Projected 3 players." in out.getvalue()
    for account in ("p0", "p1", "p2"):
        assert totals(account) == (Decimal("300.00"), 3, "V3", PayerStatus.ACTIVE)
    assert players_totals_rebuild() == []  # equal to the ledger


def test_a_refund_in_a_batch_lowers_the_tier_as_a_refund(tiers, pay, make_player, settings):
    settings.CELERY_BROKER_URL = ""
    player = make_player(account_id="r")
    pay(player, "600", event_id="big", source="api", source_ref="1")
    pay(player, "400", source="api", source_ref="1")
    assert totals("r")[2] == "V5"

    result = payments_record_batch(
        events=[purchase("back", "r", "500", kind="refund", refund_of="big")], source="api", source_ref="1"
    )

    assert (result.created, result.errors) == (1, [])
    assert totals("r")[:3] == (Decimal("500.00"), 2, "V4")
    assert history("r")[0][-1] == ("V4", TierChangeReason.REFUND)


def test_a_refund_is_checked_against_the_ledger_even_before_the_totals_follow(
    tiers, settings, django_capture_on_commit_callbacks
):
    settings.CELERY_BROKER_URL = BROKER
    with django_capture_on_commit_callbacks(execute=False):
        payments_record_batch(events=[purchase("buy", "r", "100")], source="api", source_ref="1")
        # the totals have not followed yet; the refund is still judged by what the ledger holds
        ok = payments_record_batch(
            events=[purchase("back", "r", "60", kind="refund", refund_of="buy")], source="api", source_ref="1"
        )
        too_much = payments_record_batch(
            events=[purchase("back2", "r", "50", kind="refund", refund_of="buy")], source="api", source_ref="1"
        )

    assert (ok.created, ok.errors) == (1, [])
    assert too_much.created == 0 and too_much.errors[0]["fields"].keys() == {"amount"}
    projection_run()
    assert totals("r")[:2] == (Decimal("40.00"), 1)


def test_logins_are_accepted_with_marks_and_their_payer_status_follows(
    make_player, pay, settings, django_capture_on_commit_callbacks
):
    settings.CELERY_BROKER_URL = BROKER
    now = timezone.now()
    player = make_player(account_id="quiet", last_login_at=now - timedelta(days=15))
    pay(player, "100", at=now - timedelta(days=20))
    pay(player, "100", at=now - timedelta(days=10))  # every 10 days: not overdue
    assert totals("quiet")[3] == PayerStatus.AT_RISK  # not seen for more than 7 days

    with django_capture_on_commit_callbacks(execute=False) as queued:
        result = logins_record_batch(
            events=[
                {"account_id": "quiet", "occurred_at": now.isoformat()},
                {"account_id": "fresh", "occurred_at": now},
            ]
        )

    assert result.created == 2 and len(queued) == 1
    player.refresh_from_db()
    assert player.last_login_at == now  # the login itself is stored at once
    assert set(ProjectionPending.objects.values_list("ledger", flat=True)) == {False}
    assert totals("quiet")[3] == PayerStatus.AT_RISK  # its consequence follows

    projection_run()

    assert totals("quiet")[3] == PayerStatus.ACTIVE
    assert history("quiet")[1][-1] == (PayerStatus.ACTIVE, "login")
    assert totals("fresh") == (Decimal("0.00"), 0, None, PayerStatus.NON_PAYER)


def test_non_payers_logins_leave_the_projection_nothing_to_do(
    make_player, pay, settings, django_capture_on_commit_callbacks
):
    # most of a game's logins are non-payers': their login moves no payer status
    settings.CELERY_BROKER_URL = BROKER
    now = timezone.now()
    idle = make_player(account_id="idle", last_login_at=now - timedelta(days=30))
    back = now - timedelta(days=15)
    events = [{"account_id": "idle", "occurred_at": back.isoformat()}, {"account_id": "newcomer", "occurred_at": now}]

    with django_capture_on_commit_callbacks(execute=False) as queued:
        result = logins_record_batch(events=events)

    # the logins are stored, and nothing waits for the projection: no task, nothing pending
    assert (result.created, result.errors) == (2, [])
    idle.refresh_from_db()
    assert idle.last_login_at == back and Player.objects.get(account_id="newcomer").last_login_at == now
    assert queued == [] and projection_lag().pending_players == 0

    # once the player pays, their login is projected like any payer's
    pay(idle, "100", at=now - timedelta(days=20))
    pay(idle, "100", at=now - timedelta(days=10))  # every 10 days: not overdue
    assert totals("idle")[3] == PayerStatus.AT_RISK  # not seen for more than 7 days
    with django_capture_on_commit_callbacks(execute=False) as queued:
        logins_record_batch(events=[{"account_id": "idle", "occurred_at": now.isoformat()}])
    assert len(queued) == 1 and projection_lag().pending_players == 1
    projection_run()
    assert totals("idle")[3] == PayerStatus.ACTIVE and history("idle")[1][-1] == (PayerStatus.ACTIVE, "login")


def test_a_lagging_projection_is_logged_by_the_task_and_the_command(make_player, settings, caplog):
    settings.CRM_PROJECTION_LAG_WARN_SECONDS = 30
    player = make_player()
    ProjectionPending.objects.create(player_id=player.pk, since=timezone.now() - timedelta(seconds=95))

    with caplog.at_level(logging.WARNING, logger="players.projection"):
        assert project_pending_task.delay().get() == 1

    (message,) = [r.getMessage() for r in caplog.records if r.name == "players.projection"]
    lag = float(message.removeprefix("projection lag ").split()[0])  # 95 s and the time the test took
    assert 95 <= lag < 125 and message.endswith(" s over 30 s: 1 players waiting")
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="players.projection"):
        call_command("project_pending", stdout=StringIO())
    assert not [r for r in caplog.records if r.name == "players.projection"]


def test_the_beat_runs_the_projection_every_minute_as_a_safety_net():
    entry = app.conf.beat_schedule["players.project_pending"]
    assert entry["task"] == "players.project_pending"
    assert entry["schedule"].minute == set(range(60))


def test_a_projection_waiting_for_a_single_events_lock_counts_that_event(
    requires_postgres, transactional_db, tiers, settings, django_capture_on_commit_callbacks
):
    """A single event projects itself and leaves no mark; a worker projecting the same
    player at that moment waits for its row lock and must then count its payment (its
    recomputation starts after the lock, not before)."""

    settings.CELERY_BROKER_URL = BROKER
    with django_capture_on_commit_callbacks(execute=False):  # no task queued: this test is the worker
        payments_record_batch(
            events=[purchase("b1", "x", "100"), purchase("b2", "y", "6")], source="api", source_ref="1"
        )
    with single_event_held_open(account_id="x", event_id="s1", amount="900"):
        projection_run()  # takes the batch's mark, waits for the single event's lock

    assert totals("x")[:3] == (Decimal("1000.00"), 2, "V5")
    assert players_totals_rebuild() == []


def test_a_single_event_waiting_for_another_single_events_lock_counts_that_event(
    requires_postgres, transactional_db, tiers
):
    """A single event locks its player in the append's own statement; a second single event
    for the same player waits there, and its recomputation (a later statement) must count
    the first one's payment once it has committed."""
    payment_record(account_id="x", event_id="s0", kind="purchase", amount=Decimal("100"), currency="CNY",
                   occurred_at=timezone.now(), source="api", source_ref="1")  # fmt: skip
    with single_event_held_open(account_id="x", event_id="s1", amount="900"):
        started = time.monotonic()
        payment_record(account_id="x", event_id="s2", kind="purchase", amount=Decimal("6"), currency="CNY",
                       occurred_at=timezone.now(), source="api", source_ref="1")  # fmt: skip
        waited = time.monotonic() - started

    assert waited > 0.5  # it did wait for the first one's lock
    assert totals("x")[:3] == (Decimal("1006.00"), 3, "V5")
    assert players_totals_rebuild() == []


def test_a_batch_for_a_player_being_projected_does_not_wait_for_the_projection(
    requires_postgres, transactional_db, tiers, settings, django_capture_on_commit_callbacks
):
    """A projection round holds the marks it took until it commits (for a thousand players,
    seconds): a batch naming one of its players is accepted without waiting for it, and
    its payment is projected by the next round."""
    settings.CELERY_BROKER_URL = BROKER
    with django_capture_on_commit_callbacks(execute=False):
        payments_record_batch(events=[purchase("b1", "x", "100")], source="api", source_ref="1")
    taken, release = threading.Event(), threading.Event()

    def round_held_open():
        try:
            with transaction.atomic():
                assert projection_run().players == 1  # x's mark taken, x projected, not committed
                taken.set()
                release.wait(30)  # the round's transaction stays open
        finally:
            connection.close()

    projector = threading.Thread(target=round_held_open)
    projector.start()
    try:
        assert taken.wait(30)
        started = time.monotonic()
        with django_capture_on_commit_callbacks(execute=False):
            result = payments_record_batch(events=[purchase("b2", "x", "900")], source="api", source_ref="1")
        waited = time.monotonic() - started
    finally:
        release.set()
        projector.join(30)

    assert result.created == 1 and waited < 1.0  # accepted while the round was still open
    assert totals("x")[0] == Decimal("100.00")  # the round's view: the first batch only
    assert projection_lag().pending_players == 1  # the second batch's mark is waiting
    assert projection_run().players == 1
    assert totals("x")[:3] == (Decimal("1000.00"), 2, "V5")
    assert players_totals_rebuild() == []


def _players_rows_written() -> int:
    """Row versions this transaction has written to the players table (PostgreSQL's statistics)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_get_xact_tuples_updated('players_player'::regclass)")
        return cursor.fetchone()[0]


def test_a_batch_writes_a_players_row_once_with_its_totals_and_its_new_tier(
    requires_postgres, tiers, pay, make_player, settings
):
    """A players row has 19 indexes, and every write of it adds an entry to each: a tier
    moved by a batch's payment is written with the totals, not by a second UPDATE."""
    settings.CELERY_BROKER_URL = ""
    for account_id in ("wa", "wb"):
        pay(make_player(account_id=account_id), "6", source="api", source_ref="1")
    assert [totals(a)[2:] for a in ("wa", "wb")] == [("V1", PayerStatus.ACTIVE)] * 2
    written = _players_rows_written()

    result = payments_record_batch(
        events=[purchase("w1", "wa", "600"), purchase("w2", "wb", "30")], source="api", source_ref="1"
    )

    assert (result.created, result.errors) == (2, [])
    assert _players_rows_written() - written == 2
    assert totals("wa") == (Decimal("606.00"), 2, "V4", PayerStatus.ACTIVE)
    assert totals("wb") == (Decimal("36.00"), 2, "V2", PayerStatus.ACTIVE)
    assert [history(a)[0][-1] for a in ("wa", "wb")] == [
        ("V4", TierChangeReason.PAYMENT),
        ("V2", TierChangeReason.PAYMENT),
    ]
    assert players_totals_rebuild() == []


def test_a_round_of_its_own_commits_without_waiting_for_the_disk_a_callers_transaction_does(
    requires_postgres, transactional_db, tiers, settings, django_capture_on_commit_callbacks, monkeypatch
):
    """synchronous_commit is off for a projection round's own transaction only: a crash
    that loses it loses the deletion of its marks with it (they are back, and it runs
    again from the ledger). Inside a caller's transaction (an accept, in the in-process
    path) the commit stays durable."""
    from players.services import projection

    seen = []

    def step(**_kwargs):
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            seen.append(cursor.fetchone()[0])

    monkeypatch.setattr(projection, "_PROJECTION_STEPS", [*projection._PROJECTION_STEPS, step])
    settings.CELERY_BROKER_URL = BROKER
    with django_capture_on_commit_callbacks(execute=False):
        payments_record_batch(events=[purchase("c1", "ca", "6")], source="api", source_ref="1")
    projection_run()  # a worker's round
    with django_capture_on_commit_callbacks(execute=False):
        payments_record_batch(events=[purchase("c2", "ca", "6")], source="api", source_ref="1")
    with transaction.atomic():
        projection_run()  # inside a caller's transaction

    assert seen == ["off", "on"]
    assert totals("ca")[:2] == (Decimal("12.00"), 2)
    assert ProjectionPending.objects.count() == 0
