"""The ledger's statements, per database engine, behind one interface.

`ledger_engine()` is the one place that chooses: `PostgresLedgerEngine` on PostgreSQL,
`LedgerEngine` (portable, the ORM) elsewhere. Both implement the same rules, and
`players/tests/test_services_ledger_engines.py` runs both over the same cases (on
PostgreSQL it compares the PostgreSQL statements with the portable ones):

- `append`: insert new payment events (exactly once per (source, source_ref,
  event_id): a repeat is not inserted) and, in the same statement, either mark their
  players "to project" (`ProjectionPending`, a batch) or lock their rows for the
  caller's own projection (`lock`, a single event). The accept path writes nothing
  else: the players row, with its 19 indexes, is the projection's. On PostgreSQL one
  prepared statement for one event or a thousand.
- `totals_recompute`: lock players (pending mark first, then the player row: the one
  lock order of the event path; unless the append locked them) and set their totals to
  what the ledger adds up to (`ledger_totals`: net spend, purchase count, first and last
  purchase), writing only the rows that differ. Idempotent: the projection may run
  twice, or after a crash. With `defer`, the rows of players alone (no VIP person of
  several accounts) are left for `projected_write`, which writes them once with what
  the projection's steps set (the tier): a players row, with its 19 indexes, is not
  rewritten twice in a round (a new row version and 19 index entries per write).
- `projection_mark`, `accounts_mark`, `projection_claim`, `projection_lag`: the durable
  "to project" marks (add, by player or by account; take the players of the oldest, with
  all their marks, for one transaction; how old the oldest is). A mark is only ever
  inserted, a new one per batch beside a player's older ones: a writer never waits for a
  projection that holds them (with one row per player it did, for the projection's whole round).
- `last_logins_move`: move players' last login forward, never backward.

Nothing else inserts into the Payment table (`players.services.ledger` calls
`append`), and the totals rule is written here only: `ledger_totals` (the ORM, also
used by the rebuild) and its mirror in `_TOTALS_SQL`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import NamedTuple

import msgspec
from django.db import DEFAULT_DB_ALIAS, connection
from django.db.models import BooleanField, Count, Exists, Max, Min, OuterRef, Q, Sum, Value, signals
from django.db.models.base import ModelState
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce

from ..models import Payment, PaymentKind, Player, ProjectionPending
from .prepared import connection_vendor, planned_fetchall, prepared_fetchall, server_cursor

# A condition on a players row, as SQL, given the row's alias: of the players given, which
# to mark (`payer_status.login_rejudges_sql`: those whose state a login can move).
Only = Callable[[str], str]

# The columns an event brings to the ledger (with their PostgreSQL types); source, source_ref, received_at and
# recorded_by come from the call.
EVENT_COLUMNS = (
    ("account_id", "text"),
    ("event_id", "text"),
    ("kind", "text"),
    ("amount", "numeric"),
    ("currency", "text"),
    ("amount_base", "numeric"),
    ("server", "text"),
    ("occurred_at", "timestamptz"),
    ("order_id", "text"),
    ("product", "text"),
    ("refund_of", "text"),
    ("fingerprint", "text"),
)
EVENT_FIELDS = tuple(name for name, _type in EVENT_COLUMNS)

# What the projection reads of a player after its totals moved (tier evaluation); "birthday":
# the minors' payment check (services.minors); "person_account_id": the VIP person it
# belongs to (a person's tier counts every linked account). In the model's field order
# (Player.from_db reads the values in that order).
PLAYER_STATE_FIELDS = (
    "id",
    "birthday",
    "total_spend",
    "tier_id",
    "tier_since",
    "tier_pinned_until",
    "tier_below_since",
    "person_account_id",
)
TOTALS_FIELDS = ("total_spend", "purchase_count", "first_paid_at", "last_paid_at")
# What `totals_recompute` returns of a player: the state and the totals, in the model's field order.
RECOMPUTED_FIELDS = (
    "id",
    "birthday",
    *TOTALS_FIELDS,
    "tier_id",
    "tier_since",
    "tier_pinned_until",
    "tier_below_since",
    "person_account_id",
)
# What `projected_write` writes of a deferred player: its totals, and the tier a step may have moved.
PROJECTED_FIELDS = (*TOTALS_FIELDS, "tier_id", "tier_since", "tier_below_since")


def ledger_totals(prefix: str = "") -> dict:
    """The totals a set of ledger rows adds up to, as ORM aggregates: net spend
    (purchases less refunds, in base currency), purchases, first and last purchase.
    `prefix` reaches the payments from another model ("payments__" from Player)."""
    purchase = Q(**{f"{prefix}kind": PaymentKind.PURCHASE})
    refund = Q(**{f"{prefix}kind": PaymentKind.REFUND})
    zero = Value(Decimal(0))
    return {
        "ledger_spend": Coalesce(Sum(f"{prefix}amount_base", filter=purchase), zero)
        - Coalesce(Sum(f"{prefix}amount_base", filter=refund), zero),
        "ledger_count": Count(f"{prefix}id", filter=purchase),
        "ledger_first": Min(f"{prefix}occurred_at", filter=purchase),
        "ledger_last": Max(f"{prefix}occurred_at", filter=purchase),
    }


class AppendedPlayer(NamedTuple):
    """A player an append inserted for, with the birthday the minors' check reads (not a
    model instance: making a thousand of those cost more than the rest of the batch's Python)."""

    pk: int
    birthday: date | None


