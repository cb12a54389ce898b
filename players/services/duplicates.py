"""The duplicate finder: the one writer of `DuplicateCandidate`.

`duplicates_find()` compares every account with every other by the rules of
`players.models.duplicates.DUPLICATE_RULES` (the same phone, WeChat, QQ, e-mail, or real
name and birthday) in SQL, set-based, in four statements whatever the number of players:

1. the pairs each rule finds, combined per pair (which rules matched, the score), into a
   temporary table: per rule one pass over the players, a window count per value, and a
   self-join of the values held by 2 to `CRM_DUPLICATE_MAX_GROUP` accounts (a value shared
   by more, a studio's test phone or an agency's QQ, says nothing about who someone is,
   and its pairs would grow with the square of the group);
2. the candidates no longer found are deleted (a value changed, an erasure blanked it);
3. new pairs are inserted and changed ones updated (INSERT ... ON CONFLICT); a pair staff
   marked "not the same person" keeps that while it is still found.

E-mail and WeChat ids are compared without case; phones are stored in E.164 and compared
as stored. Erased players are never candidates (`duplicates_forget` removes theirs at once).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.utils import timezone

from ..models import Player
from ..models.duplicates import DUPLICATE_RULES, DuplicateCandidate, DuplicateRule, DuplicateStatus
from .profile_engines import profile_engine

REVIEW_PERMISSION = "players.review_duplicates"
FOUND_TABLE = "players_duplicate_found"


@dataclass(frozen=True)
class DuplicatesFound:
    pairs: int  # candidates after the run
    new: int
    removed: int
    seconds: float


def max_group() -> int:
    return max(2, int(getattr(settings, "CRM_DUPLICATE_MAX_GROUP", 20)))


def _key(rule: DuplicateRule, alias: str) -> list[str]:
    quote = connection.ops.quote_name
    keys = []
    for name in rule.fields:
        column = f"{alias}.{quote(Player._meta.get_field(name).column)}"
        keys.append(f"LOWER({column})" if name in ("email", "wechat") else column)
    return keys


def _present(rule: DuplicateRule) -> str:
    quote = connection.ops.quote_name
    conditions = []
    for name in rule.fields:
        field = Player._meta.get_field(name)
        column = f"p.{quote(field.column)}"
        conditions.append(f"{column} IS NOT NULL" if field.null else f"{column} <> ''")
    return " AND ".join(conditions)


def _rule_values_sql(rule: DuplicateRule) -> str:
    """(id, person, k0, k1...): the accounts whose value for this rule is held by 2 to the cap
    of them, in one pass over the players (a window count per value); `person` is the VIP
    person's main account (accounts already linked to one person are no candidates)."""
    keys = _key(rule, "p")
    named = ", ".join(f"{key} AS k{n}" for n, key in enumerate(keys))
    columns = ", ".join(f"k{n}" for n in range(len(keys)))
    return (
        f"SELECT id, person, {columns} FROM (SELECT p.id, COALESCE(p.person_account_id, p.id) AS person, "
        f"{named}, COUNT(*) OVER (PARTITION BY {', '.join(keys)}) AS n "
        f"FROM {connection.ops.quote_name(Player._meta.db_table)} p WHERE {_present(rule)} AND p.erased_at IS NULL) w "
        f"WHERE n BETWEEN 2 AND {max_group()}"
    )


def _rule_pairs_sql(rule: DuplicateRule) -> str:
    """(a, b, one flag per rule): the pairs of accounts this rule finds, a < b (a self-join
    of the rule's values, `v_<code>`, read once)."""
    joined = " AND ".join(f"x.k{n} = y.k{n}" for n in range(len(rule.fields)))
    flags = ", ".join(f"{1 if other is rule else 0} AS f_{other.code}" for other in DUPLICATE_RULES)
    values = f"v_{rule.code}"
    return f"SELECT x.id AS a, y.id AS b, {flags} FROM {values} x JOIN {values} y ON {joined} AND x.id < y.id AND x.person <> y.person"


