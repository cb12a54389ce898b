"""Tier evaluation, pinning, periodic review, and manager assignment."""

from __future__ import annotations

import functools
import time
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from players.models import Player
from players.selectors import accounts_net_spend_by_account, player_net_spend_since
from players.selectors.persons import BASIS_ACCOUNT, BASIS_PERSON, person_accounts, person_alone, person_basis
from players.services.ledger_engines import PLAYER_STATE_FIELDS

from ..models import ManagerAssignment, Tier, TierChange, TierChangeReason


def tiers_ordered() -> list[Tier]:
    return list(Tier.objects.order_by("level"))


# The tiers as the event path reads them: every payment projects its player, and reading
# the tiers was a sixth of a single event's round trips and a fifth of its Python time.
TIERS_MEMO_SECONDS = 5  # how long the event path may use tiers edited in another process
_tiers_memo: tuple[float, list[Tier]] | None = None


def tiers_for_events() -> list[Tier]:
    """`tiers_ordered`, kept in this process for TIERS_MEMO_SECONDS (the churn rules are
    kept alike). A tier saved or deleted in this process is forgotten at once and again
    when its transaction commits (`tiers_changed`); tiers read inside that transaction
    are not kept, as it may yet roll back."""
    global _tiers_memo
    memo = _tiers_memo
    if memo is not None and time.monotonic() - memo[0] < TIERS_MEMO_SECONDS:
        return memo[1]
    tiers = tiers_ordered()
    if not _tiers_changing():
        _tiers_memo = (time.monotonic(), tiers)
    return tiers


def tiers_forget(**_signal_kwargs) -> None:
    global _tiers_memo
    _tiers_memo = None


def tiers_changed(**_signal_kwargs) -> None:
    """A tier was saved or deleted (signals, VipConfig.ready)."""
    tiers_forget()
    transaction.on_commit(tiers_forget)


def _tiers_changing() -> bool:
    """This thread's transaction changed tiers: its `tiers_forget` waits for the commit
    (a rollback drops it)."""
    return any(func is tiers_forget for _savepoints, func, _robust in connection.run_on_commit)


TIER_BASIS_PERSON, TIER_BASIS_ACCOUNT = BASIS_PERSON, BASIS_ACCOUNT


def tier_basis() -> str:
    """Whose spend the tier scheme counts (and payer status: one setting for both):
    `players.selectors.persons.person_basis`."""
    return person_basis()


def tier_accounts(player_ids) -> dict[int, tuple[int, ...]]:
    """For each of these accounts whose tier counts other accounts' spend too: every
    account counted (its person's). Empty per account, and for accounts alone."""
    if tier_basis() == TIER_BASIS_ACCOUNT:
        return {}
    return person_accounts(player_ids)


def persons_window_spend(
    *, groups: Iterable[tuple[int, ...]], window_days: int | None, now: datetime
) -> dict[tuple[int, ...], Decimal]:
    """Net spend counted by a tier for each VIP person (the tuple of their accounts):
    lifetime (the sum of their accounts' totals), or within the last `window_days` (the
    ledger's net spend of those days); one query for every person asked about."""
    groups = set(groups)
    members = sorted({pk for group in groups for pk in group})
    if window_days is None:
        per_account = dict(Player.objects.filter(pk__in=members).values_list("pk", "total_spend"))
    else:
        per_account = accounts_net_spend_by_account(player_ids=members, since=now - timedelta(days=window_days))
    return {group: sum((per_account.get(pk, Decimal(0)) for pk in group), Decimal(0)) for group in groups}


def player_window_spend(
    *, player: Player, window_days: int | None, now: datetime, accounts: tuple[int, ...] | None = None
) -> Decimal:
    """Net spend counted by a tier: lifetime, or within the last `window_days`; of the
    player's person (`accounts`: every account counted, as `tier_accounts` says; looked
    up when None) or of the account alone. The one spend rule of every tier."""
    if accounts is None:
        accounts = tier_accounts([player.pk]).get(player.pk, ())
    if len(accounts) > 1:
        return persons_window_spend(groups=[accounts], window_days=window_days, now=now)[accounts]
    if window_days is None:
        return player.total_spend
    return player_net_spend_since(player=player, since=now - timedelta(days=window_days))


def spend_to_keep_tier(player: Player, now: datetime) -> Decimal | str:
    """How much more the player spends within the tier's window to stay at their tier:
    0 when they already qualify, "" without a tier (a script variable)."""
    if not player.tier_id:
        return ""
    tier = player.tier
    spent = player_window_spend(player=player, window_days=tier.window_days, now=now)
    return max(tier.min_spend - spent, Decimal(0)).quantize(Decimal("0.01"))