@dataclass
class Appended:
    """What `append` did: the events inserted ({event_id: (payment id, player id)}) and
    their players, with their birthday (the minors' check)."""

    inserted: dict[str, tuple[int, int]] = field(default_factory=dict)
    players: list[AppendedPlayer] = field(default_factory=list)


def _linked_to_it():
    """Whether other accounts are linked to a player (it is a VIP person's main account),
    as `Player.person_linked` of the players `totals_recompute` returns: with their own
    link (`person_account_id`) the projection knows who is a person of one account
    (`players.selectors.persons.person_alone`) without asking again."""
    return Exists(Player.objects.filter(person_account=OuterRef("pk")))


@dataclass(frozen=True)
class Recomputed:
    """A player locked by `totals_recompute`: `RECOMPUTED_FIELDS` as they are now (the
    totals as the ledger adds them up) and `person_linked`, and the spend before.
    `deferred`: the totals are not written yet; `projected_write` writes them."""

    player: Player
    spend_before: Decimal
    deferred: bool = False

    @property
    def spend_fell(self) -> bool:
        return self.player.total_spend < self.spend_before


@dataclass(frozen=True)
class Claimed:
    """A mark taken by `projection_claim`."""

    player_id: int
    since: datetime
    ledger: bool


class LedgerEngine:
    """The portable statements (the ORM). Writers are serialised on SQLite
    (IMMEDIATE transactions), so looking before inserting is safe there."""

    def append(
        self,
        *,
        events: Sequence[dict],
        source: str,
        source_ref: str,
        actor_id: int | None,
        now: datetime,
        mark: bool = True,
        lock: bool = False,
    ) -> Appended:
        """Insert the events whose account has a player and whose event id is new
        for this source; with `mark`, mark their players "to project"; with `lock`, lock
        their rows (FOR NO KEY UPDATE) for a projection in this transaction
        (`totals_recompute(locked=True)`). `events` are dicts with `EVENT_FIELDS`, with
        distinct event ids."""
        players = {
            account_id: (pk, birthday)
            for account_id, pk, birthday in Player.objects.filter(
                account_id__in={e["account_id"] for e in events}
            ).values_list("account_id", "id", "birthday")
        }
        stored = set(
            Payment.objects.filter(
                source=source, source_ref=source_ref, event_id__in=[e["event_id"] for e in events]
            ).values_list("event_id", flat=True)
        )
        new = [
            Payment(
                player_id=players[e["account_id"]][0],
                source=source,
                source_ref=source_ref,
                received_at=now,
                recorded_by_id=actor_id,
                **{name: e[name] for name in EVENT_FIELDS if name != "account_id"},
            )
            for e in sorted(events, key=lambda e: e["event_id"])
            if e["account_id"] in players and e["event_id"] not in stored
        ]
        if not new:
            return Appended()
        Payment.objects.bulk_create(new, batch_size=500)
        appended = Appended(inserted={p.event_id: (p.pk, p.player_id) for p in new})
        birthdays = dict(players.values())
        ids = sorted({p.player_id for p in new})
        appended.players = [AppendedPlayer(pk, birthdays[pk]) for pk in ids]
        if mark:
            self.projection_mark(player_ids=ids, now=now, ledger=True)
        if lock:
            list(Player.objects.select_for_update(no_key=True).filter(pk__in=ids).order_by("pk").values_list("pk"))
        return appended

    def projection_mark(
        self, *, player_ids: Sequence[int], now: datetime, ledger: bool, only: Only | None = None
    ) -> set[int]:
        """Mark players "to project" (`ledger`: their payments moved): a new mark each,
        beside any they have (an insert only: a writer never waits for a projection that
        holds a player's older marks); the claim takes them together. `only`: of these
        players, those whose row it holds true for. Returns the players marked."""
        ids = sorted(set(player_ids))
        if only is not None:
            rows = self._only(Player.objects.filter(pk__in=ids), only).values_list("pk", "marked")
            ids = [pk for pk, is_marked in rows if is_marked]
        marked = set(ids)
        ProjectionPending.objects.bulk_create(
            [ProjectionPending(player_id=pk, since=now, ledger=ledger) for pk in sorted(marked)], batch_size=500
        )
        return marked

    def accounts_mark(
        self, *, accounts: Sequence[str], now: datetime, ledger: bool, only: Only | None = None
    ) -> tuple[dict[str, int], set[int]]:
        """`projection_mark` for the players of these accounts (distinct account ids):
        ({account id: player id} of those that are players, the players marked: all of
        them, or those `only` holds true for)."""
        players = Player.objects.filter(account_id__in=list(accounts))
        if only is None:
            found = dict(players.values_list("account_id", "id"))
            marked = set(found.values())
        else:
            rows = list(self._only(players, only).values_list("account_id", "id", "marked"))
            found = {account: pk for account, pk, _marked in rows}
            marked = {pk for _account, pk, is_marked in rows if is_marked}
        if marked:
            self.projection_mark(player_ids=list(marked), now=now, ledger=ledger)
        return found, marked

    @staticmethod
    def _only(players, only: Only):
        """These players with `marked`: what `only` says of each row."""
        return players.annotate(marked=RawSQL(only(connection.ops.quote_name(Player._meta.db_table)), (),
                                              output_field=BooleanField()))  # fmt: skip

    def projection_claim(
        self, *, limit: int, player_ids: Sequence[int] | None = None, commit_unflushed: bool = False
    ) -> list[Claimed]:
        """Take (delete), for this transaction, the players of the oldest `limit` marks (of
        `player_ids` only, when given) with every mark of theirs: per player the oldest
        time and whether any mark was a payment's, oldest first. If the transaction rolls
        back, the marks are back. `commit_unflushed` (PostgreSQL): this transaction's
        commit returns before its WAL reaches the disk (synchronous_commit off, for this
        transaction only): a crash may lose it, but then it loses the marks' deletion
        with it (one transaction, one commit record), so the marks are back and the
        projection, recomputed from the ledger, runs again. Only for a transaction that
        writes nothing but the projection (never an accept's)."""
        pending = ProjectionPending.objects.order_by("since", "id")
        if player_ids is not None:
            pending = pending.filter(player_id__in=list(player_ids))
        picked = set(pending.values_list("player_id", flat=True)[:limit])
        marks = list(
            ProjectionPending.objects.filter(player_id__in=picked).values_list("pk", "player_id", "since", "ledger")
        )
        taken: dict[int, Claimed] = {}
        for _pk, player_id, since, ledger in marks:
            seen = taken.get(player_id)
            if seen is not None:
                since, ledger = min(since, seen.since), ledger or seen.ledger
            taken[player_id] = Claimed(player_id, since, ledger)
        ProjectionPending.objects.filter(pk__in=[pk for pk, *_rest in marks]).delete()
        return sorted(taken.values(), key=lambda c: (c.since, c.player_id))

    def projection_lag(self, *, count: bool = True) -> tuple[int | None, datetime | None]:
        """(players marked, or None without `count`; when the oldest mark was made)."""
        if not count:
            return None, ProjectionPending.objects.aggregate(oldest=Min("since"))["oldest"]
        found = ProjectionPending.objects.aggregate(n=Count("player_id", distinct=True), oldest=Min("since"))
        return found["n"], found["oldest"]

    def totals_recompute(
        self, *, player_ids: Sequence[int], ledger_ids: Sequence[int], locked: bool = False, defer: bool = False
    ) -> list[Recomputed]:
        """Lock `player_ids` (sorted) and set the totals of `ledger_ids` among them to
        what the ledger adds up to, writing only rows that differ. `locked`: an earlier
        statement of this transaction locked them (the append's `lock`): the
        recomputation's snapshot begins after that lock was granted all the same.
        `defer`: leave the rows of the players alone among `ledger_ids` (no person of
        several accounts: nobody else's tier reads their totals from the table) unwritten,
        `deferred`, for `projected_write` after the projection's steps."""
        ids = sorted(set(player_ids))
        rows = list(
            Player.objects.select_for_update(no_key=True)
            .filter(pk__in=ids)
            .order_by("pk")
            .only(*RECOMPUTED_FIELDS)
            .annotate(person_linked=_linked_to_it())
        )
        recount = {int(pk) for pk in ledger_ids}
        ledger = {
            row["pk"]: (row["ledger_spend"], row["ledger_count"], row["ledger_first"], row["ledger_last"])
            for row in Player.objects.filter(pk__in=sorted(recount & set(ids)))
            .values("pk")
            .annotate(**ledger_totals("payments__"))
            .order_by()
        }
        recomputed = []
        for player in rows:
            before = player.total_spend
            deferred = defer and player.pk in ledger and player.person_account_id is None and not player.person_linked
            if player.pk in ledger:
                totals = ledger[player.pk]
                if tuple(getattr(player, name) for name in TOTALS_FIELDS) != totals:
                    if not deferred:
                        Player.objects.filter(pk=player.pk).update(**dict(zip(TOTALS_FIELDS, totals, strict=True)))
                    for name, value in zip(TOTALS_FIELDS, totals, strict=True):
                        setattr(player, name, value)
            recomputed.append(Recomputed(player=player, spend_before=before, deferred=deferred))
        return recomputed

    def projected_write(self, *, players: Sequence[Player]) -> None:
        """Write the rows `totals_recompute(defer=True)` left (`deferred`): `PROJECTED_FIELDS`
        as these objects hold them (the totals, and the tier a step moved), where they
        differ: one write per player per round."""
        for player in players:
            values = {name: getattr(player, name) for name in PROJECTED_FIELDS}
            Player.objects.filter(pk=player.pk).exclude(**values).update(**values)

    def last_logins_move(self, *, pairs: Sequence[tuple[int, datetime]]) -> set[int]:
        """(player id, login time) sorted by id -> the ids whose last login moved."""
        moved = set()
        for pk, at in pairs:
            if Player.objects.filter(Q(last_login_at__isnull=True) | Q(last_login_at__lt=at), pk=pk).update(
                last_login_at=at
            ):
                moved.add(pk)
        return moved


