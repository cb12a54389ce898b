"""Payer status and churn risk: the one place where the churn rules run.

The rules and the score are documented in ``players.models.payer_status``; the reasons a
payer is at risk (their SQL, labels and weights) are a registry,
``players.churn_reasons``, from which the evaluation's flags and score and the
stored columns below are built. What differs between PostgreSQL and SQLite (a few
spellings, how the statements reach the server) is the ``Dialect`` object below,
chosen by ``dialect()``. One code path serves both entry points:

- ``payer_status_refresh(player_ids=..., now=...)``: after a payment, refund or
  login, for the players concerned (a few statements, whatever their number);
- ``churn_scan(now=...)``: nightly, over every player, in batches of player ids.

Each refresh is set-based SQL that runs unchanged on PostgreSQL and SQLite
(window functions, aggregates, UPDATE ... FROM, INSERT ... ON CONFLICT):

1. evaluate the players into a session-local temporary table ``churn_eval``
   (median gap between purchases with LAG + ROW_NUMBER, the two spend windows with
   conditional sums, the reasons, the status and the score);
2. UPDATE the players whose status changes, guarded by the figures the evaluation
   read (a payment committed meanwhile is not overwritten with an older verdict);
3. INSERT one PayerStatusChange per changed player;
4. upsert ``PlayerChurn`` where a figure changed (an unchanged row is not written,
   so a second scan at the same instant writes nothing: idempotent).

On PostgreSQL the event path runs the same evaluation and the same three writes as
one statement (data-modifying CTEs, ``_event_path_sql``): for one player a prepared
statement that runs on one generic plan per connection (planning the evaluation
costs several times what running it for one player does, and the temporary table,
emptied at each commit, would make PostgreSQL plan it again every time); for a
batch, planned for its players. One snapshot for the evaluation and the writes
is sound there because every caller holds the players' row locks (it has just
written their totals or last login). The nightly scan keeps the temporary table and
the guards above, since it runs beside payments it does not lock out.

Locks are taken in the same order as a payment takes them (player row, then its
churn row), so the scan and concurrent payments wait for each other rather than
deadlock.
"""

from __future__ import annotations

import functools
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Max, Min, Q, Sum
from django.utils import timezone

from ..churn_reasons import Reason, reasons
from ..models import PayerStatus, Player
from ..models.payer_status import (
    ChurnRule,
    ChurnSnapshot,
    PayerStatusTrigger,
    PlayerChurn,
)
from ..selectors.persons import person_basis, persons_only_q
from .prepared import planned_fetchone, prepared_fetchone

log = logging.getLogger(__name__)

SCAN_BATCH_SIZE = 50_000  # player ids per transaction in the nightly scan
IN_CHUNK = 500  # ids per IN (...) list on the event path (SQLite)
ANY_CHUNK = 5_000  # ids per array parameter on the event path (PostgreSQL)
RULES_MEMO_SECONDS = 30  # how long the event path may use rules edited in another process

_rules_memo: tuple[float, dict[int, dict]] | None = None


# --- rules ------------------------------------------------------------------


def churn_rules_effective(*, fresh: bool = False) -> dict[int, dict]:
    """{0: global rule, tier_id: rule for that tier} with every value filled in:
    a tier row's empty values come from the global row, the global row's from the
    documented defaults.

    The event path runs for every payment and login, so the rules are kept in this
    process for RULES_MEMO_SECONDS (an edit in this process forgets them at once, see
    `churn_rules_forget`); the nightly scan asks for `fresh` ones."""
    global _rules_memo
    if not fresh and _rules_memo is not None and time.monotonic() - _rules_memo[0] < RULES_MEMO_SECONDS:
        return _rules_memo[1]
    rules = _churn_rules_read()
    _rules_memo = (time.monotonic(), rules)
    return rules


def churn_rules_forget(**_signal_kwargs) -> None:
    """Drop this process's copy of the rules (connected to ChurnRule saves and deletes)."""
    global _rules_memo
    _rules_memo = None


def _churn_rules_read() -> dict[int, dict]:
    rows = list(ChurnRule.objects.all())
    global_rule = dict(ChurnRule.DEFAULTS)
    for row in rows:
        if row.tier_id is None:
            global_rule.update({f: getattr(row, f) for f in ChurnRule.RULE_FIELDS if getattr(row, f) is not None})
    rules = {0: global_rule}
    for row in rows:
        if row.tier_id is not None:
            rules[row.tier_id] = {
                f: getattr(row, f) if getattr(row, f) is not None else global_rule[f] for f in ChurnRule.RULE_FIELDS
            }
    return rules


# The rules in SQL: (name in the evaluation, as ev.<name>; ChurnRule field; number type).
RULE_COLUMNS = (
    ("churn_days", "churn_after_days", int),
    ("gap_mult", "gap_multiplier", float),
    ("min_gap", "min_gap_days", int),
    ("window_days", "spend_window_days", int),
    ("drop_ratio", "spend_drop_ratio", float),
    ("no_login", "no_login_days", int),
)


