"""Player activity from the game: logins, in batches, set-based.

The accept path of the high-volume stream: move each player's last login forward and
mark "to project" the players whose state a login can move (payers, and the few others
the payer status rule reads: `payer_status.login_rejudges_sql`); their payer status (a
login may clear "no login") follows once the batch commits
(`projection.projection_follow`), as for payments. A non-payer's login, most of a game's
logins, leaves the projection nothing to do: it is not marked."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from .events import login_event_clean
from .ledger import players_ensure
from .ledger_engines import ledger_engine
from .payer_status import login_rejudges_sql
from .projection import projection_follow


@dataclass
class LoginBatchResult:
    created: int = 0
    errors: list[dict] = field(default_factory=list)
    player_ids: set[int] = field(default_factory=set)  # players whose last login moved forward

    def as_dict(self) -> dict:
        return {"created": self.created, "errors": sorted(self.errors, key=lambda e: e["index"])}


def logins_record_batch(*, events: list, actor=None) -> LoginBatchResult:
    """Move each player's `last_login_at` forward (never backward) to the latest login
    given; unknown accounts are created. Each event is judged on its own."""
    now = timezone.now()
    result = LoginBatchResult()
    latest: dict[str, tuple] = {}
    for index, raw in enumerate(events):
        clean, errors = login_event_clean(raw, now=now)
        if errors:
            result.errors.append({"index": index, "error": "invalid", "fields": errors})
            continue
        result.created += 1
        account_id, at, server = clean["account_id"], clean["occurred_at"], clean["server"]
        if account_id not in latest:
            latest[account_id] = (at, server)
        else:
            seen_at, seen_server = latest[account_id]
            latest[account_id] = (max(at, seen_at), seen_server or server)
    if latest:
        marked, result.player_ids = _logins_apply(latest=latest, actor=actor, now=now)
        projection_follow(marked)
    return result


@transaction.atomic
def _logins_apply(*, latest: dict[str, tuple], actor, now) -> tuple[set[int], set[int]]:
    """Mark the players a login can re-judge "to project", then move their last logins:
    the mark first, the event path's lock order (players.services.projection). Returns
    the players marked and those whose last login moved."""
    engine = ledger_engine()
    ids, marked = engine.accounts_mark(accounts=list(latest), now=now, ledger=False, only=login_rejudges_sql)
    missing = {a: server for a, (_at, server) in latest.items() if a not in ids}
    if missing:  # new accounts (or erased ones, found by their digest, who may have paid)
        ensured = players_ensure(accounts=missing, actor=actor, now=now)
        marked |= engine.projection_mark(
            player_ids=list(ensured.values()), now=now, ledger=False, only=login_rejudges_sql
        )
        ids.update(ensured)
    pairs = sorted((ids[a], at) for a, (at, _server) in latest.items())
    moved = engine.last_logins_move(pairs=pairs)
    return marked, moved