_PENDING = ProjectionPending._meta.db_table

# The events' values as the append's JSON parameter: msgspec writes Decimal as a string
# ("6.00") and an aware datetime in RFC 3339, both as PostgreSQL casts them back; 0.2 ms
# for a thousand events where json.dumps(default=str) took 7-8 ms (its fallback is called
# three times per event). Anything else falls back to str, as before.
_events_encoder = msgspec.json.Encoder(enc_hook=str)


def _events_json(rows: list) -> str:
    return _events_encoder.encode(rows).decode()  # text: bytes would be sent as bytea


def _append_sql(mark: bool, lock: bool) -> str:
    return (
        "WITH d AS (SELECT "
        + ", ".join(f"(e->>{i})::{kind} AS {name}" for i, (name, kind) in enumerate(EVENT_COLUMNS))
        + " FROM json_array_elements(%s::json) AS e),"
        f" src AS MATERIALIZED (SELECT p.id AS player_id, p.birthday, d.* FROM d"
        f" JOIN {Player._meta.db_table} p ON p.account_id = d.account_id"
        # a single event's player, locked for its projection in the same transaction: one round
        # trip less than a statement of its own (the projection's snapshot still starts after it)
         + (" ORDER BY p.id FOR NO KEY UPDATE OF p" if lock else "") + "),"
        f" new AS (INSERT INTO {Payment._meta.db_table} (player_id, source, source_ref, "
        + ", ".join(name for name in EVENT_FIELDS if name != "account_id")
        + ", received_at, recorded_by_id)"
        " SELECT src.player_id, %s::text, %s::text, "
        + ", ".join(f"src.{name}" for name in EVENT_FIELDS if name != "account_id")
        + ", %s::timestamptz, %s::bigint FROM src"
        " ORDER BY src.event_id"  # one lock order for concurrent batches
        " ON CONFLICT (source, source_ref, event_id) DO NOTHING"
        " RETURNING id, player_id, event_id)"
        + (
            # the players "to project": a new mark each, never a wait (a projection taking this
            # player's older marks does not see this one before this transaction commits, and a
            # later round takes it)
            f", mark AS (INSERT INTO {_PENDING} (player_id, since, ledger)"
            " SELECT DISTINCT player_id, %s::timestamptz, TRUE FROM new)"
            if mark
            else ""
        )
        + " SELECT n.player_id, s.birthday, array_agg(n.id), array_agg(n.event_id)"
        " FROM new n JOIN src s ON s.event_id = n.event_id GROUP BY n.player_id, s.birthday ORDER BY n.player_id"
    )