def _found_sql() -> str:
    """One row per pair: which rules matched and the score (the weights' sum, at most 100)."""
    values = ", ".join(f"v_{rule.code} AS ({_rule_values_sql(rule)})" for rule in DUPLICATE_RULES)
    union = " UNION ALL ".join(_rule_pairs_sql(rule) for rule in DUPLICATE_RULES)
    flags = ", ".join(f"MAX(f_{rule.code}) AS f_{rule.code}" for rule in DUPLICATE_RULES)
    weighted = " + ".join(f"MAX(f_{rule.code}) * {rule.weight}" for rule in DUPLICATE_RULES)
    return (
        f"WITH {values} SELECT a, b, {flags}, CASE WHEN {weighted} > 100 THEN 100 ELSE {weighted} END AS score "
        f"FROM ({union}) pairs GROUP BY a, b"
    )


def duplicates_find(*, now=None) -> DuplicatesFound:
    """Find every pair of accounts that may be one person (see the module's docstring)."""
    started = time.monotonic()
    now = now or timezone.now()
    table = connection.ops.quote_name(DuplicateCandidate._meta.db_table)
    flags = [rule.flag for rule in DUPLICATE_RULES]
    found_flags = [f"f_{rule.code}" for rule in DUPLICATE_RULES]
    truthy = "= 1"
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {FOUND_TABLE}")
        cursor.execute(f"CREATE TEMPORARY TABLE {FOUND_TABLE} AS {_found_sql()}")
        profile_engine().temp_table_analyze(cursor, FOUND_TABLE)
        cursor.execute(
            f"DELETE FROM {table} WHERE NOT EXISTS (SELECT 1 FROM {FOUND_TABLE} f "
            f"WHERE f.a = {table}.player_a_id AND f.b = {table}.player_b_id)"
        )
        removed = cursor.rowcount
        before = DuplicateCandidate.objects.count()
        assignments = ", ".join(f"{name} = excluded.{name}" for name in ["score", *flags])
        changed = " OR ".join(f"{table}.{name} <> excluded.{name}" for name in ["score", *flags])
        cursor.execute(
            f"INSERT INTO {table} (player_a_id, player_b_id, score, {', '.join(flags)}, status, found_at) "
            f"SELECT a, b, score, {', '.join(f'{name} {truthy}' for name in found_flags)}, %s, %s "
            f"FROM {FOUND_TABLE} WHERE 1 = 1 "
            f"ON CONFLICT (player_a_id, player_b_id) DO UPDATE SET {assignments} WHERE {changed}",
            [DuplicateStatus.OPEN, now],
        )
        cursor.execute(f"DROP TABLE {FOUND_TABLE}")
        after = DuplicateCandidate.objects.count()
    return DuplicatesFound(pairs=after, new=after - before, removed=removed, seconds=time.monotonic() - started)


@transaction.atomic
def duplicates_dismiss(*, candidates, actor, now=None) -> int:
    """Staff say these pairs are not one person: they stay out of the list to review while
    the finder still finds them. Only pairs the actor may see (both accounts)."""
    from ..selectors.duplicates import duplicates_visible_to

    if not actor.has_perm(REVIEW_PERMISSION):
        raise PermissionDenied
    now = now or timezone.now()
    ids = list(candidates.values_list("pk", flat=True))
    return (
        duplicates_visible_to(actor)
        .filter(pk__in=ids, status=DuplicateStatus.OPEN)
        .update(status=DuplicateStatus.DISMISSED, reviewed_by=actor, reviewed_at=now)
    )


@transaction.atomic
def duplicates_reopen(*, candidates, actor) -> int:
    from ..selectors.duplicates import duplicates_visible_to

    if not actor.has_perm(REVIEW_PERMISSION):
        raise PermissionDenied
    ids = list(candidates.values_list("pk", flat=True))
    return (
        duplicates_visible_to(actor)
        .filter(pk__in=ids, status=DuplicateStatus.DISMISSED)
        .update(status=DuplicateStatus.OPEN, reviewed_by=actor, reviewed_at=timezone.now())
    )


def duplicates_forget(*, player, values=None) -> int:
    """An erasure: the pairs found from the player's personal data go with it (an erasure hook)."""
    from django.db.models import Q

    deleted, _ = DuplicateCandidate.objects.filter(Q(player_a=player) | Q(player_b=player)).delete()
    return deleted