def tier_qualified(
    *,
    player: Player,
    tiers: list[Tier],
    now: datetime,
    accounts: tuple[int, ...] | None = None,
    spend_by_window: dict[int | None, Decimal] | None = None,
) -> Tier | None:
    """The highest tier whose spend rule the player (their person, by `tier_basis`) meets
    today. `spend_by_window`: the spend per tier window when the caller read it for many
    people at once (`persons_window_spend`)."""
    if accounts is None:
        accounts = tier_accounts([player.pk]).get(player.pk, ())
    spend_by_window = dict(spend_by_window or {})
    best = None
    for tier in tiers:
        if tier.window_days not in spend_by_window:
            spend_by_window[tier.window_days] = player_window_spend(
                player=player, window_days=tier.window_days, now=now, accounts=accounts
            )
        if spend_by_window[tier.window_days] >= tier.min_spend:
            best = tier
    return best


def _persons_spend(groups: dict[int, tuple[int, ...]], tiers: list[Tier], now: datetime) -> dict[int, dict]:
    """{account: {window: spend of its person}} for the accounts of people of several
    accounts, every window the tiers use, one query per window."""
    people = set(groups.values())
    if not people:
        return {}
    by_window = {
        window: persons_window_spend(groups=people, window_days=window, now=now)
        for window in {t.window_days for t in tiers}
    }
    return {pk: {window: spend[group] for window, spend in by_window.items()} for pk, group in groups.items()}


def _level(tier: Tier | None) -> int:
    return tier.level if tier else 0


# Reasons after which a tier may also fall at once (a payment only raises it; time
# lowers it through `tiers_review`, after the grace period).
_LOWERING_REASONS = frozenset({TierChangeReason.REFUND, TierChangeReason.REBUILD})


def tiers_evaluate(
    *,
    players: list[Player],
    reason: str,
    actor=None,
    now: datetime | None = None,
    tiers: list[Tier] | None = None,
    deferred: frozenset[int] = frozenset(),
) -> list[TierChange]:
    """The rule that a payment raises a tier: re-evaluate each player after their
    spend moved, for one player or many. Upgrade at once; after a refund (or a rebuild
    from the ledger) a tier may also fall at once. A pinned tier is left alone until
    the pin expires; rolling-window downgrades through the passage of time are
    `tiers_review`'s job. `players` need `total_spend`, `tier_id` and
    `tier_pinned_until` loaded; `tiers` (lowest first) saves a query when the caller
    has them. One history row per change (`tiers_write`). `deferred`: players whose
    row the caller (the projection) writes afterwards, with their new tier from the objects."""
    now = now or timezone.now()
    tiers = tiers if tiers is not None else tiers_for_events()
    by_id = {t.pk: t for t in tiers}
    # Only players not known to be alone are looked up: the projection's recount read each
    # player's link, so a payment of a player of one account asks nothing more.
    groups = tier_accounts([p.pk for p in players if not person_alone(p)])
    if groups:  # a person's tier is every linked account's: evaluate the others too
        groups = {pk: group for group in set(groups.values()) for pk in group}
        missing = sorted(set(groups) - {p.pk for p in players})
        if missing:
            players = [*players, *Player.objects.filter(pk__in=missing).only(*PLAYER_STATE_FIELDS)]
    persons_spend = _persons_spend(groups, tiers, now)
    moves: list[tuple[Player, Tier | None]] = []
    for player in players:
        if player.tier_pinned_until and player.tier_pinned_until > now:
            continue
        current = by_id.get(player.tier_id) if player.tier_id else None
        qualified = tier_qualified(
            player=player,
            tiers=tiers,
            now=now,
            accounts=groups.get(player.pk, ()),
            spend_by_window=persons_spend.get(player.pk),
        )
        if _level(qualified) > _level(current) or (reason in _LOWERING_REASONS and _level(qualified) < _level(current)):
            moves.append((player, qualified))
    if not moves:
        return []
    return tiers_write(moves=moves, reason=reason, actor=actor, now=now, deferred=deferred)


