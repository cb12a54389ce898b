"""The greetings job's set-based path (PostgreSQL): a few INSERT ... SELECT and one
UPDATE ... FROM per batch of claimed greetings, instead of Python per player.

Every statement works on the greetings of one claim token (`g.claim = token`, the
`greeting_claim` index), inside the batch's transaction (see `greetings._greet_batch`).
The decisions that need Python (budgets, time zones, translated texts) are made by
the caller, once per batch, and come in as parameters; this module only writes.
Rows read the player as `p` (with `vt`, `u`: see `campaigns.sql_templating`) and the
player's gift of this greeting as `e`.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from django.db import connection

from crm.formatting import money
from players.models import Player

from ..models import (
    GiftEntry,
    GiftKind,
    Greeting,
    GreetingRule,
    GreetingStatus,
    Message,
    MessageStatus,
    OutreachTask,
    TaskKind,
)
from ..sql_templating import SqlValue, sql_template_joins

Sql = tuple[str, list]


def _execute(sql: str, params: list) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def _claimed_rows(*, source: str, with_gift: bool) -> Sql:
    """FROM ... for the claimed greetings with their player (and gift): append WHERE's params after."""
    sql = (
        f"FROM {Greeting._meta.db_table} g JOIN {Player._meta.db_table} p ON p.id = g.player_id {sql_template_joins()} "
    )
    if not with_gift:
        return sql, []
    return f"{sql} LEFT JOIN {GiftEntry._meta.db_table} e ON e.player_id = g.player_id AND e.source = %s ", [source]


def gift_description_sql(rule: GreetingRule) -> SqlValue | str:
    """`greetings.gift_description` of the greeting's gift, per row."""
    if not rule.gift_kind:
        return ""
    return SqlValue(
        "CASE WHEN e.id IS NULL THEN '' ELSE COALESCE(NULLIF(e.code, ''), NULLIF(e.item, ''), %s) END",
        (money(rule.gift_value),),
    )


def claims_insert(*, rule: GreetingRule, occasion: date, player_ids, token: str, now: datetime) -> int:
    """Claim these players' greetings under `token`; those already greeted are skipped."""
    sql = (
        f"INSERT INTO {Greeting._meta.db_table} (rule_id, player_id, occasion_date, status, claim, note, created_at) "
        "SELECT %s, c.id, %s, %s, %s, '', %s FROM unnest(%s::bigint[]) AS c(id) "
        "ON CONFLICT DO NOTHING"
    )
    return _execute(sql, [rule.pk, occasion, GreetingStatus.DONE, token, now, list(player_ids)])


def claimed_tier_ids(token: str) -> list[int]:
    return list(
        Greeting.objects.filter(claim=token, player__tier__isnull=False)
        .order_by()
        .values_list("player__tier_id", flat=True)
        .distinct()
    )


def claimed_zone_names(token: str) -> list[str]:
    return list(Greeting.objects.filter(claim=token).order_by().values_list("player__timezone", flat=True).distinct())


def gifts_insert(
    *, rule: GreetingRule, token: str, on: date, month: date, source: str, allowed: dict[int, int], now: datetime
) -> int:
    """The rule's gift for every claimed player, except beyond `allowed` (gifts per tier
    id, in player id order, as the Python path hands them out; other tiers: no limit).
    Codes come from gen_random_uuid() (a strong random source), like `greetings._gift_code`."""
    token_sql = "upper(left(replace(gen_random_uuid()::text, '-', ''), 10))"
    if rule.gift_kind != GiftKind.CODE:
        code_sql, code_params = "''", []
    elif rule.gift_item:
        code_sql, code_params = f"%s || '-' || {token_sql}", [rule.gift_item]
    else:
        code_sql, code_params = token_sql, []
    sql = (
        f"INSERT INTO {GiftEntry._meta.db_table} (player_id, tier_id, kind, item, code, value, month, given_on, "
        "source, reason, actor_id, created_at) "
        f"SELECT c.player_id, c.tier_id, %s, %s, {code_sql}, %s, %s, %s, %s, %s, NULL, %s FROM ("
        "SELECT g.player_id, p.tier_id, row_number() OVER (PARTITION BY p.tier_id ORDER BY g.player_id) AS n "
        f"FROM {Greeting._meta.db_table} g JOIN {Player._meta.db_table} p ON p.id = g.player_id "
        "WHERE g.claim = %s) c "
        "LEFT JOIN unnest(%s::bigint[], %s::bigint[]) AS a(tier_id, allowed) ON a.tier_id = c.tier_id "
        "WHERE a.tier_id IS NULL OR c.n <= a.allowed"
    )
    params = [
        rule.gift_kind,
        rule.gift_item if rule.gift_kind != GiftKind.CODE else "",
        *code_params,
        rule.gift_value,
        month,
        on,
        source,
        str(rule),
        now,
        token,
        list(allowed),
        list(allowed.values()),
    ]
    return _execute(sql, params)