def _purchase(column: str) -> str:
    return f"{column} = '{PaymentKind.PURCHASE}'"


# ledger_totals, in SQL: the same rule (the parity test holds them together). `{scope}` is
# a condition on a player-id column written `{col}`.
_TOTALS_SQL = (
    "SELECT pay.player_id,"
    f" SUM(CASE WHEN {_purchase('pay.kind')} THEN pay.amount_base ELSE -pay.amount_base END) AS spend,"
    f" COUNT(*) FILTER (WHERE {_purchase('pay.kind')}) AS n,"
    f" MIN(pay.occurred_at) FILTER (WHERE {_purchase('pay.kind')}) AS first,"
    f" MAX(pay.occurred_at) FILTER (WHERE {_purchase('pay.kind')}) AS last"
    f" FROM {Payment._meta.db_table} pay WHERE {{ledger_scope}} GROUP BY pay.player_id"
)


@functools.cache
def _recompute_sql(scope: str, ledger_scope: str) -> str:
    """Lock the players (in id order), recompute the ledger players' totals, write those
    that differ (but the deferred: `%(defer)s` and alone); return each locked player's
    state (`RECOMPUTED_FIELDS`, the totals as recomputed), whether others are linked to
    it, the spend before and whether its write is deferred. One statement, one snapshot:
    the rows were locked by it, and a payment committed after its snapshot has marked
    its player again."""
    table = Player._meta.db_table
    return (
        f"WITH lk AS (SELECT p.id, p.birthday, p.tier_id, p.tier_since, p.tier_pinned_until, p.tier_below_since,"
        f" p.person_account_id, p.total_spend, p.purchase_count, p.first_paid_at, p.last_paid_at,"
        # person_linked (the partial index player_person_linked: a probe of an index of the
        # few linked accounts)
        f" EXISTS (SELECT 1 FROM {table} l WHERE l.person_account_id = p.id) AS linked FROM {table} p"
        f" WHERE {scope.format(col='p.id')} ORDER BY p.id FOR NO KEY UPDATE OF p),"
        f" agg AS ({_TOTALS_SQL.format(ledger_scope=ledger_scope.format(col='pay.player_id'))}),"
        " tot AS (SELECT lk.id, COALESCE(agg.spend, 0) AS spend, COALESCE(agg.n, 0) AS n, agg.first, agg.last,"
        " (%(defer)s::boolean AND lk.person_account_id IS NULL AND NOT lk.linked) AS deferred"
        f" FROM lk LEFT JOIN agg ON agg.player_id = lk.id WHERE {ledger_scope.format(col='lk.id')}),"
        f" upd AS (UPDATE {table} p SET total_spend = tot.spend, purchase_count = tot.n,"
        # the rows to write by an array of their ids: tot is read twice (here and below), so it is
        # materialized, and its row estimate (a join of a CTE) would have the planner hash the
        # whole players table to find them
        " first_paid_at = tot.first, last_paid_at = tot.last FROM tot"
        " WHERE p.id = ANY(ARRAY(SELECT tot.id FROM tot WHERE NOT tot.deferred)) AND p.id = tot.id"
        " AND (p.total_spend, p.purchase_count, p.first_paid_at, p.last_paid_at)"
        " IS DISTINCT FROM (tot.spend, tot.n, tot.first, tot.last))"
        # RECOMPUTED_FIELDS, then person_linked, the spend before and deferred
        " SELECT lk.id, lk.birthday, COALESCE(tot.spend, lk.total_spend),"
        " CASE WHEN tot.id IS NULL THEN lk.purchase_count ELSE tot.n END,"
        " CASE WHEN tot.id IS NULL THEN lk.first_paid_at ELSE tot.first END,"
        " CASE WHEN tot.id IS NULL THEN lk.last_paid_at ELSE tot.last END,"
        " lk.tier_id, lk.tier_since, lk.tier_pinned_until, lk.tier_below_since, lk.person_account_id,"
        " lk.linked, lk.total_spend, COALESCE(tot.deferred, FALSE)"
        " FROM lk LEFT JOIN tot ON tot.id = lk.id ORDER BY lk.id"
    )