def _rules_values(rules: dict[int, dict]) -> str:
    """The rules as a VALUES list (tier id, then RULE_COLUMNS). Every value is a
    validated int or Decimal, turned into a number literal here, so nothing
    user-typed reaches the SQL text. Written once per rules read: the event path asks
    with the same `churn_rules_effective` dict at every payment (never changed once
    read; an edit reads a new one), and writing it cost ~25 µs of each."""
    global _rules_values_memo
    memo = _rules_values_memo
    if memo is not None and memo[0] is rules:
        return memo[1]
    values = ", ".join(
        f"({', '.join(str(v) for v in (int(key), *(kind(r[field]) for _n, field, kind in RULE_COLUMNS)))})"
        for key, r in sorted(rules.items())
    )
    _rules_values_memo = (rules, values)
    return values


_rules_values_memo: tuple[dict, str] | None = None


# --- the engines: what differs between PostgreSQL and SQLite, in this one place ------


@dataclass
class RefreshResult:
    evaluated: int = 0
    changed: int = 0
    transitions: dict = field(default_factory=dict)  # "from→to" -> count

    def add(self, other: RefreshResult) -> None:
        self.evaluated += other.evaluated
        self.changed += other.changed
        for key, n in other.transitions.items():
            self.transitions[key] = self.transitions.get(key, 0) + n


@dataclass(frozen=True)
class _Statements:
    """One refresh through the work table: evaluate into it, then the three writes."""

    work_table: list[str]
    evaluate: str
    update_players: str
    record_changes: str
    upsert: str


_TRANSITIONS_SQL = (
    "SELECT old_status, status, COUNT(*) FROM churn_eval WHERE status <> old_status GROUP BY old_status, status"
)


class Dialect:
    """The few SQL spellings that differ between the engines, and how a refresh reaches
    the server. The rules and the statements are the same on both; `dialect()` picks
    the engine's object, the only place this module asks which engine runs."""

    vendor = ""
    temp_table_options = ""  # appended to CREATE TEMP TABLE churn_eval
    parallel_scan = False  # may the nightly scan run batches at once, one connection each?

    def ts(self, param: str) -> str:
        raise NotImplementedError

    def days(self, start: str, end: str) -> str:
        """Days from `start` to `end`, as a fraction."""
        raise NotImplementedError

    def greatest(self, a: str, b: str) -> str:
        raise NotImplementedError

    def least(self, a: str, b: str) -> str:
        raise NotImplementedError

    def same(self, a: str, b: str) -> str:
        raise NotImplementedError

    def differs(self, a: str, b: str) -> str:
        raise NotImplementedError

    def round_int(self, expr: str) -> str:
        """Half up, for the non-negative scores: both engines, same result."""
        raise NotImplementedError

    def event_batches(self, ids: list[int]):
        """(scope, its parameters, event path) per batch of `ids` for payer_status_refresh;
        the event path is None (the work table) or what `run_event` takes."""
        raise NotImplementedError

    def run_event(self, statement: str, params: dict, event_path: str) -> RefreshResult:
        raise NotImplementedError(f"{self.vendor} has no one-statement event path")

    def run(self, sql: _Statements, params: dict) -> RefreshResult:
        """The refresh through the work table (the nightly scan; every refresh on SQLite)."""
        raise NotImplementedError


class _PostgreSQL(Dialect):
    vendor = "postgresql"
    temp_table_options = " ON COMMIT DELETE ROWS"
    parallel_scan = True

    def ts(self, param):
        return f"CAST(%({param})s AS timestamptz)"

    def days(self, start, end):
        return f"(EXTRACT(EPOCH FROM ({end} - {start})) / 86400.0)"

    def greatest(self, a, b):
        return f"GREATEST({a}, {b})"

    def least(self, a, b):
        return f"LEAST({a}, {b})"

    def same(self, a, b):
        return f"({a} IS NOT DISTINCT FROM {b})"

    def differs(self, a, b):
        return f"({a} IS DISTINCT FROM {b})"

    def round_int(self, expr):
        return f"CAST(FLOOR({expr} + 0.5) AS integer)"

    def event_batches(self, ids):
        if len(ids) == 1:
            # A payment or a login: one scalar id, so the prepared statement's generic plan
            # is the one a custom plan would be (see players.services.prepared).
            yield "{col} = %(id)s", {"id": ids[0]}, "prepared"
            return
        # One array parameter, whatever the number of players (a batch is at most 1,000);
        # planned for its players: planning is a small share of a batch's work.
        for start in range(0, len(ids), ANY_CHUNK):
            yield "{col} = ANY(%(ids)s::bigint[])", {"ids": ids[start : start + ANY_CHUNK]}, "planned"

    def run_event(self, statement, params, event_path):
        """The evaluation and the writes as one statement (`_event_path_sql`): "prepared"
        once per connection for one player, "planned" for a batch's players."""
        run = prepared_fetchone if event_path == "prepared" else planned_fetchone
        evaluated, changed, transitions = run(statement, params)
        return RefreshResult(
            evaluated=evaluated, changed=changed, transitions={f"{a}→{b}": n for a, b, n in transitions or []}
        )

    def run(self, sql, params):
        statements = [
            # The planner's estimates for these CTEs are huge; JIT would spend
            # milliseconds compiling a query that runs in less.
            "SET LOCAL jit = off",
            *sql.work_table,
            sql.evaluate,
            sql.update_players,
            sql.record_changes,
            sql.upsert,
            _TRANSITIONS_SQL,
        ]
        rowcounts, transitions = self._one_round_trip(statements, params)
        result = RefreshResult(
            evaluated=rowcounts[statements.index(sql.evaluate)],
            changed=rowcounts[statements.index(sql.update_players)],
        )
        if result.changed:
            result.transitions = {f"{a}→{b}": n for a, b, n in transitions}
        return result

    @staticmethod
    def _one_round_trip(statements: list[str], params: dict) -> tuple[list[int], list[tuple]]:
        """The statements in one execute (psycopg's client-side binding sends them as
        one query string); returns each one's rowcount and the rows of the last that
        returns any. Eight round trips would cost more than the statements."""
        rowcounts, rows = [], []
        with connection.cursor() as wrapper:
            cursor = wrapper.cursor  # psycopg's own: Django's wrapper has no nextset()
            wrapper.execute("; ".join(statements), params)
            while True:
                rowcounts.append(cursor.rowcount)
                if cursor.description is not None:
                    rows = cursor.fetchall()
                if not cursor.nextset():
                    break
        return rowcounts, rows