def tasks_insert(*, token: str, source: str, title: Sql, script: Sql, due: date, with_gift: bool, now) -> int:
    """A call task per claimed greeting, for the player's manager."""
    rows, rows_params = _claimed_rows(source=source, with_gift=with_gift)
    sql = (
        f"INSERT INTO {OutreachTask._meta.db_table} (player_id, assignee_id, kind, title, script, due_date, status, "
        "outcome, note, source, campaign_id, created_by_id, created_at, completed_at) "
        f"SELECT g.player_id, p.manager_id, %s, left({title[0]}, 200), {script[0]}, %s, 'open', '', '', %s, "
        f"NULL, NULL, %s, NULL {rows}WHERE g.claim = %s "
        "ON CONFLICT DO NOTHING"
    )
    params = [TaskKind.GREETING, *title[1], *script[1], due, source, now, *rows_params, token]
    return _execute(sql, params)


def messages_insert(
    *,
    rule: GreetingRule,
    token: str,
    source: str,
    subject: Sql,
    body: Sql,
    send_at: dict[str, datetime],
    send_at_otherwise: datetime,
    blocked: tuple[str, str],
    now: datetime,
) -> int:
    """A message per claimed greeting, queued for `send_at[player.timezone]` (a zone
    missing there: `send_at_otherwise`); to players who opted out or are minors,
    cancelled with the reason (`blocked`: both reasons)."""
    rows, rows_params = _claimed_rows(source=source, with_gift=bool(rule.gift_kind))
    sql = (
        f"INSERT INTO {Message._meta.db_table} (player_id, channel, subject, body, is_marketing, status, "
        "scheduled_for, sent_at, attempts, last_error, status_reason, source, campaign_id, created_at) "
        f"SELECT g.player_id, %s, left({subject[0]}, 200), {body[0]}, true, "
        "CASE WHEN p.marketing_opt_out OR p.is_minor THEN %s ELSE %s END, COALESCE(z.send_at, %s), NULL, 0, '', "
        "CASE WHEN p.marketing_opt_out THEN %s WHEN p.is_minor THEN %s ELSE '' END, %s, NULL, %s "
        f"{rows}LEFT JOIN unnest(%s::text[], %s::timestamptz[]) AS z(zone, send_at) ON z.zone = p.timezone "
        "WHERE g.claim = %s ON CONFLICT DO NOTHING"
    )
    params = [
        rule.message_channel,
        *subject[1],
        *body[1],
        MessageStatus.CANCELLED,
        MessageStatus.QUEUED,
        send_at_otherwise,
        *blocked,
        source,
        now,
        *rows_params,
        list(send_at),
        list(send_at.values()),
        token,
    ]
    return _execute(sql, params)


def claims_link(*, token: str, source: str, task: bool, message: bool, gift: bool, notes: dict[int, str]) -> None:
    """Point each claimed greeting at its task, message and gift, found through the
    unique (player, source) indexes; greetings left without a gift get their tier's
    refusal note (`notes` by tier id). One UPDATE, so each greeting is written once."""
    sets, joins, params = [], [], []
    for wanted, column, alias, model in (
        (task, "task_id", "t", OutreachTask),
        (message, "message_id", "m", Message),
        (gift, "gift_id", "e", GiftEntry),
    ):
        if wanted:
            sets.append(f"{column} = {alias}.id")
            joins.append(
                f"LEFT JOIN {model._meta.db_table} {alias} ON {alias}.player_id = c.player_id AND {alias}.source = %s"
            )
            params.append(source)
    if notes:
        sets.append("note = COALESCE(CASE WHEN e.id IS NULL THEN n.note END, g.note)")
        joins.append(
            f"JOIN {Player._meta.db_table} p ON p.id = c.player_id "
            "LEFT JOIN unnest(%s::bigint[], %s::text[]) AS n(tier_id, note) ON n.tier_id = p.tier_id"
        )
        params.extend([list(notes), list(notes.values())])
    if not sets:
        return
    table = Greeting._meta.db_table
    sql = f"UPDATE {table} g SET {', '.join(sets)} FROM {table} c {' '.join(joins)} WHERE c.claim = %s AND g.id = c.id"
    _execute(sql, [*params, token])


def gifts_allowed(*, budget: Decimal, spent: Decimal, value: Decimal) -> int | None:
    """How many more gifts of `value` fit in a budget of which `spent` is spent (None: any
    number): what the Python path's one-by-one check `spent + value <= budget` admits."""
    if spent > budget:
        return 0
    if value == 0:
        return None
    return int((budget - spent) // value)
