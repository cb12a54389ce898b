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

from crm.channels import Channel
from players.models import Player
from players.selectors.minors import minor_sql

from .. import sql_dialect
from ..models import GiftEntry, Greeting, GreetingRule, GreetingStatus, Message, OutreachTask, TaskKind
from ..sql_templating import sql_template_joins
from .messaging import message_block_reason_sql

Sql = tuple[str, list]

TEXT_COLUMNS = ("title", "script", "subject", "body", "minor")


def claims_insert(*, rule: GreetingRule, occasion: date, player_ids, token: str, now: datetime) -> int:
    """Claim these players' greetings under `token`; those already greeted are skipped."""
    ids_sql, ids_params = sql_dialect.values_table("c", [("id", int)], [(pk,) for pk in player_ids])
    sql = (
        f"INSERT INTO {Greeting._meta.db_table} (rule_id, player_id, occasion_date, status, claim, note, created_at) "
        f"SELECT %s, c.id, %s, %s, %s, '', %s FROM {ids_sql} WHERE true "
        "ON CONFLICT DO NOTHING"
    )
    return sql_dialect.execute(sql, [rule.pk, occasion, GreetingStatus.DONE, token, now, *ids_params])


def claimed_players(token: str, *, today: date) -> Sql:
    """A SELECT of (player_id, tier_id) of the claimed greetings of adults (see
    `gifts.gifts_grant`): minors get no gift."""
    minor, minor_params = minor_sql("p", today)
    sql = (
        f"SELECT g.player_id, p.tier_id FROM {Greeting._meta.db_table} g "
        f"JOIN {Player._meta.db_table} p ON p.id = g.player_id WHERE g.claim = %s AND NOT COALESCE({minor}, false)"
    )
    return sql, [token, *minor_params]


def marketing_sql(today: date) -> Sql:
    """Whether the claimed player's greeting is marketing: to adults; to a minor it is a
    plain greeting (no gift, no spend prompt), under the service purpose."""
    minor, minor_params = minor_sql("p", today)
    return f"NOT COALESCE({minor}, false)", minor_params


def claimed_zone_names(token: str) -> list[str]:
    return list(Greeting.objects.filter(claim=token).order_by().values_list("player__timezone", flat=True).distinct())


def texts_table(rows: list[tuple]) -> Sql:
    """Texts rendered in Python, per player: (player_id, title, script, subject, body, minor)."""
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
    minor_script: Sql,
    due: date,
    with_gift: bool,
    texts: Sql | None,
    now,
    today: date,
) -> int:
    """A call task per claimed greeting, for the player's manager; a title the CRM
    writes also as its `title_code` and `title_params` (read in the reader's language).
    A minor's call has the minor's script; a call the player's consent does not allow
    (the phone, for marketing to adults and for service to minors) is cancelled with the
    reason (`messaging.message_block_reason_sql`, the one rule)."""
    rows, rows_params = _claimed_rows(source=source, with_gift=with_gift, texts=texts)
    marketing, marketing_params = marketing_sql(today)
    (joins, join_params), (reason, reason_params) = message_block_reason_sql(
        player_id="p.id",
        birthday="p.birthday",
        channel=Channel.PHONE,
        marketing=(marketing, marketing_params),
        today=today,
    )
    sql = (
        f"INSERT INTO {OutreachTask._meta.db_table} (player_id, assignee_id, kind, title, title_code, title_params, "
        "script, due_date, status, outcome, note, status_reason, source, campaign_id, created_by_id, created_at, "
        "completed_at) "
        "SELECT q.player_id, q.manager_id, %s, q.title, %s, %s, q.script, %s, "
        "CASE WHEN q.reason = '' THEN 'open' ELSE 'cancelled' END, '', '', q.reason, %s, NULL, NULL, %s, NULL "
        f"FROM (SELECT g.player_id, p.manager_id, substr({title[0]}, 1, 200) AS title, "
        f"CASE WHEN {marketing} THEN {script[0]} ELSE {minor_script[0]} END AS script, {reason} AS reason "
        f"{rows}{joins}WHERE g.claim = %s) q WHERE true "
        "ON CONFLICT DO NOTHING"
    )
    params = [
        TaskKind.GREETING,
        title_code,
        json.dumps(title_params),
        due,
        source,
        now,
        *title[1],
        *marketing_params,
        *script[1],
        *minor_script[1],
        *reason_params,
        *rows_params,
        *join_params,
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


def claims_note_minors(*, token: str, note: str, today: date) -> int:
    """Note on the claimed greetings of minors why they got no gift (the law: no
    marketing to minors), in place of a budget's note."""
    minor, minor_params = minor_sql("p", today)
    sql = (
        f"UPDATE {Greeting._meta.db_table} SET note = %s WHERE claim = %s AND player_id IN "
        f"(SELECT p.id FROM {Player._meta.db_table} p WHERE {minor})"
    )
    return sql_dialect.execute(sql, [note, token, *minor_params])