class _SQLite(Dialect):
    vendor = "sqlite"

    def ts(self, param):
        return f"%({param})s"

    def days(self, start, end):
        # julianday() is a double; rounding to the millisecond removes its noise.
        return f"(ROUND((julianday({end}) - julianday({start})) * 86400000.0) / 86400000.0)"

    def greatest(self, a, b):
        return f"MAX({a}, {b})"

    def least(self, a, b):
        return f"MIN({a}, {b})"

    def same(self, a, b):
        return f"({a} IS {b})"

    def differs(self, a, b):
        return f"({a} IS NOT {b})"

    def round_int(self, expr):
        return f"CAST(({expr}) + 0.5 AS integer)"

    def event_batches(self, ids):
        for start in range(0, len(ids), IN_CHUNK):
            params = {f"id{i}": pk for i, pk in enumerate(ids[start : start + IN_CHUNK])}
            yield f"{{col}} IN ({', '.join(f'%({name})s' for name in params)})", params, None

    def run(self, sql, params):
        result = RefreshResult()
        with connection.cursor() as cursor:
            for statement in sql.work_table:
                cursor.execute(statement)
            cursor.execute(sql.evaluate, params)
            # sqlite3 gives no rowcount for a statement that starts with WITH.
            cursor.execute("SELECT COUNT(*) FROM churn_eval")
            result.evaluated = cursor.fetchone()[0]
            cursor.execute(sql.update_players, params)
            result.changed = cursor.rowcount
            if result.changed:
                cursor.execute(sql.record_changes, params)
                cursor.execute(_TRANSITIONS_SQL)
                result.transitions = {f"{a}→{b}": n for a, b, n in cursor.fetchall()}
            cursor.execute(sql.upsert, params)
        return result


_DIALECTS = {d.vendor: d for d in (_PostgreSQL(), _SQLite())}


def dialect() -> Dialect:
    """The dialect of the default connection's engine."""
    return _DIALECTS[connection.vendor]


# --- the column lists: one per table, the reasons' columns from the registry ----------


def _eval_columns(reasons: tuple[Reason, ...]) -> tuple[tuple[str, str, str], ...]:
    """churn_eval, the evaluation's row per player (a temporary table, or a CTE on the
    event path): (column, type, value from the evaluation's last step `st`)."""
    return (
        ("player_id", "bigint PRIMARY KEY", "id"),
        ("old_status", "varchar(16)", "payer_status"),
        ("tier_id", "bigint", "tier_id"),
        ("total_spend", "numeric", "total_spend"),
        ("last_paid_at", "timestamp with time zone", "last_paid_at"),
        ("last_login_at", "timestamp with time zone", "last_login_at"),
        ("purchase_count", "integer", "purchase_count"),
        ("status", "varchar(16)", "status"),
        ("risk_score", "integer", "CASE status WHEN 'churned' THEN 100 WHEN 'non_payer' THEN 0 ELSE score END"),
        *((r.column, "boolean", r.column) for r in reasons),
        ("median_gap", "double precision", "median_gap"),
        ("spend_recent", "numeric", "spend_recent"),
        ("spend_previous", "numeric", "spend_previous"),
        ("days_since_payment", "double precision", "since_paid"),
        # the account's own figures, which the writes' guard compares (per person the
        # figures above are the person's)
        ("acct_spend", "numeric", "acct_spend"),
        ("acct_paid_at", "timestamp with time zone", "acct_paid_at"),
        ("acct_login_at", "timestamp with time zone", "acct_login_at"),
    )


def _churn_columns(reasons: tuple[Reason, ...]) -> tuple[tuple[str, str], ...]:
    """PlayerChurn's figures: (column, value from the evaluated row `t`)."""
    return (
        ("status", "t.status"),
        ("risk_score", "t.risk_score"),
        *((r.column, f"t.{r.column}") for r in reasons),
        ("median_gap_days", "t.median_gap"),
        ("median_purchases", "t.purchase_count"),
        ("median_last_paid_at", "t.last_paid_at"),
        ("spend_recent", "t.spend_recent"),
        ("spend_previous", "t.spend_previous"),
    )


def _change_columns(d: Dialect, reasons: tuple[Reason, ...]) -> tuple[tuple[str, str], ...]:
    """A PayerStatusChange row: (column, value from the evaluated row `t`)."""
    return (
        ("player_id", "t.player_id"),
        ("from_status", "t.old_status"),
        ("to_status", "t.status"),
        ("changed_at", d.ts("now")),
        ("tier_id", "t.tier_id"),
        ("risk_score", "t.risk_score"),
        *((r.column, f"t.{r.column}") for r in reasons),
        ("days_since_payment", "t.days_since_payment"),
        ('"trigger"', "%(trigger)s"),
    )


