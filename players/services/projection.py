"""The projection: a player's derived state (totals, tier, payer status and their
history) from the ledger and their last login, for one player or many, set-based.

The accept path (`ledger.payments_record_batch`, `activity.logins_record_batch`)
writes the ledger (or moves the last login) and, in the same transaction, marks the
players "to project" (`ProjectionPending`: a row per player per batch, only ever
inserted, so an accept never waits for a projection; a round takes all of a player's
marks at once, so repeated players coalesce). After it commits, `projection_follow` has them
projected: on a Celery worker (`players.project_pending`) when a broker is configured,
else here, in-process, at once. Either way the same function runs,
`projection_run`: take the players of the oldest marks with all their marks (SKIP
LOCKED, so workers share the work) and
apply `players_project_ledger` to their players in the same transaction; a crash in
between rolls the marks back, and since the projection recomputes from the ledger
(never adds a delta) it may run twice without harm. For the same reason a round in a
transaction of its own commits without waiting for its WAL to reach the disk
(`projection_claim`'s `commit_unflushed`): a crash that loses the round loses the
deletion of its marks with it.

A single event (`ledger.payment_record`: the API's single POST, staff) is projected in
its own transaction instead, so that when it returns its player's state is current.

Locks: the writers only insert marks, which no projection waits for (its snapshot
does not see them until they commit); a projection locks the marks it takes, then its
players' rows (in id order), and a logins batch, which moves those rows, waits for it.

`projection_lag` says how far behind it is (players marked, the oldest mark's age):
in GET /api/v1/health/, the admin's system status, and a warning on the
`players.projection` logger over `CRM_PROJECTION_LAG_WARN_SECONDS`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import OperationalError, transaction
from django.utils import timezone

from ..models import Player
from ..selectors.persons import person_alone
from .ledger_engines import ledger_engine
from .payer_status import payer_status_refresh

log = logging.getLogger("players.projection")

CHUNK = 1000  # players per projection transaction
TASK_SECONDS = 20  # a worker's task drains for this long, then hands the rest to a new task
TASK_NAME = "players.project_pending"

# Why a player's ledger moved, as the projection's steps are told (vip's TierChangeReason
# has the same values: a tier change names the ledger change that caused it).
PAYMENT, REFUND, REBUILD = "payment", "refund", "rebuild"

# The steps apps built on players add to the projection, run in order before the payer
# status. Apps depend one way (players <- vip), so players cannot call vip: vip hands its
# rule in (`VipConfig.ready` adds `vip.services.tiers_evaluate`, the tier).
_PROJECTION_STEPS: list[Callable[..., object]] = []


def projection_step_add(step: Callable[..., object]) -> None:
    """Add `step(*, players, reason, actor, now, tiers, deferred)` to every projection
    (once). `deferred`: ids of players whose row the projection writes after the steps,
    with their totals (`ledger_engine().projected_write`): a step sets those players'
    fields on the objects only (one write of the row per round, not one per step)."""
    if step not in _PROJECTION_STEPS:
        _PROJECTION_STEPS.append(step)


def players_project(
    *,
    players: list[Player],
    reason: str,
    trigger: str,
    actor=None,
    now: datetime | None = None,
    tiers: list | None = None,
    evaluate_tier: bool = True,
    deferred: frozenset[int] = frozenset(),
) -> None:
    """Derive these players' tier and payer status from their totals (as
    `players_project_ledger` or `players_totals_rebuild` have just recomputed them), with
    their history rows. `players` carry `PLAYER_STATE_FIELDS`; `tiers` (lowest first)
    when the caller has them. `reason` is why the ledger moved (PAYMENT, REFUND,
    REBUILD), `trigger` the payer status change's. `evaluate_tier=False` skips the
    added steps (a login moves no spend). `deferred`: players whose totals
    `totals_recompute(defer=True)` left unwritten; their rows are written here, once,
    after the steps (which set their tier on the objects), before the payer status
    reads them."""
    now = now or timezone.now()
    if evaluate_tier:
        for step in _PROJECTION_STEPS:
            step(players=players, reason=reason, actor=actor, now=now, tiers=tiers, deferred=deferred)
    if deferred:
        ledger_engine().projected_write(players=[p for p in players if p.pk in deferred])
    # Players the recount read as accounts alone (almost all) are judged by the per-account
    # statement, as the per-person rule judges them: no person to look up.
    alone = all(person_alone(p) for p in players)
    payer_status_refresh(player_ids=[p.pk for p in players], now=now, trigger=trigger, alone=alone)


@dataclass
class Projected:
    players: int = 0
    spend_fell: int = 0
    drained: bool = False  # projection_run stopped because no mark was left (not for lack of time)

    def add(self, other: Projected) -> None:
        self.players += other.players
        self.spend_fell += other.spend_fell


@transaction.atomic(savepoint=False)  # stands or falls with the caller's transaction (and its claim)
def players_project_ledger(
    *,
    player_ids: Iterable[int],
    ledger_ids: Iterable[int],
    actor=None,
    now: datetime | None = None,
    locked: bool = False,
) -> Projected:
    """The projection of these players, now: lock them (unless this transaction has:
    `locked`), set the totals of `ledger_ids` (whose payments moved) to what the ledger
    adds up to, then their tier (a player whose spend fell may also fall: the refund's
    rule) and everyone's payer status (a login may clear "no login"). Idempotent."""
    now = now or timezone.now()
    player_ids = list(player_ids)
    ledger_ids = {int(pk) for pk in ledger_ids}
    # A batch's players alone have their row written once, totals and tier together
    # (`players_project`): a players row has 19 indexes, and a tier moved by a second
    # UPDATE wrote the row and its index entries again. A single event keeps its one
    # statement (its tier rarely moves; a second statement would cost a round trip).
    recomputed = ledger_engine().totals_recompute(
        player_ids=player_ids, ledger_ids=ledger_ids, locked=locked, defer=len(set(player_ids)) > 1
    )
    deferred = frozenset(row.player.pk for row in recomputed if row.deferred)
    groups: dict[tuple[str, str, bool], list[Player]] = {}
    for row in recomputed:
        if row.player.pk not in ledger_ids:
            key = (PAYMENT, "login", False)
        elif row.spend_fell:
            key = (REFUND, "refund", True)
        else:
            key = (PAYMENT, "payment", True)
        groups.setdefault(key, []).append(row.player)
    for (reason, trigger, evaluate_tier), players in sorted(groups.items(), key=lambda item: item[0][1]):
        players_project(
            players=players,
            reason=reason,
            trigger=trigger,
            actor=actor,
            now=now,
            evaluate_tier=evaluate_tier,
            deferred=deferred,
        )
    return Projected(players=len(recomputed), spend_fell=len(groups.get((REFUND, "refund", True), ())))


