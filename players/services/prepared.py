"""PostgreSQL statements of the event path, prepared once per connection.

A payment or a login runs a few statements whose planning costs more than running
them for one player (the churn evaluation: ~2 ms to plan, ~0.3 ms to run). These
helpers run them on Django's connection, in its transaction: as prepared statements,
planned once per connection, or planned for the call where the parameters name many
rows.
"""

from __future__ import annotations

import functools

import psycopg
import psycopg._queries
from django.db import DEFAULT_DB_ALIAS, connection, connections
from psycopg.pq import ExecStatus
from psycopg.types.numeric import Int8Dumper

TUPLES_OK = ExecStatus.TUPLES_OK

# psycopg remembers how it split a query into text and placeholders only for queries of
# up to 4096 characters; the churn statement is ~8,500, and splitting it again cost
# ~0.2 ms a payment. The limit is read at each call (psycopg is pinned; see
# players/tests/test_prepared.py).
psycopg._queries.MAX_CACHED_STATEMENT_LENGTH = max(psycopg._queries.MAX_CACHED_STATEMENT_LENGTH, 16_384)


@functools.cache
def connection_vendor() -> str:
    """The default connection's engine ("postgresql", "sqlite"), read once per process:
    the event path asks several times a payment, and each read through Django's
    connection proxy looks the connection up again (~7 µs)."""
    return connections[DEFAULT_DB_ALIAS].vendor


def server_cursor():
    """A psycopg cursor with server-side parameter binding on Django's connection (same
    transaction): big array parameters travel as values instead of being quoted into
    the SQL text, which costs more than the statement itself for a batch of 1000."""
    connection.ensure_connection()
    return psycopg.Cursor(connection.connection)


def prepared_fetchone(statement: str, params) -> tuple | None:
    """Run `statement` as a prepared statement of this connection; its first row.

    PostgreSQL plans it for the first five calls, then keeps one generic plan as long
    as that costs no more than the custom ones did: so write the hot statements with
    scalar parameters (one player's id, not an array of one), whose generic plan is
    the custom one."""
    cursor = _prepared_cursor()
    cursor.execute(statement, params, prepare=True)
    return cursor.fetchone() if cursor.pgresult.status == TUPLES_OK else None


def _prepared_cursor() -> psycopg.Cursor:
    """This connection's cursor for prepared statements, made once per connection
    (making a cursor and its adapters at every call cost ~35-65 µs of a ~120 µs call)."""
    wrapper = connections[DEFAULT_DB_ALIAS]  # once: each access through the proxy costs a lookup
    if wrapper.connection is None:
        wrapper.ensure_connection()
    kept = getattr(wrapper, "_crm_prepared_cursor", None)
    if kept is None or kept.connection is not wrapper.connection or kept.closed:
        kept = psycopg.Cursor(wrapper.connection)
        # Every int as bigint: psycopg picks smallint, integer or bigint by value, and
        # each distinct set of parameter types would be another prepared statement.
        kept.adapters.register_dumper(int, Int8Dumper)
        wrapper._crm_prepared_cursor = kept
    return kept


def planned_fetchone(statement: str, params) -> tuple | None:
    """Run `statement` planned for these parameters (e.g. a batch's thousand players),
    without JIT for the rest of the transaction: the planner's estimates for big CTEs
    are huge, and compiling would cost more than running. One round trip (pipeline)."""
    with server_cursor() as settings_cursor, server_cursor() as cursor:
        with connection.connection.pipeline():
            settings_cursor.execute("SET LOCAL jit = off")
            cursor.execute(statement, params)
        return cursor.fetchone() if cursor.description is not None else None


def planned_fetchall(statement: str, params, *, first: str | None = None) -> list[tuple]:
    """`planned_fetchone`'s twin: every row. `first` (with the same parameters) runs
    before it in the same round trip; `statement` still starts after `first` is done (its
    snapshot too)."""
    with server_cursor() as settings_cursor, server_cursor() as first_cursor, server_cursor() as cursor:
        with connection.connection.pipeline():
            settings_cursor.execute("SET LOCAL jit = off")
            if first:
                first_cursor.execute(first, params)
            cursor.execute(statement, params)
        return cursor.fetchall() if cursor.description is not None else []


def prepared_fetchall(statement: str, params) -> list[tuple]:
    """`prepared_fetchone`'s twin: every row."""
    cursor = _prepared_cursor()
    cursor.execute(statement, params, prepare=True)
    return cursor.fetchall() if cursor.pgresult.status == TUPLES_OK else []
