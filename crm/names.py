"""How a member of staff is named wherever a person reads it: pages, reports, pickers,
the timeline, and the {manager} of a call script or message read to a player.

A Chinese name is written family name first with no space (李 + 娜 → 李娜); any other
name as "First Last"; a user without a name by their username. `STAFF_NAME_SQL` is the
same rule for set-based SQL (campaigns.sql_templating); a test compares both.
"""

from __future__ import annotations

import re

# CJK Unified Ideographs (with extension A) and the compatibility block.
_HAN = "\u3400-\u9fff\uf900-\ufaff"
_HAN_RE = re.compile(f"[{_HAN}]")


def person_name(*, first: str, last: str, username: str = "") -> str:
    first, last = (first or "").strip(), (last or "").strip()
    if _HAN_RE.search(first + last):
        return f"{last}{first}"
    return f"{first} {last}".strip() or username


def staff_name(user) -> str:
    """The display name of a user ("" for nobody)."""
    if user is None:
        return ""
    return person_name(first=user.first_name, last=user.last_name, username=user.get_username())


def staff_name_sql(alias: str) -> str:
    """The display name of the auth_user row `alias`, as an SQL expression (PostgreSQL)."""
    first, last = f"btrim(COALESCE({alias}.first_name, ''))", f"btrim(COALESCE({alias}.last_name, ''))"
    return (
        f"CASE WHEN {alias}.id IS NULL THEN '' "
        f"WHEN ({last} || {first}) ~ '[{_HAN}]' THEN {last} || {first} "
        f"ELSE COALESCE(NULLIF(btrim({first} || ' ' || {last}), ''), {alias}.username) END"
    )