# --- the statements -------------------------------------------------------------------


def _eval_table_sql(d: Dialect, reasons: tuple[Reason, ...]) -> list[str]:
    """The session's work table, emptied. On PostgreSQL its rows vanish at each commit."""
    columns = ", ".join(f"{name} {sql_type}" for name, sql_type, _value in _eval_columns(reasons))
    return [f"CREATE TEMP TABLE IF NOT EXISTS churn_eval ({columns}){d.temp_table_options}", "DELETE FROM churn_eval"]


def _eval_select(reasons: tuple[Reason, ...]) -> str:
    """The evaluation's rows, in the order of `_eval_columns`."""
    return f"SELECT {', '.join(value for _name, _type, value in _eval_columns(reasons))}\nFROM st"


def _eval_column_names(reasons: tuple[Reason, ...]) -> str:
    return ", ".join(name for name, _type, _value in _eval_columns(reasons))


def _eval_sql(d: Dialect, reasons: tuple[Reason, ...], rules_values: str, scope: str, basis: str) -> str:
    """INSERT INTO churn_eval: every player in `scope` who is, or was, a payer (see
    `_eval_ctes` for `basis`)."""
    return (
        f"{_eval_ctes(d, reasons, rules_values, scope, basis)}\n"
        f"INSERT INTO churn_eval ({_eval_column_names(reasons)})\n{_eval_select(reasons)}"
    )


# Whose ledger a status judges (`_eval_ctes`): each account's own; the VIP person's, the
# accounts in scope only (the nightly scan: each batch writes its own accounts, so batches
# run at once and a person's accounts in other batches get the same verdict there); or the
# VIP person's, every account of the person (after an event: every account shows the
# person's status at once).
BASIS_ACCOUNT, BASIS_PERSON, BASIS_PERSON_ALL = "account", "person", "person_all"

_PLAYER_FIGURES = ("total_spend", "last_paid_at", "last_login_at", "purchase_count")


