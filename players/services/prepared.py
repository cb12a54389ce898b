"""PostgreSQL statements of the event path, prepared once per connection.

A payment or a login runs a few statements whose planning costs more than running
them for one player (the churn evaluation: ~2 ms to plan, ~0.3 ms to run). These
helpers run them as prepared statements of Django's connection, in its transaction,
with a generic plan: left to itself the planner keeps making custom plans, because
one player looks cheaper than the ten a generic plan assumes for an array.
"""

from __future__ import annotations

import psycopg._queries
from django.db import connection
from psycopg.types.numeric import Int8Dumper

# psycopg remembers how it split a query into text and placeholders only for queries of
# up to 4096 characters; the churn statement is ~8,500, and splitting it again cost
# ~0.2 ms a payment. The limit is read at each call (psycopg is pinned; see
# players/tests/test_prepared.py).
psycopg._queries.MAX_CACHED_STATEMENT_LENGTH = max(psycopg._queries.MAX_CACHED_STATEMENT_LENGTH, 16_384)


def server_cursor():
    """A psycopg cursor with server-side parameter binding on Django's connection (same
    transaction): big array parameters travel as values instead of being quoted into
    the SQL text, which costs more than the statement itself for a batch of 1000."""
    import psycopg

    connection.ensure_connection()
    return psycopg.Cursor(connection.connection)


def prepared_fetchone(statement: str, params, *, generic_plan: bool = True) -> tuple | None:
    """Run `statement` and return its first row: as a prepared statement with a
    generic plan (settings local to the transaction, sent in the same round trip as
    the statement: pipeline mode), or, with `generic_plan=False`, planned for these
    parameters (worth it when they name many rows, e.g. a batch's thousand players)."""
    with server_cursor() as settings_cursor, server_cursor() as cursor:
        # Every int as bigint: psycopg picks smallint, integer or bigint by value, and
        # each distinct set of parameter types would be another prepared statement.
        cursor.adapters.register_dumper(int, Int8Dumper)
        conn = connection.connection
        with conn.pipeline():
            if generic_plan:
                settings_cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
            # The estimates of big CTEs are huge; JIT would spend milliseconds compiling
            # a plan that runs in less.
            settings_cursor.execute("SET LOCAL jit = off")
            cursor.execute(statement, params, prepare=generic_plan)
            if generic_plan:
                settings_cursor.execute("SET LOCAL plan_cache_mode = DEFAULT")
        return cursor.fetchone() if cursor.description is not None else None
