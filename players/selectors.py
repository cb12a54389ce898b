"""Reads: querysets for players, scoped and joined for their use."""

from django.db.models import Q

from crm.admin_mixins import player_scope_q

from .models import Player


def players_visible_to(user):
    return Player.objects.filter(player_scope_q(user))


def player_search_q(term: str) -> Q:
    """What a manager types into the search box: an account id, a phone number or a
    nickname. Exact matches on indexed columns first; a nickname matches by prefix."""
    import phonenumbers
    from django.conf import settings

    term = term.strip()
    q = Q(account_id=term) | Q(nickname__startswith=term)
    digits = "".join(ch for ch in term if ch.isdigit() or ch == "+")
    if len(digits.lstrip("+")) >= 7:
        try:
            number = phonenumbers.parse(digits, settings.PHONENUMBER_DEFAULT_REGION)
            if phonenumbers.is_possible_number(number):
                q |= Q(phone=phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
        except phonenumbers.NumberParseException:
            pass
    return q


DISTINCT_VALUES_CACHE_SECONDS = 300


def player_distinct_values(field: str) -> list[str]:
    """The non-empty values of an indexed text column (server, channel), for filters.

    On PostgreSQL a recursive query hops through the index from one value to the
    next (a handful of index probes instead of reading a million rows); cached for
    a few minutes since servers and channels change rarely."""
    from django.core.cache import cache
    from django.db import connection

    if field not in ("server", "channel"):
        raise ValueError(field)
    key = f"players:distinct:{field}"
    values = cache.get(key)
    if values is not None:
        return values
    if connection.vendor == "postgresql":
        table = Player._meta.db_table
        column = connection.ops.quote_name(Player._meta.get_field(field).column)
        with connection.cursor() as cursor:
            cursor.execute(
                f"""WITH RECURSIVE hop(v) AS (
                      (SELECT {column} FROM {table} WHERE {column} > '' ORDER BY {column} LIMIT 1)
                      UNION ALL
                      SELECT (SELECT {column} FROM {table} WHERE {column} > hop.v ORDER BY {column} LIMIT 1)
                      FROM hop WHERE hop.v IS NOT NULL)
                    SELECT v FROM hop WHERE v IS NOT NULL"""
            )
            values = [row[0] for row in cursor.fetchall()]
    else:
        values = list(Player.objects.exclude(**{field: ""}).order_by(field).values_list(field, flat=True).distinct())
    if values:
        cache.set(key, values, DISTINCT_VALUES_CACHE_SECONDS)
    return values


# Service records (cases, follow-ups, feedback, the daily work report).
from .service_selectors import *  # noqa: E402,F401,F403