def _eval_ctes(d: Dialect, reasons: tuple[Reason, ...], rules_values: str, scope: str, basis: str) -> str:
    """The evaluation as a WITH list ending in `st`: every player in `scope` who is,
    or was, a payer, with the status and figures the rules give.

    `scope` is a condition on a player-id column written `{col}`. The median gap is
    recomputed only where its basis (purchase count, last purchase) moved since it
    was stored; otherwise the stored one is reused, so a nightly scan reads only the
    last two spend windows of the ledger. The reasons' flags and the score come from
    the registry (players.churn_reasons), whose SQL reads the row `ev`.

    Per person (`basis` BASIS_PERSON or BASIS_PERSON_ALL, setting CRM_VIP_TIER_BASIS), an
    account linked to others is judged on its person's figures: spend and purchases
    added up, the latest purchase and login of any account, the median gap and the spend
    windows over all their purchases, the main account's tier's rule; so every account
    of a person gets the same status. `pl` keeps the account's own figures too
    (`acct_*`): the writes' guard compares them. An account alone (almost all) is read
    exactly as per account: the people are found through the partial index of linked
    accounts (`grp`), and only their accounts' ledger is read a second way."""
    in_scope = scope.format
    now = d.ts("now")
    since_paid = d.days("pl.last_paid_at", now)
    last_seen = d.greatest("COALESCE(pl.last_login_at, pl.last_paid_at)", "COALESCE(pl.last_paid_at, pl.last_login_at)")
    since_seen = d.days(last_seen, now)
    age = d.days("pay.occurred_at", now)

    def gap(key: str) -> str:
        # Newest first, the order of the (player, -occurred_at) index: no sort needed alone.
        return d.days(
            "pay.occurred_at", f"LAG(pay.occurred_at) OVER (PARTITION BY {key} ORDER BY pay.occurred_at DESC)"
        )

    flags = ",\n           ".join(
        f"COALESCE(ev.total_spend > 0 AND ({r.applies(d)}), FALSE) AS {r.column}" for r in reasons
    )
    # the player's tier's rule where it has one (o), else the global one (g)
    rule_values = ", ".join(f"COALESCE(o.{name}, g.{name}) AS {name}" for name, _f, _k in RULE_COLUMNS)
    any_reason = " OR ".join(f"ev.{r.column}" for r in reasons) or "FALSE"
    score = d.round_int(
        " + ".join(f"{r.weight} * (CASE WHEN ev.{r.column} THEN {r.strength(d)} ELSE 0 END)" for r in reasons) or "0"
    )
    signed = "CASE WHEN pay.kind = 'purchase' THEN pay.amount_base ELSE -pay.amount_base END AS signed"
    rules = f"rules(tier_key, {', '.join(name for name, _f, _k in RULE_COLUMNS)}) AS (VALUES {rules_values})"
    if basis == BASIS_ACCOUNT:
        players = f"""
pl AS (
    SELECT p.id, p.id AS pkey, p.payer_status, p.tier_id, p.total_spend, p.last_paid_at, p.last_login_at,
           p.purchase_count, p.total_spend AS acct_spend, p.last_paid_at AS acct_paid_at,
           p.last_login_at AS acct_login_at,
           c.median_gap_days AS stored_median,
           NOT (c.player_id IS NOT NULL AND c.median_purchases = p.purchase_count
                AND {d.same("c.median_last_paid_at", "p.last_paid_at")}) AS median_stale,
           {rule_values}
    FROM players_player p
    JOIN rules g ON g.tier_key = 0
    LEFT JOIN rules o ON o.tier_key = p.tier_id
    LEFT JOIN players_playerchurn c ON c.player_id = p.id AND {in_scope(col="c.player_id")}
    WHERE {in_scope(col="p.id")} AND (p.total_spend > 0 OR p.payer_status <> 'non_payer' OR c.player_id IS NOT NULL)
),
gaps AS (
    SELECT pay.player_id AS pkey, {gap("pay.player_id")} AS gap
    FROM players_payment pay JOIN pl ON pl.id = pay.player_id AND pl.median_stale
    WHERE {in_scope(col="pay.player_id")} AND pay.kind = 'purchase'
),
aged AS (
    SELECT pay.player_id AS pkey, pl.window_days, {age} AS age, {signed}
    FROM players_payment pay JOIN pl ON pl.id = pay.player_id
    WHERE {in_scope(col="pay.player_id")} AND pay.occurred_at > {d.ts("since")}
),"""
    else:
        account_columns = "payer_status, tier_id, " + ", ".join(_PLAYER_FIGURES)
        siblings = (
            f"""
    UNION ALL
    SELECT mem.id, mem.pkey, {", ".join(f"mem.{c}" for c in account_columns.split(", "))},
           c.player_id, c.median_gap_days, c.median_purchases, c.median_last_paid_at
    FROM mem LEFT JOIN players_playerchurn c ON c.player_id = mem.id
    WHERE NOT ({in_scope(col="mem.id")})"""
            if basis == BASIS_PERSON_ALL
            else ""
        )

        def person_or_own(column: str) -> str:
            return f"CASE WHEN per.pkey IS NULL THEN a.{column} ELSE per.{column} END"

        players = f"""
grp(pkey) AS (
    SELECT l.person_account_id FROM players_player l
    WHERE l.person_account_id IS NOT NULL AND {in_scope(col="l.id")}
    UNION
    SELECT l.person_account_id FROM players_player l
    WHERE l.person_account_id IS NOT NULL AND {in_scope(col="l.person_account_id")}
),
mem AS (
    SELECT m.id, m.person_account_id AS pkey, {", ".join(f"m.{c}" for c in account_columns.split(", "))}
    FROM players_player m WHERE m.person_account_id IN (SELECT pkey FROM grp)
    UNION ALL
    SELECT m.id, m.id, {", ".join(f"m.{c}" for c in account_columns.split(", "))}
    FROM players_player m WHERE m.id IN (SELECT pkey FROM grp)
),
per AS (
    SELECT pkey, SUM(total_spend) AS total_spend, MAX(last_paid_at) AS last_paid_at,
           MAX(last_login_at) AS last_login_at, SUM(purchase_count) AS purchase_count,
           MAX(CASE WHEN id = pkey THEN tier_id END) AS tier_id
    FROM mem GROUP BY pkey
),
acc AS (
    SELECT p.id, COALESCE(p.person_account_id, p.id) AS pkey,
           {", ".join(f"p.{c}" for c in account_columns.split(", "))},
           c.player_id AS churn_id, c.median_gap_days, c.median_purchases, c.median_last_paid_at
    FROM players_player p
    LEFT JOIN players_playerchurn c ON c.player_id = p.id AND {in_scope(col="c.player_id")}
    WHERE {in_scope(col="p.id")}{siblings}
),
pa AS (
    SELECT a.id, a.pkey, per.pkey IS NOT NULL AS multi, a.payer_status, a.tier_id,
           {", ".join(f"{person_or_own(c)} AS {c}" for c in _PLAYER_FIGURES)},
           {person_or_own("tier_id")} AS rule_tier,
           a.total_spend AS acct_spend, a.last_paid_at AS acct_paid_at, a.last_login_at AS acct_login_at,
           a.churn_id, a.median_gap_days, a.median_purchases, a.median_last_paid_at
    FROM acc a LEFT JOIN per ON per.pkey = a.pkey
),
pl AS (
    SELECT a.id, a.pkey, a.multi, a.payer_status, a.tier_id, {", ".join(f"a.{c}" for c in _PLAYER_FIGURES)},
           a.acct_spend, a.acct_paid_at, a.acct_login_at,
           a.median_gap_days AS stored_median,
           NOT (a.churn_id IS NOT NULL AND a.median_purchases = a.purchase_count
                AND {d.same("a.median_last_paid_at", "a.last_paid_at")}) AS median_stale,
           {rule_values}
    FROM pa a
    JOIN rules g ON g.tier_key = 0
    LEFT JOIN rules o ON o.tier_key = a.rule_tier
    WHERE a.multi OR a.total_spend > 0 OR a.payer_status <> 'non_payer' OR a.churn_id IS NOT NULL
),
gaps AS (
    SELECT pay.player_id AS pkey, {gap("pay.player_id")} AS gap
    FROM players_payment pay JOIN pl ON pl.id = pay.player_id AND pl.median_stale AND NOT pl.multi
    WHERE {in_scope(col="pay.player_id")} AND pay.kind = 'purchase'
    UNION ALL
    SELECT mem.pkey, {gap("mem.pkey")} AS gap
    FROM players_payment pay JOIN mem ON mem.id = pay.player_id
    WHERE mem.pkey IN (SELECT pkey FROM pl WHERE pl.median_stale AND pl.multi) AND pay.kind = 'purchase'
),
aged AS (
    SELECT pay.player_id AS pkey, pl.window_days, {age} AS age, {signed}
    FROM players_payment pay JOIN pl ON pl.id = pay.player_id AND NOT pl.multi
    WHERE {in_scope(col="pay.player_id")} AND pay.occurred_at > {d.ts("since")}
    UNION ALL
    SELECT mem.pkey, pw.window_days, {age} AS age, {signed}
    FROM players_payment pay JOIN mem ON mem.id = pay.player_id
    JOIN (SELECT pkey, MAX(window_days) AS window_days FROM pl WHERE pl.multi GROUP BY pkey) pw ON pw.pkey = mem.pkey
    WHERE pay.occurred_at > {d.ts("since")}
),"""
    return f"""
WITH {rules},{players}
ranked AS (
    SELECT pkey, gap,
           ROW_NUMBER() OVER (PARTITION BY pkey ORDER BY gap) AS rn,
           COUNT(*) OVER (PARTITION BY pkey) AS n
    FROM gaps WHERE gap IS NOT NULL
),
med AS (
    SELECT pkey, AVG(gap) AS median_gap FROM ranked
    WHERE rn = (n + 1) / 2 OR rn = (n + 2) / 2
    GROUP BY pkey
),
win AS (
    SELECT pkey,
           ROUND(SUM(CASE WHEN age < window_days THEN signed ELSE 0 END), 2) AS spend_recent,
           ROUND(SUM(CASE WHEN age >= window_days AND age < 2 * window_days THEN signed ELSE 0 END), 2)
               AS spend_previous
    FROM aged GROUP BY pkey
),
ev AS (
    SELECT pl.*, CASE WHEN pl.median_stale THEN med.median_gap ELSE pl.stored_median END AS median_gap,
           COALESCE(win.spend_recent, 0) AS spend_recent, COALESCE(win.spend_previous, 0) AS spend_previous,
           {since_paid} AS since_paid, {since_seen} AS since_seen
    FROM pl LEFT JOIN med ON med.pkey = pl.pkey LEFT JOIN win ON win.pkey = pl.pkey
),
fl AS (
    SELECT ev.*,
           ev.total_spend > 0 AS is_payer,
           {flags}
    FROM ev
),
st AS (
    SELECT ev.*,
           CASE WHEN NOT ev.is_payer THEN 'non_payer'
                WHEN ev.since_paid >= ev.churn_days THEN 'churned'
                WHEN {any_reason} THEN 'at_risk'
                ELSE 'active' END AS status,
           {score} AS score
    FROM fl ev
)"""