def projection_run(
    *, player_ids: Iterable[int] | None = None, seconds: float | None = None, chunk: int = CHUNK, retries: int = 2
) -> Projected:
    """Project marked players, oldest marks first, `chunk` players per transaction,
    until none is left (of `player_ids` only, when given) or `seconds` have passed.
    A worker's task, the in-process path and `manage.py project_pending` all run this."""
    engine = ledger_engine()
    ids = sorted({int(pk) for pk in player_ids}) if player_ids is not None else None
    total = Projected()
    stop_at = time.monotonic() + seconds if seconds is not None else None
    while stop_at is None or time.monotonic() < stop_at:
        for attempt in range(retries + 1):
            try:
                # A round of its own (not inside a caller's transaction, which may hold an
                # accept) commits without waiting for the disk: see `projection_claim`.
                unflushed = not transaction.get_connection().in_atomic_block
                with transaction.atomic():
                    claimed = engine.projection_claim(limit=chunk, player_ids=ids, commit_unflushed=unflushed)
                    if not claimed:
                        total.drained = True
                        return total
                    done = players_project_ledger(
                        player_ids=[c.player_id for c in claimed],
                        ledger_ids=[c.player_id for c in claimed if c.ledger],
                    )
                break
            except OperationalError as exc:  # a deadlock: nothing was kept (the marks are back), try again
                if attempt == retries or "deadlock" not in str(exc).lower():
                    raise
                log.warning("projection deadlocked, retrying (%s)", attempt + 1)
        total.add(done)
    return total


def projection_follow(player_ids: Iterable[int]) -> None:
    """After an accept marked these players: have them projected once it commits. With a
    broker, a Celery worker does it (`players.project_pending`, queued at the commit);
    without one, this process does, now (inside a caller's transaction, that
    transaction sees its own marks and takes them)."""
    player_ids = list(player_ids)
    if not player_ids:
        return
    if not settings.CELERY_BROKER_URL:
        projection_run(player_ids=player_ids)
        return
    transaction.on_commit(projection_task_queue)


def projection_task_queue() -> None:
    """Queue the projection task by name (players.tasks wraps this module: no import in a circle)."""
    from celery import current_app

    current_app.send_task(TASK_NAME)


@dataclass(frozen=True)
class Lag:
    pending_players: int
    oldest: datetime | None
    seconds: float

    def as_dict(self) -> dict:
        return {"pending_players": self.pending_players, "lag_seconds": round(self.seconds, 3)}


def projection_lag(*, now: datetime | None = None) -> Lag:
    """How far the projection is behind: players marked, and the age of the oldest
    mark (0 when none)."""
    now = now or timezone.now()
    count, oldest = ledger_engine().projection_lag()
    return Lag(
        pending_players=count, oldest=oldest, seconds=max((now - oldest).total_seconds(), 0.0) if oldest else 0.0
    )


def projection_lag_warn_seconds() -> float:
    return float(getattr(settings, "CRM_PROJECTION_LAG_WARN_SECONDS", 30))


def projection_lag_log(*, now: datetime | None = None) -> None:
    """A warning on `players.projection` when the lag is over the threshold (the players
    waiting are counted only then: every task asks)."""
    now = now or timezone.now()
    _count, oldest = ledger_engine().projection_lag(count=False)
    if oldest is None or (now - oldest).total_seconds() <= projection_lag_warn_seconds():
        return
    lag = projection_lag(now=now)
    log.warning(
        "projection lag %.1f s over %.0f s: %d players waiting",
        lag.seconds,
        projection_lag_warn_seconds(),
        lag.pending_players,
    )