# projected_write: the deferred rows, from one array per column (id, then PROJECTED_FIELDS), where they differ.
_PROJECTED_WRITE_SQL = (
    f"UPDATE {Player._meta.db_table} p SET total_spend = d.spend, purchase_count = d.n, first_paid_at = d.first,"
    " last_paid_at = d.last, tier_id = d.tier_id, tier_since = d.tier_since, tier_below_since = d.below"
    " FROM unnest(%s::bigint[], %s::numeric[], %s::integer[], %s::timestamptz[], %s::timestamptz[], %s::bigint[],"
    " %s::timestamptz[], %s::timestamptz[]) AS d(id, spend, n, first, last, tier_id, tier_since, below)"
    " WHERE p.id = d.id AND (p.total_spend, p.purchase_count, p.first_paid_at, p.last_paid_at, p.tier_id,"
    " p.tier_since, p.tier_below_since) IS DISTINCT FROM (d.spend, d.n, d.first, d.last, d.tier_id, d.tier_since,"
    " d.below)"
)


@functools.cache
def _lock_sql(scope: str) -> str:
    return (
        f"SELECT p.id FROM {Player._meta.db_table} p WHERE {scope.format(col='p.id')} ORDER BY p.id FOR NO KEY UPDATE"
    )


# The players of the oldest `limit` marks (SKIP LOCKED: workers share the work), and every
# mark of theirs this snapshot sees, deleted; per player the oldest time and whether any
# mark was a payment's. A mark committed after the snapshot stays for a later round.
_CLAIM_SQL = (
    f"WITH picked AS (SELECT DISTINCT player_id FROM (SELECT player_id FROM {_PENDING} {{where}}"
    " ORDER BY since LIMIT %b FOR UPDATE SKIP LOCKED) o),"
    f" gone AS (DELETE FROM {_PENDING} WHERE id IN (SELECT id FROM {_PENDING}"
    " WHERE player_id IN (SELECT player_id FROM picked) FOR UPDATE SKIP LOCKED)"
    " RETURNING player_id, since, ledger)"
    " SELECT player_id, MIN(since), BOOL_OR(ledger) FROM gone GROUP BY player_id"
)