def _change_insert(d: Dialect, reasons: tuple[Reason, ...]) -> str:
    """INSERT INTO players_payerstatuschange ... SELECT, to be followed by FROM/WHERE
    over the evaluated rows `t`."""
    columns = _change_columns(d, reasons)
    return (
        f"INSERT INTO players_payerstatuschange ({', '.join(c for c, _v in columns)})\n"
        f"SELECT {', '.join(v for _c, v in columns)}"
    )


def _churn_upsert(
    d: Dialect, reasons: tuple[Reason, ...], *, source: str, condition: str, churn_scope: str | None = None
) -> str:
    """Upsert PlayerChurn from the evaluated rows `t` of `source` that meet `condition`,
    selecting only rows whose figures differ: PostgreSQL locks a conflicting row even
    when DO UPDATE's WHERE is false, and a nightly scan must not rewrite a million
    unchanged rows."""
    columns = _churn_columns(reasons)
    figures = [c for c, _v in columns]
    return f"""
INSERT INTO players_playerchurn ({", ".join(("player_id", *figures, "changed_at"))})
SELECT t.player_id, {", ".join(v for _c, v in columns)}, {d.ts("now")}
FROM {source}
LEFT JOIN players_playerchurn c ON c.player_id = t.player_id{f" AND {churn_scope}" if churn_scope else ""}
WHERE {condition}
  AND (c.player_id IS NULL OR {" OR ".join(d.differs(f"c.{c}", v) for c, v in columns)})
ON CONFLICT (player_id) DO UPDATE SET {", ".join(f"{f} = excluded.{f}" for f in (*figures, "changed_at"))}
WHERE players_playerchurn.changed_at <= excluded.changed_at
  AND ({" OR ".join(d.differs(f"players_playerchurn.{f}", f"excluded.{f}") for f in figures)})
"""


