"""The one place where campaigns' set-based SQL differs between PostgreSQL and SQLite.

Campaign launches, greetings and the gift ledger write 100,000s of rows with
INSERT ... SELECT and UPDATE ... FROM, the same statements on both databases. Only a
few fragments differ, and they are written here and nowhere else:

- a list of values as a table (`unnest(%s::bigint[])` / `json_each(%s)`),
- a strong random token (`gen_random_uuid()` / `randomblob()`),
- whether texts can be rendered by the database (`campaigns.sql_templating` speaks
  PostgreSQL: time zones, regular expressions), else they are rendered in Python,
- the faster read or update some reports use on PostgreSQL (`is_postgresql`).

Parameters of raw statements go through `param` (SQLite stores datetimes as naive UTC
text; the ORM does that conversion, raw SQL must ask for it).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from django.db import connection

Sql = tuple[str, list]


def is_postgresql() -> bool:
    """True on PostgreSQL: the database-specific statements are chosen here, once."""
    return connection.vendor == "postgresql"


def renders_texts() -> bool:
    """Whether `campaigns.sql_templating` expressions run on this database."""
    return is_postgresql()


def param(value):
    """A raw-SQL parameter as the ORM would store it (SQLite: datetimes as naive UTC text)."""
    if isinstance(value, datetime) and not is_postgresql():
        return connection.ops.adapt_datetimefield_value(value)
    return value


_PG_TYPES = {int: "bigint", str: "text", datetime: "timestamptz"}


def values_table(alias: str, columns: Sequence[tuple[str, type]], rows: Sequence[Sequence]) -> Sql:
    """`rows` as a table `alias(column, ...)` to join or select from; `columns` are
    (name, type) with type int, str or datetime."""
    if is_postgresql():
        arrays = ", ".join(f"%s::{_PG_TYPES[kind]}[]" for _name, kind in columns)
        names = ", ".join(name for name, _kind in columns)
        return f"unnest({arrays}) AS {alias}({names})", [[row[i] for row in rows] for i in range(len(columns))]
    data = json.dumps([[_json_value(v) for v in row] for row in rows])
    picks = ", ".join(f"json_extract(value, '$[{i}]') AS {name}" for i, (name, _kind) in enumerate(columns))
    return f"(SELECT {picks} FROM json_each(%s)) AS {alias}", [data]


def _json_value(value):
    if isinstance(value, datetime):
        return param(value)
    return value


def random_token_sql(length: int = 10) -> str:
    """An SQL expression: `length` (at most 32) random upper-case hex digits per row, from
    a strong random source (as `secrets.token_hex`)."""
    if is_postgresql():
        return f"upper(substr(replace(gen_random_uuid()::text, '-', ''), 1, {int(length)}))"
    return f"upper(substr(hex(randomblob(16)), 1, {int(length)}))"


def execute(sql: str, params: list) -> int:
    """Run one write statement; the number of rows it touched."""
    with connection.cursor() as cursor:
        cursor.execute(sql, [param(p) for p in params])
        return cursor.rowcount


def fetchall(sql: str, params: list) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, [param(p) for p in params])
        return cursor.fetchall()