class PostgresLedgerEngine(LedgerEngine):
    """The same rules in PostgreSQL statements: `append` is one prepared statement
    (INSERT ... ON CONFLICT DO NOTHING, the unique constraint deciding between
    concurrent copies; the marks in the same statement), for one event or a thousand
    (the events as one JSON parameter); `totals_recompute` is one statement, prepared
    for one player, planned for a batch's."""

    def append(self, *, events, source, source_ref, actor_id, now, mark=True, lock=False) -> Appended:
        # One JSON parameter, whatever the number of events: cheaper to send than an
        # array per column for one event, and as cheap for a thousand.
        values = _events_json([[e[name] for name in EVENT_FIELDS] for e in events])
        params = [values, source, source_ref, now, actor_id, *([now] if mark else [])]
        rows = prepared_fetchall(_append_statement(mark, lock), params)
        appended = Appended()
        for player_id, birthday, payment_ids, event_ids in rows:
            appended.players.append(AppendedPlayer(player_id, birthday))
            appended.inserted.update(zip(event_ids, ((pk, player_id) for pk in payment_ids), strict=True))
        return appended

    def projection_mark(self, *, player_ids, now, ledger, only=None) -> set[int]:
        ids = sorted(set(player_ids))
        with server_cursor() as cursor:
            if only is None:
                cursor.execute(
                    f"INSERT INTO {_PENDING} (player_id, since, ledger)"
                    " SELECT id, %b::timestamptz, %b::boolean FROM unnest(%b::bigint[]) AS u(id)",
                    [now, ledger, ids],
                )
                return set(ids)
            cursor.execute(
                f"INSERT INTO {_PENDING} (player_id, since, ledger)"
                f" SELECT p.id, %b::timestamptz, %b::boolean FROM {Player._meta.db_table} p"
                f" WHERE p.id = ANY(%b::bigint[]) AND {only('p')} RETURNING player_id",
                [now, ledger, ids],
            )
            return {pk for (pk,) in cursor.fetchall()}

    def accounts_mark(self, *, accounts, now, ledger, only=None) -> tuple[dict[str, int], set[int]]:
        # Finding the players and marking them in one statement (a data-modifying CTE always
        # runs to its end): one round trip, and no thousand account ids quoted into the SQL.
        with server_cursor() as cursor:
            cursor.execute(
                f"WITH p AS MATERIALIZED (SELECT p.id, p.account_id, {only('p') if only else 'TRUE'} AS marked"
                f" FROM {Player._meta.db_table} p JOIN unnest(%b::text[]) AS u(a) ON p.account_id = u.a),"
                f" m AS (INSERT INTO {_PENDING} (player_id, since, ledger)"
                " SELECT DISTINCT id, %b::timestamptz, %b::boolean FROM p WHERE marked)"
                " SELECT account_id, id, marked FROM p",
                [list(accounts), now, ledger],
            )
            rows = cursor.fetchall()
        return {account: pk for account, pk, _marked in rows}, {pk for _account, pk, marked in rows if marked}

    def projection_claim(self, *, limit, player_ids=None, commit_unflushed=False) -> list[Claimed]:
        with server_cursor() as settings_cursor, server_cursor() as cursor:
            with connection.connection.pipeline():  # one round trip
                if commit_unflushed:
                    settings_cursor.execute("SET LOCAL synchronous_commit = off")
                if player_ids is None:
                    cursor.execute(_CLAIM_SQL.format(where=""), [limit])
                else:
                    cursor.execute(
                        _CLAIM_SQL.format(where="WHERE player_id = ANY(%b::bigint[])"),
                        [sorted(set(player_ids)), limit],
                    )
            return sorted((Claimed(*row) for row in cursor.fetchall()), key=lambda c: (c.since, c.player_id))

    def projection_lag(self, *, count=True) -> tuple[int | None, datetime | None]:
        with connection.cursor() as cursor:
            # The oldest through the index; the count reads the table (it holds only the marks
            # not yet projected: at most those of a burst), so only when asked.
            counted = f"(SELECT COUNT(DISTINCT player_id) FROM {_PENDING})" if count else "NULL"
            cursor.execute(f"SELECT {counted}, (SELECT MIN(since) FROM {_PENDING})")
            return cursor.fetchone()

    def totals_recompute(self, *, player_ids, ledger_ids, locked=False, defer=False) -> list[Recomputed]:
        ids = sorted({int(pk) for pk in player_ids})
        recount = sorted({int(pk) for pk in ledger_ids} & set(ids))
        # The rows are locked by a statement before this one (of their own, or the append's):
        # the recomputation's snapshot must begin after the lock is granted, so that it sees
        # the payment of a writer it waited for (a single event, which projects itself and
        # leaves no mark).
        if len(ids) == 1:
            # One player (a single event): scalar parameters, so the prepared statement's
            # generic plan is the custom one (players.services.prepared).
            params = {"id": ids[0], "ledger_id": recount[0] if recount else 0, "defer": defer}
            if not locked:
                prepared_fetchall(_lock_sql("{col} = %(id)s"), params)
            rows = prepared_fetchall(_recompute_sql("{col} = %(id)s", "{col} = %(ledger_id)s"), params)
        else:
            scope = "{col} = ANY(%(ids)s::bigint[])"
            rows = planned_fetchall(
                _recompute_sql(scope, "{col} = ANY(%(ledger_ids)s::bigint[])"),
                {"ids": ids, "ledger_ids": recount, "defer": defer},
                first=None if locked else _lock_sql(scope),
            )
        recomputed = []
        for *state, linked, before, deferred in rows:
            player = _player_loaded(state)
            player.person_linked = linked
            recomputed.append(Recomputed(player=player, spend_before=before, deferred=deferred))
        return recomputed

    def projected_write(self, *, players) -> None:
        if not players:
            return
        columns = [[getattr(p, name) for p in players] for name in ("pk", *PROJECTED_FIELDS)]
        with server_cursor() as cursor:
            cursor.execute(_PROJECTED_WRITE_SQL, columns)

    def last_logins_move(self, *, pairs) -> set[int]:
        with server_cursor() as cursor:
            cursor.execute(
                f"UPDATE {Player._meta.db_table} AS p SET last_login_at = d.at"
                " FROM unnest(%b::bigint[], %b::timestamptz[]) AS d(id, at)"
                " WHERE p.id = d.id AND (p.last_login_at IS NULL OR p.last_login_at < d.at) RETURNING p.id",
                [[pk for pk, _at in pairs], [at for _pk, at in pairs]],
            )
            return {pk for (pk,) in cursor.fetchall()}