def _statements(d: Dialect, reasons: tuple[Reason, ...], rules_values: str, scope: str, basis: str) -> _Statements:
    """The work-table refresh (order matters: see module doc). Each later write sees
    the earlier ones', and checks again that the player still looks as the
    evaluation saw it."""

    def unchanged(status: str) -> str:
        """The player still looks as the evaluation saw it (and has `status`)."""
        return " AND ".join(
            [
                f"players_player.payer_status = {status}",
                d.same("players_player.tier_id", "t.tier_id"),
                "players_player.total_spend = t.acct_spend",
                d.same("players_player.last_paid_at", "t.acct_paid_at"),
                d.same("players_player.last_login_at", "t.acct_login_at"),
            ]
        )

    return _Statements(
        work_table=_eval_table_sql(d, reasons),
        evaluate=_eval_sql(d, reasons, rules_values, scope, basis),
        update_players=f"""
UPDATE players_player SET payer_status = t.status, updated_at = {d.ts("now")}
FROM churn_eval t
WHERE t.player_id = players_player.id AND t.status <> t.old_status AND {unchanged("t.old_status")}
""",
        record_changes=f"""
{_change_insert(d, reasons)}
FROM churn_eval t JOIN players_player ON players_player.id = t.player_id
WHERE t.status <> t.old_status AND {unchanged("t.status")}
""",
        upsert=_churn_upsert(
            d,
            reasons,
            source="churn_eval t JOIN players_player ON players_player.id = t.player_id",
            condition=unchanged("t.status"),
        ),
    )


@functools.lru_cache(maxsize=32)  # the text is the prepared statement's key: build it once
def _event_path_sql(d: Dialect, reasons: tuple[Reason, ...], rules_values: str, scope: str, basis: str) -> str:
    """PostgreSQL, after an event: evaluation and writes as one statement (for one
    player prepared once per connection: planning the evaluation costs ~2 ms, running
    it ~0.3 ms; and a temporary table would make PostgreSQL plan it again at every
    commit). One snapshot serves the evaluation and the writes, which is sound
    because the caller holds these players' row locks (it has just written their
    totals or last login), so nobody changes them in between. The same rules and
    writes as `_statements` (players/tests/test_services_payer_status_dialects.py runs both).

    Returns one row: players evaluated, players whose status changed, and the
    transitions as [from, to, count] triples."""
    now = d.ts("now")
    return f"""{_eval_ctes(d, reasons, rules_values, scope, basis)},
churn_eval ({_eval_column_names(reasons)}) AS ({_eval_select(reasons)}),
upd AS (
    UPDATE players_player SET payer_status = t.status, updated_at = {now}
    FROM churn_eval t
    WHERE t.player_id = players_player.id AND t.status <> t.old_status
    RETURNING players_player.id
),
changes AS (
    {_change_insert(d, reasons)}
    FROM churn_eval t JOIN upd ON upd.id = t.player_id
),
figures AS ({
        _churn_upsert(
            d,
            reasons,
            source="churn_eval t LEFT JOIN upd ON upd.id = t.player_id",
            condition="(t.status = t.old_status OR upd.id IS NOT NULL)",
            churn_scope=scope.format(col="c.player_id"),
        )
    })
SELECT (SELECT COUNT(*) FROM churn_eval), (SELECT COUNT(*) FROM upd),
       (SELECT json_agg(json_build_array(old_status, status, n)) FROM (
            SELECT t.old_status, t.status, COUNT(*) AS n FROM churn_eval t JOIN upd ON upd.id = t.player_id
            GROUP BY t.old_status, t.status) x)
"""


def _refresh_params(scope_params: dict, *, now: datetime, trigger: str, rules: dict) -> dict:
    """The statements' parameters: the scope's, the instant, how far back the spend
    windows reach, and the trigger recorded with a change."""
    window_max = max(int(r["spend_window_days"]) for r in rules.values())
    ops = connection.ops
    return {
        **scope_params,
        "now": ops.adapt_datetimefield_value(now),
        "since": ops.adapt_datetimefield_value(now - timedelta(days=2 * window_max)),
        "trigger": trigger,
    }


def _refresh(
    *,
    scope: str,
    params: dict,
    now: datetime,
    trigger: str,
    rules: dict,
    event_path: str | None = None,
    every_account: bool = True,
    alone: bool = False,
) -> RefreshResult:
    """`event_path` (PostgreSQL, from `Dialect.event_batches`): "prepared" for one
    player's statement, planned once per connection; "planned" for a batch's, planned
    for its players; None for the work-table path (the nightly scan; SQLite).
    `every_account`: per person, also write the other accounts of the people in scope
    (after an event); the nightly scan writes its batch's accounts only. `alone`: every
    player in scope is known to be an account alone, judged per person exactly as per
    account (`_eval_ctes`), so the per-account statement serves."""
    d = dialect()
    params = _refresh_params(params, now=now, trigger=trigger, rules=rules)
    if alone or person_basis() == BASIS_ACCOUNT:
        basis = BASIS_ACCOUNT
    else:
        basis = BASIS_PERSON_ALL if every_account else BASIS_PERSON
    if event_path:
        return d.run_event(_event_path_sql(d, reasons(), _rules_values(rules), scope, basis), params, event_path)
    return d.run(_statements(d, reasons(), _rules_values(rules), scope, basis), params)


# --- entry points -------------------------------------------------------------


def login_rejudges_sql(player: str) -> str:
    """SQL, true for a players row (`player`: its alias) whose payer status or churn
    figures a login can move: the players the evaluation above reads at all, on either
    basis (a payer, a status or a churn row to clear, an account of a VIP person). A
    login of anyone else (a non-payer: most of a game's daily logins) moves nothing
    derived, so the logins' accept marks only these for the projection."""
    players, churn = Player._meta.db_table, PlayerChurn._meta.db_table
    # Scalar subqueries, not EXISTS: PostgreSQL turns an EXISTS under OR into a hashed
    # subplan that reads the whole churn table (52k rows, 30 ms on the 1M dataset) per
    # statement; these are index probes, made only for a row the columns left undecided.
    return (
        f"({player}.total_spend > 0 OR {player}.payer_status <> '{PayerStatus.NON_PAYER}'"
        f" OR {player}.person_account_id IS NOT NULL"
        f" OR (SELECT 1 FROM {players} linked WHERE linked.person_account_id = {player}.id LIMIT 1) IS NOT NULL"
        f" OR (SELECT 1 FROM {churn} churn WHERE churn.player_id = {player}.id) IS NOT NULL)"
    )