def tiers_write(
    *,
    moves: list[tuple[Player, Tier | None]],
    reason: str,
    actor=None,
    note: str = "",
    now: datetime,
    deferred: frozenset[int] = frozenset(),
) -> list[TierChange]:
    """Move each player to its tier and record the change: the one place a tier is
    written (with its TierChange row), for one player or many. One INSERT of the
    history and one UPDATE per target tier; the player objects follow. The rows of
    `deferred` players are not updated here: their caller writes them from the objects
    (the projection, with their totals: one write of the row instead of two)."""
    changes = [
        TierChange(
            player_id=player.pk,
            from_tier_id=player.tier_id,
            to_tier=tier,
            reason=reason,
            actor=actor,
            note=note,
            changed_at=now,
        )
        for player, tier in moves
    ]
    with transaction.atomic(savepoint=False):  # stands or falls with the caller's transaction
        if connection.vendor == "postgresql":
            _tiers_write_postgresql(changes, reason=reason, actor=actor, note=note, now=now, deferred=deferred)
        else:
            by_tier: dict[int | None, list[int]] = defaultdict(list)
            for player, tier in moves:
                if player.pk not in deferred:
                    by_tier[tier.pk if tier else None].append(player.pk)
            TierChange.objects.bulk_create(changes, batch_size=1000)
            for tier_id, ids in by_tier.items():
                Player.objects.filter(pk__in=ids).update(tier_id=tier_id, tier_since=now, tier_below_since=None)
    for player, tier in moves:
        player.tier, player.tier_since, player.tier_below_since = tier, now, None
    return changes


# tiers_write on PostgreSQL: the players' new tier and the history rows in one prepared
# statement, for one move or many: the same two writes as the ORM's
# bulk_create and UPDATE, without their query compilation (a third of a first payment's
# Python) and in one round trip. The rows come back in the moves' order (ORDER BY n).
# `w`: the player's row is written here (false for the projection's deferred rows).
# One move (a single event's player: almost every tier change of the event path) takes
# scalar parameters, so that PostgreSQL runs its prepared statement on one generic plan:
# with arrays it estimates 10 rows for the unnest whatever the call, that plan never
# costs less than a custom one, and it planned every call again (pg_prepared_statements:
# 0 generic plans of 113; ~0.3 ms of bind per tier change on the 1M copy). Many moves
# keep the arrays. The same statement around them (`_tiers_write_sql`).
_TIERS_MOVES_MANY = (
    "SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::boolean[])"
    " WITH ORDINALITY AS m(pid, f, t, w, n)"
)
_TIERS_MOVES_ONE = "SELECT %s::bigint AS pid, %s::bigint AS f, %s::bigint AS t, %s::boolean AS w, 1::bigint AS n"


@functools.cache
def _tiers_write_sql(moves: str) -> str:
    return (
        f"WITH m AS ({moves}),"
        f" u AS (UPDATE {Player._meta.db_table} p SET tier_id = m.t, tier_since = %s, tier_below_since = NULL"
        " FROM m WHERE p.id = m.pid AND m.w)"
        f" INSERT INTO {TierChange._meta.db_table} (player_id, from_tier_id, to_tier_id, reason, actor_id, note,"
        " changed_at) SELECT m.pid, m.f, m.t, %s, %s, %s, %s FROM m ORDER BY m.n RETURNING id"
    )


def _tiers_write_postgresql(
    changes: list[TierChange], *, reason: str, actor, note: str, now: datetime, deferred: frozenset[int]
) -> None:
    from players.services.prepared import prepared_fetchall

    moves = [
        [c.player_id for c in changes],
        [c.from_tier_id for c in changes],
        [c.to_tier_id for c in changes],
        [c.player_id not in deferred for c in changes],
    ]
    if len(changes) == 1:
        statement, moves = _tiers_write_sql(_TIERS_MOVES_ONE), [column[0] for column in moves]
    else:
        statement = _tiers_write_sql(_TIERS_MOVES_MANY)
    rows = prepared_fetchall(statement, [*moves, now, str(reason), actor.pk if actor is not None else None, note, now])
    for change, (pk,) in zip(changes, rows, strict=True):
        change.pk = pk
        change._state.adding, change._state.db = False, TierChange.objects.db


@transaction.atomic
def tier_pin(*, player: Player, tier: Tier | None, actor, reason: str, expires_at: datetime) -> TierChange:
    """A manager sets a tier by hand, with a reason, until `expires_at`."""
    now = timezone.now()
    errors = {}
    if not reason or not reason.strip():
        errors["reason"] = [_("Say why the tier is pinned.")]
    if expires_at is None or expires_at <= now:
        errors["expires_at"] = [_("The pin must expire in the future.")]
    if errors:
        raise ValidationError(errors)
    player = Player.objects.select_for_update().get(pk=player.pk)
    (change,) = tiers_write(
        moves=[(player, tier)], reason=TierChangeReason.MANUAL, actor=actor, note=reason.strip(), now=now
    )
    Player.objects.filter(pk=player.pk).update(tier_pinned_until=expires_at)
    player.tier_pinned_until = expires_at
    return change


