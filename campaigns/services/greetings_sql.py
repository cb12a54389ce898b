"""The greetings job's statements: a few INSERT ... SELECT and one UPDATE ... FROM per
batch of claimed greetings, on SQLite and PostgreSQL alike (what differs between them
is in `campaigns.sql_dialect`).

Every statement works on the greetings of one claim token (`g.claim = token`, the
`greeting_claim` index), inside the batch's transaction (see `greetings._greet_batch`).
The decisions that need Python (budgets, time zones, translated texts) are made by the
caller, once per batch, and come in as parameters. Rows read the greeting as `g`, the
player as `p` (with `vt`, `u`: see `campaigns.sql_templating`), the player's gift of this
greeting as `e` and, when the texts are rendered in Python, the player's texts as `tx`.
"""

from __future__ import annotations

import json
from datetime import date, datetime

from players.models import Player

from .. import sql_dialect
from ..models import GiftEntry, Greeting, GreetingRule, GreetingStatus, Message, OutreachTask, TaskKind
from ..sql_templating import sql_template_joins

Sql = tuple[str, list]

TEXT_COLUMNS = ("title", "script", "subject", "body")


def claims_insert(*, rule: GreetingRule, occasion: date, player_ids, token: str, now: datetime) -> int:
    """Claim these players' greetings under `token`; those already greeted are skipped."""
    ids_sql, ids_params = sql_dialect.values_table("c", [("id", int)], [(pk,) for pk in player_ids])
    sql = (
        f"INSERT INTO {Greeting._meta.db_table} (rule_id, player_id, occasion_date, status, claim, note, created_at) "
        f"SELECT %s, c.id, %s, %s, %s, '', %s FROM {ids_sql} WHERE true "
        "ON CONFLICT DO NOTHING"
    )
    return sql_dialect.execute(sql, [rule.pk, occasion, GreetingStatus.DONE, token, now, *ids_params])


def claimed_players(token: str) -> Sql:
    """A SELECT of (player_id, tier_id) of the claimed greetings (see `gifts.gifts_grant`)."""
    sql = (
        f"SELECT g.player_id, p.tier_id FROM {Greeting._meta.db_table} g "
        f"JOIN {Player._meta.db_table} p ON p.id = g.player_id WHERE g.claim = %s"
    )
    return sql, [token]


def claimed_zone_names(token: str) -> list[str]:
    return list(Greeting.objects.filter(claim=token).order_by().values_list("player__timezone", flat=True).distinct())


def texts_table(rows: list[tuple]) -> Sql:
    """Texts rendered in Python, per player: (player_id, title, script, subject, body)."""
    return sql_dialect.values_table("tx", [("player_id", int)] + [(name, str) for name in TEXT_COLUMNS], rows)


def _claimed_rows(*, source: str, with_gift: bool, texts: Sql | None) -> Sql:
    """FROM ... for the claimed greetings with their player (and gift, and texts):
    append the WHERE's params after."""
    sql = (
        f"FROM {Greeting._meta.db_table} g JOIN {Player._meta.db_table} p ON p.id = g.player_id {sql_template_joins()} "
    )
    params = []
    if with_gift:
        sql += f"LEFT JOIN {GiftEntry._meta.db_table} e ON e.player_id = g.player_id AND e.source = %s "
        params.append(source)
    if texts is not None:
        sql += f"LEFT JOIN {texts[0]} ON tx.player_id = g.player_id "
        params.extend(texts[1])
    return sql, params


def tasks_insert(
    *,
    token: str,
    source: str,
    title: Sql,
    title_code: str,
    title_params: dict,
    script: Sql,
    due: date,
    with_gift: bool,
    texts: Sql | None,
    now,
) -> int:
    """A call task per claimed greeting, for the player's manager; a title the CRM
    writes also as its `title_code` and `title_params` (read in the reader's language)."""
    rows, rows_params = _claimed_rows(source=source, with_gift=with_gift, texts=texts)
    sql = (
        f"INSERT INTO {OutreachTask._meta.db_table} (player_id, assignee_id, kind, title, title_code, title_params, "
        "script, due_date, status, outcome, note, source, campaign_id, created_by_id, created_at, completed_at) "
        f"SELECT g.player_id, p.manager_id, %s, substr({title[0]}, 1, 200), %s, %s, {script[0]}, %s, 'open', '', "
        f"'', %s, NULL, NULL, %s, NULL {rows}WHERE g.claim = %s "
        "ON CONFLICT DO NOTHING"
    )
    params = [
        TaskKind.GREETING,
        *title[1],
        title_code,
        json.dumps(title_params),
        *script[1],
        due,
        source,
        now,
        *rows_params,
        token,
    ]
    return sql_dialect.execute(sql, params)


def messages_rows(*, token: str, source: str, with_gift: bool, texts: Sql | None, send_at: dict[str, datetime]) -> Sql:
    """The claimed greetings as rows for `messaging.messages_insert_select`, with each
    player's send time by their time zone field as `z.send_at` (NULL: a zone not listed)."""
    rows, rows_params = _claimed_rows(source=source, with_gift=with_gift, texts=texts)
    zones, zones_params = sql_dialect.values_table("z", [("zone", str), ("send_at", datetime)], list(send_at.items()))
    return f"{rows}LEFT JOIN {zones} ON z.zone = p.timezone WHERE g.claim = %s", [*rows_params, *zones_params, token]


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
        notes_sql, notes_params = sql_dialect.values_table("n", [("tier_id", int), ("note", str)], list(notes.items()))
        sets.append("note = COALESCE(CASE WHEN e.id IS NULL THEN n.note END, c.note)")
        joins.append(
            f"JOIN {Player._meta.db_table} p ON p.id = c.player_id LEFT JOIN {notes_sql} ON n.tier_id = p.tier_id"
        )
        params.extend(notes_params)
    if not sets:
        return
    table = Greeting._meta.db_table
    sql = (
        f"UPDATE {table} AS g SET {', '.join(sets)} FROM {table} c {' '.join(joins)} WHERE c.claim = %s AND g.id = c.id"
    )
    sql_dialect.execute(sql, [*params, token])
