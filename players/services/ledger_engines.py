"""The ledger's statements, per database engine, behind one interface.

`ledger_engine()` is the one place that chooses: `PostgresLedgerEngine` on PostgreSQL,
`LedgerEngine` (portable, the ORM) elsewhere. Both implement the same rules, and
`players/tests/test_services_ledger_engines.py` runs both over the same cases (on
PostgreSQL it compares the PostgreSQL statements with the portable ones):

- `append`: insert new payment events (exactly once per (source, source_ref,
  event_id): a repeat is not inserted) and fold them into their players' totals
  (`ledger_totals`: net spend, purchase count, first and last purchase). On PostgreSQL
  this is one prepared statement for one event or a thousand.
- `last_logins_move`: move players' last login forward, never backward.

Nothing else inserts into the Payment table (`players.services.ledger` calls
`append`), and the totals rule is written here only: `ledger_totals` (the ORM, also
used by the rebuild) and its mirror in `_append_sql`.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db import connection
from django.db.models import Count, F, Max, Min, Q, Sum, Value
from django.db.models.functions import Coalesce, Greatest, Least

from ..models import Payment, PaymentKind, Player
from .prepared import prepared_fetchall, server_cursor

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

# What the projection reads of a player after its totals moved (tier evaluation).
# "birthday": the minors' payment check (services.minors) reads it from the same row.
# In the model's field order (Player.from_db reads the values in that order).
PLAYER_STATE_FIELDS = (
    "id",
    "birthday",
    "total_spend",
    "tier_id",
    "tier_since",
    "tier_pinned_until",
    "tier_below_since",
    "birthday",
)


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


@dataclass
class Appended:
    """What `append` did: the events inserted ({event_id: (payment id, player id)}) and
    the players whose totals moved, with `PLAYER_STATE_FIELDS` loaded as they are now.
    `tiers` (lowest first) when the engine read them in the same statement."""

    inserted: dict[str, tuple[int, int]] = field(default_factory=dict)
    players: list[Player] = field(default_factory=list)
    tiers: list | None = None


class LedgerEngine:
    """The portable statements (the ORM). Writers are serialised on SQLite
    (IMMEDIATE transactions), so looking before inserting is safe there."""

    def append(
        self, *, events: Sequence[dict], source: str, source_ref: str, actor_id: int | None, now: datetime
    ) -> Appended:
        """Insert the events whose account has a player and whose event id is new
        for this source; fold them into the totals. `events` are dicts with
        `EVENT_FIELDS`, with distinct event ids."""
        players = dict(
            Player.objects.filter(account_id__in={e["account_id"] for e in events}).values_list("account_id", "id")
        )
        stored = set(
            Payment.objects.filter(
                source=source, source_ref=source_ref, event_id__in=[e["event_id"] for e in events]
            ).values_list("event_id", flat=True)
        )
        new = [
            Payment(
                player_id=players[e["account_id"]],
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
        deltas = (
            Payment.objects.filter(pk__in=[p.pk for p in new])
            .values("player_id")
            .annotate(**ledger_totals())
            .order_by("player_id")
        )
        for delta in deltas:
            moved = {
                "total_spend": F("total_spend") + delta["ledger_spend"],
                "purchase_count": F("purchase_count") + delta["ledger_count"],
            }
            if delta["ledger_first"] is not None:
                first, last = Value(delta["ledger_first"]), Value(delta["ledger_last"])
                moved["first_paid_at"] = Least(Coalesce(F("first_paid_at"), first), first)
                moved["last_paid_at"] = Greatest(Coalesce(F("last_paid_at"), last), last)
            Player.objects.filter(pk=delta["player_id"]).update(**moved)
        appended.players = list(
            Player.objects.filter(pk__in={p.player_id for p in new}).only(*PLAYER_STATE_FIELDS).order_by("pk")
        )
        return appended

    def last_logins_move(self, *, pairs: Sequence[tuple[int, datetime]]) -> set[int]:
        """(player id, login time) sorted by id -> the ids whose last login moved."""
        moved = set()
        for pk, at in pairs:
            if Player.objects.filter(Q(last_login_at__isnull=True) | Q(last_login_at__lt=at), pk=pk).update(
                last_login_at=at
            ):
                moved.add(pk)
        return moved


def _append_sql(tier_table: str) -> str:
    return (
        "WITH d AS (SELECT "
        + ", ".join(f"(e->>{i})::{kind} AS {name}" for i, (name, kind) in enumerate(EVENT_COLUMNS))
        + " FROM json_array_elements(%s::json) AS e),"
        f" new AS (INSERT INTO {Payment._meta.db_table} (player_id, source, source_ref, "
        + ", ".join(name for name in EVENT_FIELDS if name != "account_id")
        + ", received_at, recorded_by_id)"
        " SELECT p.id, %s::text, %s::text, "
        + ", ".join(f"d.{name}" for name in EVENT_FIELDS if name != "account_id")
        + f", %s::timestamptz, %s::bigint FROM d JOIN {Player._meta.db_table} p ON p.account_id = d.account_id"
        " ORDER BY d.event_id"  # one lock order for concurrent batches
        " ON CONFLICT (source, source_ref, event_id) DO NOTHING"
        " RETURNING id, player_id, event_id, kind, amount_base, occurred_at),"
        # ledger_totals, in SQL: the same rule (the parity test holds them together)
        f" delta AS (SELECT player_id,"
        f" SUM(CASE WHEN kind = '{PaymentKind.PURCHASE}' THEN amount_base ELSE -amount_base END) AS spend,"
        f" COUNT(*) FILTER (WHERE kind = '{PaymentKind.PURCHASE}') AS n,"
        f" MIN(occurred_at) FILTER (WHERE kind = '{PaymentKind.PURCHASE}') AS first,"
        f" MAX(occurred_at) FILTER (WHERE kind = '{PaymentKind.PURCHASE}') AS last,"
        " array_agg(id) AS ids, array_agg(event_id) AS events FROM new GROUP BY player_id ORDER BY player_id)"
        f" UPDATE {Player._meta.db_table} AS p SET total_spend = p.total_spend + delta.spend,"
        " purchase_count = p.purchase_count + delta.n,"
        " first_paid_at = LEAST(p.first_paid_at, delta.first),"  # LEAST and GREATEST skip NULLs
        " last_paid_at = GREATEST(p.last_paid_at, delta.last)"
        " FROM delta WHERE p.id = delta.player_id"
        " RETURNING " + ", ".join(f"p.{name}" for name in PLAYER_STATE_FIELDS) + ", delta.ids, delta.events,"
        " (SELECT json_agg(json_build_array(t.id, t.name, t.level, t.min_spend::text, t.window_days,"
        " t.downgrade_grace_days) ORDER BY t.level) FROM " + tier_table + " t)"
    )


@functools.cache
def _append_statement() -> str:
    return _append_sql(_tier_model()._meta.db_table)


def _tier_model():
    """vip's Tier, reached through the player's own foreign key (players cannot import
    vip: apps depend one way)."""
    return Player._meta.get_field("tier").related_model


class PostgresLedgerEngine(LedgerEngine):
    """The same rules in PostgreSQL statements: `append` is one prepared statement
    (INSERT ... ON CONFLICT DO NOTHING, the unique constraint deciding between
    concurrent copies; the totals moved in the same statement, which also returns the
    tiers), for one event or a thousand (the events as one JSON parameter)."""

    def append(self, *, events, source, source_ref, actor_id, now) -> Appended:
        # One JSON parameter, whatever the number of events: cheaper to send than an
        # array per column for one event, and as cheap for a thousand.
        values = json.dumps([[e[name] for name in EVENT_FIELDS] for e in events], default=str)
        rows = prepared_fetchall(_append_statement(), [values, source, source_ref, now, actor_id])
        appended = Appended()
        for *state, payment_ids, event_ids, _tiers in rows:
            appended.players.append(Player.from_db(connection.alias, PLAYER_STATE_FIELDS, state))
            appended.inserted.update(zip(event_ids, ((pk, state[0]) for pk in payment_ids), strict=True))
        if rows:  # every row carries the same tiers
            appended.tiers = _tiers_from_rows(tuple(tuple(row) for row in rows[0][-1] or ()))
        return appended

    def last_logins_move(self, *, pairs) -> set[int]:
        with server_cursor() as cursor:
            cursor.execute(
                f"UPDATE {Player._meta.db_table} AS p SET last_login_at = d.at"
                " FROM unnest(%b::bigint[], %b::timestamptz[]) AS d(id, at)"
                " WHERE p.id = d.id AND (p.last_login_at IS NULL OR p.last_login_at < d.at) RETURNING p.id",
                [[pk for pk, _at in pairs], [at for _pk, at in pairs]],
            )
            return {pk for (pk,) in cursor.fetchall()}


@functools.lru_cache(maxsize=16)
def _tiers_from_rows(rows: tuple) -> list:
    """Tier objects from the rows the append statement returns, made once per distinct
    configuration in this process (the statement reads the tiers afresh every time, so
    an edit counts at once; only the objects are reused, never changed)."""
    return [
        _tier_model().from_db(
            connection.alias,
            ["id", "name", "level", "min_spend", "window_days", "downgrade_grace_days"],
            [pk, name, level, Decimal(spend), window, grace],
        )
        for pk, name, level, spend, window, grace in rows
    ]


_ENGINES = {"postgresql": PostgresLedgerEngine()}
_PORTABLE = LedgerEngine()


def ledger_engine() -> LedgerEngine:
    """The engine for the database in use: the one place that asks which it is."""
    return _ENGINES.get(connection.vendor, _PORTABLE)