def tiers_review(*, now: datetime | None = None, batch_size: int = 2000) -> dict:
    """Nightly: expire pins, start grace periods, apply downgrades whose grace has run out.

    Lifetime tiers never fall through time, so only players holding a tier reached
    through a rolling window (or whose pin expired) are examined.
    """
    now = now or timezone.now()
    tiers = tiers_ordered()
    rolling_ids = [t.pk for t in tiers if t.window_days is not None]
    counts = {"pins_expired": 0, "downgraded": 0, "grace_started": 0, "grace_cleared": 0}

    expired = Player.objects.filter(tier_pinned_until__lte=now).values_list("pk", flat=True)
    for pk in list(expired):
        with transaction.atomic():
            player = Player.objects.select_for_update().get(pk=pk)
            Player.objects.filter(pk=pk).update(tier_pinned_until=None)
            player.tier_pinned_until = None
            qualified = tier_qualified(player=player, tiers=tiers, now=now)
            if qualified != player.tier:
                tiers_write(moves=[(player, qualified)], reason=TierChangeReason.PIN_EXPIRED, now=now)
            counts["pins_expired"] += 1

    candidates = Player.objects.filter(tier_id__in=rolling_ids, tier_pinned_until__isnull=True).values_list(
        "pk", flat=True
    )
    ids = list(candidates)
    for start in range(0, len(ids), batch_size):
        groups = tier_accounts(ids[start : start + batch_size])
        persons_spend = _persons_spend(groups, tiers, now)
        for player in Player.objects.filter(pk__in=ids[start : start + batch_size]).select_related("tier"):
            with transaction.atomic():
                qualified = tier_qualified(
                    player=player,
                    tiers=tiers,
                    now=now,
                    accounts=groups.get(player.pk, ()),
                    spend_by_window=persons_spend.get(player.pk),
                )
                if _level(qualified) >= _level(player.tier):
                    if player.tier_below_since:
                        Player.objects.filter(pk=player.pk).update(tier_below_since=None)
                        counts["grace_cleared"] += 1
                    continue
                if player.tier_below_since is None:
                    Player.objects.filter(pk=player.pk).update(tier_below_since=now)
                    player.tier_below_since = now
                    counts["grace_started"] += 1
                if now - player.tier_below_since >= timedelta(days=player.tier.downgrade_grace_days):
                    tiers_write(moves=[(player, qualified)], reason=TierChangeReason.REVIEW, now=now)
                    counts["downgraded"] += 1
    return counts


def manager_assign_allowed(actor) -> bool:
    """Who may move players between VIP managers: staff with players.assign_manager, and
    the system itself (no actor: commands, scheduled jobs)."""
    return actor is None or actor.has_perm("players.assign_manager")


@transaction.atomic
def players_assign_manager(*, players, manager, actor, note: str = "") -> int:
    """Assign players to a VIP manager (or to nobody), one history row per change; every
    door (the admin's action and player page, imports) comes here. Refused (PermissionDenied)
    to an actor who may not assign managers.

    `players` is a queryset already scoped to what the actor may touch.
    Returns how many players changed manager.
    """
    if not manager_assign_allowed(actor):
        raise PermissionDenied(_("You may not assign VIP managers."))
    now = timezone.now()
    moving = list(
        players.exclude(manager=manager).select_for_update().values_list("pk", "manager_id")
        if manager
        else players.filter(manager__isnull=False).select_for_update().values_list("pk", "manager_id")
    )
    # The manager is the VIP person's: every account of a person moves with it.
    ids = {pk for pk, _old in moving}
    linked: set[int] = set()
    for start in range(0, len(moving), 5000):
        for group in person_accounts([pk for pk, _old in moving[start : start + 5000]]).values():
            linked.update(group)
    linked -= ids
    if linked:
        others = Player.objects.filter(pk__in=sorted(linked))
        others = others.exclude(manager=manager) if manager else others.filter(manager__isnull=False)
        moving += list(others.select_for_update().values_list("pk", "manager_id"))
    if not moving:
        return 0
    ManagerAssignment.objects.bulk_create(
        ManagerAssignment(
            player_id=pk, from_manager_id=old, to_manager=manager, actor=actor, note=note, assigned_at=now
        )
        for pk, old in moving
    )
    Player.objects.filter(pk__in=[pk for pk, _old in moving]).update(manager=manager, updated_at=now)
    return len(moving)