@transaction.atomic(savepoint=False)  # nothing to undo alone: a failure fails the caller
def payer_status_refresh(
    *, player_ids, now: datetime | None = None, trigger: str = PayerStatusTrigger.REFRESH, alone: bool = False
) -> RefreshResult:
    """Re-judge these players now: after a payment, a refund or a login. Cheap: a
    handful of statements over these players' own rows, whatever their number.

    `alone`: the caller knows every one of these players to be an account alone, no VIP
    person of several accounts (the projection: `players.selectors.persons.person_alone`,
    read with the row lock it holds, which a merge or a link also takes). Per person,
    such an account is judged exactly as per account, so the per-account statement runs,
    without the people's part (on a copy of the 1M dataset, one player's prepared
    statement and its commit: 0.24 ms of PostgreSQL CPU instead of 0.44)."""
    now = now or timezone.now()
    ids = sorted({int(pk) for pk in player_ids})
    rules = churn_rules_effective()
    result = RefreshResult()
    for scope, scope_params, event_path in dialect().event_batches(ids):
        result.add(
            _refresh(
                scope=scope,
                params=scope_params,
                now=now,
                trigger=trigger,
                rules=rules,
                event_path=event_path,
                alone=alone,
            )
        )
    return result


def churn_scan(
    *,
    now: datetime | None = None,
    batch_size: int = SCAN_BATCH_SIZE,
    below_id: int | None = None,
    workers: int | None = None,
) -> dict:
    """Nightly: re-judge every player (the passage of time makes payers at risk or
    churned without any event), then write today's snapshot for the reports.

    Batches of `batch_size` player ids, one transaction each: no row ever reaches
    Python, so memory does not grow with the number of players. Idempotent.
    `below_id` limits the scan to players with smaller ids (a partial run).

    On PostgreSQL `workers` batches (default: setting CRM_CHURN_SCAN_WORKERS) run at
    once, each on its own connection: a batch is CPU work in one server process, and
    batches touch disjoint players. Inside a caller's transaction, or on SQLite (one
    writer at a time), batches run one after the other on this connection.
    """
    now = now or timezone.now()
    rules = churn_rules_effective(fresh=True)
    players = Player.objects.filter(pk__lt=below_id) if below_id is not None else Player.objects.all()
    bounds = players.aggregate(low=Min("pk"), high=Max("pk"))
    lows = range(bounds["low"], bounds["high"] + 1, batch_size) if bounds["low"] is not None else range(0)
    workers = workers or getattr(settings, "CRM_CHURN_SCAN_WORKERS", 2)
    if not dialect().parallel_scan or connection.in_atomic_block:
        workers = 1

    def scan_batch(low: int) -> RefreshResult:
        try:
            with transaction.atomic():
                return _refresh(
                    scope="{col} >= %(low)s AND {col} < %(high)s",
                    params={"low": low, "high": low + batch_size},
                    now=now,
                    trigger=PayerStatusTrigger.SCAN,
                    rules=rules,
                    every_account=False,
                )
        finally:
            if workers > 1:
                connection.close()  # this thread's own connection

    total = RefreshResult()
    if workers > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for result in pool.map(scan_batch, lows):
                total.add(result)
    else:
        for low in lows:
            total.add(scan_batch(low))
    churn_snapshot_write(now=now)
    counts = {"evaluated": total.evaluated, "changed": total.changed, **dict(sorted(total.transitions.items()))}
    log.info("churn scan: %s", counts)
    return counts


@transaction.atomic
def churn_snapshot_write(*, now: datetime | None = None) -> list[ChurnSnapshot]:
    """Today's counts per tier and status, and the revenue at risk (the last-window
    spend of at-risk payers), a VIP person once when statuses count per person (their
    main account). Re-running on the same day replaces that day's rows."""
    now = now or timezone.now()
    day = timezone.localdate(now)
    rows = (
        PlayerChurn.objects.filter(persons_only_q("player__"))
        .exclude(status=PayerStatus.NON_PAYER)
        .values("player__tier")
        .annotate(
            active=Count("pk", filter=Q(status=PayerStatus.ACTIVE)),
            at_risk=Count("pk", filter=Q(status=PayerStatus.AT_RISK)),
            churned=Count("pk", filter=Q(status=PayerStatus.CHURNED)),
            revenue_at_risk=Sum("spend_recent", filter=Q(status=PayerStatus.AT_RISK)),
        )
        .order_by()
    )
    ChurnSnapshot.objects.filter(day=day).delete()
    return ChurnSnapshot.objects.bulk_create(
        ChurnSnapshot(
            day=day,
            tier_id=row["player__tier"],
            active=row["active"],
            at_risk=row["at_risk"],
            churned=row["churned"],
            revenue_at_risk=max(row["revenue_at_risk"] or 0, 0),
        )
        for row in rows
    )