def _player_loaded(values: Sequence) -> Player:
    """`Player.from_db(DEFAULT_DB_ALIAS, RECOMPUTED_FIELDS, values)` (the prepared
    statements' connection): the other fields deferred, loaded if asked for. Without
    `Model.__init__`'s pass over Player's 33 fields, which cost ~40 µs of a single
    event's Python, when nothing listens to a Player's init (else from_db itself)."""
    if signals.pre_init.has_listeners(Player) or signals.post_init.has_listeners(Player):
        return Player.from_db(DEFAULT_DB_ALIAS, RECOMPUTED_FIELDS, values)
    player = Player.__new__(Player)
    state = player._state = ModelState()
    state.adding, state.db = False, DEFAULT_DB_ALIAS
    player.__dict__.update(zip(RECOMPUTED_FIELDS, values, strict=True))  # attribute names: tier_id, not tier
    return player


@functools.cache
def _append_statement(mark: bool, lock: bool) -> str:
    return _append_sql(mark, lock)


_ENGINES = {"postgresql": PostgresLedgerEngine()}
_PORTABLE = LedgerEngine()


def ledger_engine() -> LedgerEngine:
    """The engine for the database in use: the one place that asks which it is."""
    return _engine_for(connection_vendor())


@functools.cache
def _engine_for(vendor: str) -> LedgerEngine:
    return _ENGINES.get(vendor, _PORTABLE)
