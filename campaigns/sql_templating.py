"""Templates rendered by PostgreSQL, for set-based inserts (INSERT ... SELECT).

`sql_template` turns a template (campaigns.templating syntax) into an SQL expression
evaluated per player row, so that 100,000s of messages or tasks are rendered by one
statement. It returns None when the template needs Python (a format spec, a conversion,
a variable without an SQL twin): the caller then renders in Python, which stays the
reference. The expression reads the player as `p`, their tier as `vt` and their manager
as `u`: join those with `sql_template_joins()`.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from crm.names import staff_name_sql

# How each template variable reads in PostgreSQL. Must give what
# templating.template_context gives (tests compare both renderings).
SQL_VARIABLES = {
    "nickname": "COALESCE(NULLIF(p.nickname, ''), p.account_id)",
    "account_id": "p.account_id",
    "server": "p.server",
    "level": "p.level::text",
    "tier": "COALESCE(vt.name, '')",
    "manager": staff_name_sql("u"),
    # GREATEST ignores NULLs, hence the CASE for players who never logged in or paid.
    "days_since_login": "CASE WHEN p.last_login_at IS NULL THEN '' "
    "ELSE GREATEST(%s::date - (p.last_login_at AT TIME ZONE %s)::date, 0)::text END",
    "days_since_payment": "CASE WHEN p.last_paid_at IS NULL THEN '' "
    "ELSE GREATEST(%s::date - (p.last_paid_at AT TIME ZONE %s)::date, 0)::text END",
    "total_spend": "p.total_spend::text",
}


@dataclass(frozen=True)
class SqlValue:
    """An extra variable whose value SQL computes per row (e.g. from a joined table)."""

    sql: str
    params: tuple = ()


def sql_template(
    text: str, *, today: date, zone: str, extra: Mapping[str, str | SqlValue] | None = None
) -> tuple[str, list] | None:
    """(SQL expression, params) rendering `text` per player, or None when it needs Python.

    `today` and `zone` (a time zone name) count the days since login or payment.
    `extra` adds or overrides variables, as in `templating.template_render`: a string
    is a literal value (passed as a parameter), an `SqlValue` an expression.
    """
    extra = extra or {}
    try:
        parsed = list(string.Formatter().parse(text or ""))
    except ValueError:
        return None  # a broken template: the Python path reports it
    parts, params = [], []
    for literal, field_name, spec, conversion in parsed:
        if literal:
            parts.append("%s::text")
            params.append(literal)
        if field_name is None:
            continue
        if spec or conversion:
            return None
        if isinstance(extra.get(field_name), SqlValue):
            parts.append(extra[field_name].sql)
            params.extend(extra[field_name].params)
        elif field_name in extra:
            parts.append("%s::text")
            params.append("" if extra[field_name] is None else str(extra[field_name]))
        elif field_name in SQL_VARIABLES:
            sql = SQL_VARIABLES[field_name]
            parts.append(sql)
            params.extend([today, zone] if "%s" in sql else [])
        else:
            return None
    if not parts:
        return "''", []
    return f"concat({', '.join(parts)})", params


def sql_template_joins() -> str:
    """The joins the expressions need, after `FROM ... p` (the players table as p)."""
    from django.contrib.auth import get_user_model

    from vip.models import Tier

    return (
        f"LEFT JOIN {Tier._meta.db_table} vt ON vt.id = p.tier_id "
        f"LEFT JOIN {get_user_model()._meta.db_table} u ON u.id = p.manager_id"
    )
