"""Queueing and delivering automatic messages, with the fatigue rules every automatic
message obeys (campaigns, greetings, anything later).

- `message_queue` records one message, idempotent per (player, source). A message
  without a live consent for its channel and purpose (`players.selectors.consents`:
  marketing, or service for a case update), or marketing to a minor, is recorded as
  cancelled with the reason; delivery checks again, and a refusal or withdrawal cancels
  what is queued at once (`messages_cancel_refused`). Commercial SMS carry the opt-out
  suffix. The targeting of campaigns and greetings reads the same rule
  (`message_block_reason_sql`).
- `messages_deliver_due` sends what is due through the channel backends
  (`campaigns.channels`): at most `CRM_MESSAGES_PER_WEEK` messages per player in any
  rolling 7 days (0 = no cap) and none in quiet hours (`CRM_QUIET_HOURS`, in the
  player's time zone, `CRM_PLAYER_DEFAULT_TIMEZONE` when they have none). A capped or
  quiet message is postponed to when it may go, never dropped. A failed delivery is
  recorded on the message (attempts, last error) and retried after 1, 2, 4 ...
  × `CRM_MESSAGE_RETRY_BASE_SECONDS`, then marked failed after `CRM_MESSAGE_MAX_ATTEMPTS`
  attempts (or at once when retrying cannot help). Every message sent writes the
  contact log.

Two workers may run `messages_deliver_due` at once: each message is claimed with
SELECT ... FOR UPDATE SKIP LOCKED in its own transaction, and the player's row is locked
while the weekly cap is counted, so neither a message nor the cap is doubled. Delivery
is at least once: a worker that dies after the backend accepted a message but before
its commit leaves it to be sent again (webhooks carry an Idempotency-Key for that).
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from functools import partial
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.channels import MESSAGE_CHANNELS, Channel
from crm.workdays import StatutoryHoliday, statutory_break
from players.models import ConsentPurpose, ContactOutcome, Player
from players.selectors.consents import consent_block_reason, consent_block_reason_sql, consent_join_sql
from players.selectors.persons import person_of
from players.services import contact_log_create

from .. import sql_dialect
from ..channels import ChannelBackend, ChannelNotConfigured, DeliveryError, SendResult, backend_for
from ..models import (
    NO_SEND_ALL_HOLIDAYS,
    Campaign,
    Message,
    MessageReason,
    MessageStatus,
    NoSendDay,
    OutreachTask,
    TaskKind,
    TaskStatus,
)

logger = logging.getLogger("campaigns.messages")

Sql = tuple[str, list]

DUE_STATUSES = (MessageStatus.QUEUED, MessageStatus.POSTPONED)
# Messages that count as sent for the fatigue cap: sent, and handed to a provider.
OUT_STATUSES = (MessageStatus.SENT, MessageStatus.SENDING)
WEEK = timedelta(days=7)
# A message handed to a provider with no answer recorded after this: the worker died
# mid-call. It is not sent again (the provider may have it); its receipt settles it.
SENDING_ABANDONED_AFTER = timedelta(minutes=30)


def message_purpose(is_marketing: bool) -> str:
    """The consent purpose a message needs: marketing, or service (a case update, a
    minor's greeting)."""
    return ConsentPurpose.MARKETING if is_marketing else ConsentPurpose.SERVICE


def message_block_reason(*, player: Player, channel: str, is_marketing: bool, today: date | None = None) -> str:
    """Why `player` may not get a message on `channel` (a `MessageReason` code), or "":
    the consent ledger's rule (`players.selectors.consents`), with minors never marketed to."""
    return consent_block_reason(player=player, channel=channel, purpose=message_purpose(is_marketing), today=today)


def message_block_reason_sql(
    *, player_id: str, birthday: str, channel: str, marketing: Sql, today: date | None = None
) -> tuple[Sql, Sql]:
    """`message_block_reason` in SQL for rows that have the player's id and birthday as
    the columns `player_id` and `birthday`, with a marketing flag that may differ per row
    (`marketing`: an SQL boolean and its params, or "true"/"false"). Returns (the LEFT
    JOINs to add to the rows' FROM, the reason expression)."""
    joins, join_params, cases = "", [], []
    for purpose, alias in ((ConsentPurpose.MARKETING, "consent_m"), (ConsentPurpose.SERVICE, "consent_s")):
        if marketing[0] == ("false" if purpose == ConsentPurpose.MARKETING else "true"):
            continue
        sql, params = consent_join_sql(player_id=player_id, alias=alias, channel=channel, purpose=purpose)
        joins += sql
        join_params += params
        cases.append(
            consent_block_reason_sql(consent=alias, birthday=birthday, channel=channel, purpose=purpose, today=today)
        )
    if len(cases) == 1:
        return (joins, join_params), cases[0]
    (as_marketing, m_params), (as_service, s_params) = cases
    expression = f"CASE WHEN {marketing[0]} THEN {as_marketing} ELSE {as_service} END"
    return (joins, join_params), (expression, [*marketing[1], *m_params, *s_params])


def opt_out_suffix(channel: str, is_marketing: bool) -> str:
    """What a message on `channel` must end with: commercial SMS say how to refuse
    (CRM_SMS_OPT_OUT_SUFFIX, MIIT Order 31); nothing else does."""
    if channel == Channel.SMS and is_marketing:
        return getattr(settings, "CRM_SMS_OPT_OUT_SUFFIX", "")
    return ""


def message_body_lawful(body: str, *, channel: str, is_marketing: bool) -> str:
    """`body` ending with the channel's opt-out suffix (once)."""
    suffix = opt_out_suffix(channel, is_marketing)
    if not suffix or body.rstrip().endswith(suffix):
        return body
    return f"{body.rstrip()} {suffix}"


def _body_lawful_sql(body: str, channel: str, marketing: str) -> Sql:
    """`message_body_lawful` in SQL, over the column `body` and the boolean `marketing`."""
    suffix = opt_out_suffix(channel, True)
    if not suffix:
        return body, []
    ends = f"(length(rtrim({body})) >= %s AND substr(rtrim({body}), length(rtrim({body})) - %s + 1) = %s)"
    return (
        f"CASE WHEN {marketing} AND NOT {ends} THEN rtrim({body}) || %s ELSE {body} END",
        [len(suffix), len(suffix), suffix, f" {suffix}"],
    )


@transaction.atomic
def message_queue(
    *,
    player: Player,
    channel: str,
    body: str,
    subject: str = "",
    source: str,
    is_marketing: bool = True,
    send_at: datetime | None = None,
    **fields,
) -> Message:
    """Queue one message for delivery at `send_at` (default now).

    Idempotent per (player, source) by the unique constraint: a second call with the
    same source returns the existing message unchanged. A message without a live consent
    for its channel and purpose (marketing, or service when not `is_marketing`: a case
    update), or marketing to a minor, is stored as cancelled with the reason, never sent.
    A commercial SMS ends with the opt-out suffix. `fields` sets further Message fields
    (e.g. a campaign). `messages_insert_select` is its bulk twin.

    A message is the VIP person's: for a linked account it goes to the main account (the
    person's consents, contact details and preferences), once per source for the person.
    """
    player = person_of(player)
    if source:
        existing = Message.objects.filter(player=player, source=source).first()
        if existing:
            return existing
    reason = message_block_reason(player=player, channel=channel, is_marketing=is_marketing)
    message = Message(
        player=player,
        channel=channel,
        subject=subject,
        body=message_body_lawful(body, channel=channel, is_marketing=is_marketing),
        is_marketing=is_marketing,
        source=source,
        scheduled_for=send_at or timezone.now(),
        status=MessageStatus.CANCELLED if reason else MessageStatus.QUEUED,
        status_reason=reason,
        **fields,
    )
    message.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            message.save(force_insert=True)
    except IntegrityError:
        # A concurrent call with the same source won: the constraint decided.
        existing = Message.objects.filter(player=player, source=source).first()
        if existing is None:
            raise
        return existing
    return message


def messages_insert_select(
    *,
    rows: Sql,
    channel: str,
    subject: Sql,
    body: Sql,
    send_at: Sql,
    source: str,
    campaign_id: int | None,
    now: datetime,
    marketing: Sql = ("true", []),
) -> int:
    """`message_queue`'s bulk twin: one message per row of `rows` (a "FROM ... WHERE ..."
    reading the player as `p`), with the same rules: idempotent per (player, source);
    cancelled with the reason without a live consent for the channel and purpose (and
    marketing to minors); commercial SMS end with the opt-out suffix. `subject`, `body`,
    `send_at` and `marketing` (whether the row's message is marketing, else service)
    are SQL expressions per row. A player erased on request gets none. A row of a linked
    account is the VIP person's message: addressed to the main account (its consents,
    birthday, contact details), once per person and source however many of their accounts
    the rows hold. Returns rows inserted."""
    rows_sql, rows_params = rows
    # The consent check reads the rows' players once more, joined to their consents.
    constant = marketing[0] in ("true", "false")
    (joins, join_params), (reason_sql, reason_params) = message_block_reason_sql(
        player_id="q.player_id",
        birthday="pm.birthday",
        channel=channel,
        marketing=marketing if constant else ("q.marketing", []),
        today=timezone.localdate(now),
    )
    body_sql, body_params = _body_lawful_sql("q.body", channel, "q.marketing")
    sql = (
        f"INSERT INTO {Message._meta.db_table} (player_id, channel, subject, body, is_marketing, status, "
        "scheduled_for, sent_at, attempts, last_error, status_reason, status_params, source, campaign_id, "
        "created_at) "
        f"SELECT q.player_id, %s, q.subject, {body_sql}, q.marketing, "
        f"CASE WHEN ({reason_sql}) = '' THEN %s ELSE %s END, q.send_at, NULL, 0, '', {reason_sql}, '{{}}', "
        "%s, %s, %s "
        f"FROM (SELECT COALESCE(p.person_account_id, p.id) AS player_id, "
        f"substr({subject[0]}, 1, 200) AS subject, {body[0]} AS body, {send_at[0]} AS send_at, "
        f"{marketing[0]} AS marketing {rows_sql}) q "
        f"JOIN {Player._meta.db_table} pm ON pm.id = q.player_id "
        f"{joins}WHERE pm.erased_at IS NULL ON CONFLICT DO NOTHING"
    )
    params = [
        channel,
        *body_params,
        *reason_params,
        MessageStatus.QUEUED,
        MessageStatus.CANCELLED,
        *reason_params,
        source,
        campaign_id,
        now,
        *subject[1],
        *body[1],
        *send_at[1],
        *marketing[1],
        *rows_params,
        *join_params,
    ]
    return sql_dialect.execute(sql, params)


# --- Fatigue rules -------------------------------------------------------------


def _parse_time(value) -> time:
    if isinstance(value, time):
        return value
    hours, _sep, minutes = str(value).partition(":")
    return time(int(hours), int(minutes or 0))


def player_zone(player: Player) -> ZoneInfo:
    return player_zone_named(player.timezone)


def player_zone_named(name: str) -> ZoneInfo:
    """The zone of a player whose time zone field reads `name`: that zone, else
    CRM_PLAYER_DEFAULT_TIMEZONE, else TIME_ZONE, skipping names that are not zones."""
    for candidate in (name, getattr(settings, "CRM_PLAYER_DEFAULT_TIMEZONE", ""), settings.TIME_ZONE):
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def quiet_hours_end(*, player: Player, at: datetime) -> datetime | None:
    """When the quiet hours around `at` end for this player, or None if `at` is not quiet."""
    start, end = (_parse_time(v) for v in getattr(settings, "CRM_QUIET_HOURS", ("22:00", "09:00")))
    return _window_end(player=player, at=at, start=start, end=end)


def sms_daytime_start(*, player: Player, at: datetime) -> datetime | None:
    """When a promotional SMS may go (CRM_SMS_MARKETING_HOURS, the player's time zone),
    or None if it may go at `at`."""
    start, end = (_parse_time(v) for v in getattr(settings, "CRM_SMS_MARKETING_HOURS", ("08:00", "21:00")))
    # Outside the daytime window is a quiet window from its end to its start.
    return _window_end(player=player, at=at, start=end, end=start)


def _window_end(*, player: Player, at: datetime, start: time, end: time) -> datetime | None:
    """When the window [start, end) of local time (crossing midnight if start > end)
    around `at` ends for this player, or None if `at` is outside it."""
    if start == end:
        return None
    zone = player_zone(player)
    local = at.astimezone(zone)
    now_t = local.time()
    quiet = (now_t >= start or now_t < end) if start > end else (start <= now_t < end)
    if not quiet:
        return None
    day = local.date() if now_t < end else local.date() + timedelta(days=1)
    return datetime.combine(day, end, tzinfo=zone).astimezone(UTC)


def message_caps() -> dict[str, tuple[str, int]]:
    """Each message channel's cap on marketing messages: (calendar period, count), from
    CRM_MESSAGE_CAPS, else CRM_MESSAGES_PER_WEEK a week; channels without a cap left out."""
    weekly = getattr(settings, "CRM_MESSAGES_PER_WEEK", 2)
    caps = dict.fromkeys(MESSAGE_CHANNELS, ("week", weekly))
    caps.update(getattr(settings, "CRM_MESSAGE_CAPS", {}) or {})
    return {channel: (period, count) for channel, (period, count) in caps.items() if count == "days" or count > 0}


def cap_period_bounds(*, zone: ZoneInfo, at: datetime, period: str) -> tuple[datetime, datetime]:
    """The player's calendar day, week (Monday to Sunday) or month around `at`, in their
    time zone, as (start, end) instants."""
    day = at.astimezone(zone).date()
    if period == "day":
        start, end = day, day + timedelta(days=1)
    elif period == "week":
        start = day - timedelta(days=day.weekday())
        end = start + timedelta(days=7)
    else:
        start = day.replace(day=1)
        end = (start + timedelta(days=32)).replace(day=1)
    return (
        datetime.combine(start, time(0), tzinfo=zone).astimezone(UTC),
        datetime.combine(end, time(0), tzinfo=zone).astimezone(UTC),
    )


def channel_cap_until(*, message: Message, player: Player, at: datetime) -> tuple[datetime | None, str, dict]:
    """(when, why, parameters) if the channel's cap holds this marketing message back at
    `at`, else (None, "", {}): `messages_cap_decide` asked about one message."""
    for _id, _zone, until, reason, params in messages_cap_decide(at=at, ids=[message.pk], zones={player.timezone}):
        return until, reason, params
    return None, "", {}


def messages_cap_decide(
    *, at: datetime, ids: list[int] | None = None, zones: set[str] | None = None
) -> list[tuple[int, str, datetime, str, dict]]:
    """The channel caps and campaign priority, the one rule, set-based: which of the
    marketing messages `ids` (default: every due one) the channel's cap holds back at `at`,
    as (message id, the player's time zone field, until, why, parameters).

    Counted in the player's calendar period (`cap_period_bounds`, in their time zone):
    messages sent (or handed to a provider) on the channel for marketing; at the cap, the
    message waits for the next period (`channel_cap`). While a slot is left, due messages
    of higher-priority campaigns for the same player and channel take the slots first:
    when they fill them, this one waits for the next period naming the highest of them
    (`cap_priority`). Service messages are never capped. `zones`: the players' time zone
    fields when the caller knows them (else read)."""
    caps = message_caps()
    if not caps or (ids is not None and not ids):
        return []
    table, campaigns, players = Message._meta.db_table, Campaign._meta.db_table, Player._meta.db_table
    # The pool: the candidates, and every due marketing message of their players (the
    # rivals). With `ids`, the candidates' players' due messages join them.
    due, due_params = "m.status IN (%s, %s) AND m.scheduled_for <= %s", [*DUE_STATUSES, at]
    if ids is not None:
        ids_sql, ids_params = sql_dialect.values_table("c", [("id", int)], [(i,) for i in ids])
        pool_where = (
            f"m.player_id IN (SELECT w.player_id FROM {table} w JOIN {ids_sql} ON c.id = w.id) "
            f"AND ({due} OR m.id IN (SELECT c.id FROM {ids_sql}))"
        )
        pool_params = [*ids_params, *due_params, *ids_params]
        candidate, candidate_params = f"m.id IN (SELECT c.id FROM {ids_sql})", ids_params
    else:
        pool_where, pool_params = due, due_params
        candidate, candidate_params = "1 = 1", []
    if zones is None:
        zones = {
            zone
            for (zone,) in sql_dialect.fetchall(
                f"SELECT DISTINCT p.timezone FROM {table} m JOIN {players} p ON p.id = m.player_id "
                f"WHERE m.is_marketing AND {pool_where}",
                pool_params,
            )
        }
    bounds, rows = {}, []
    for channel, (period, limit) in caps.items():
        for name in zones:
            zone = player_zone_named(name)
            start, end = cap_period_bounds(zone=zone, at=at, period=period)
            if limit == "days":  # as many as the player's month has days (WeCom's default rule)
                limit_here = (end.astimezone(zone) - start.astimezone(zone)).days
            else:
                limit_here = limit
            bounds[channel, name] = (end, period, limit_here)
            rows.append((channel, name, start, end, limit_here))
    caps_sql, caps_params = sql_dialect.values_table(
        "cap",
        [("channel", str), ("zone", str), ("period_start", datetime), ("period_end", datetime), ("cap", int)],
        rows,
    )
    # Per player and channel, ranked by campaign priority (0 without a campaign): the rivals
    # of a message are the pool's messages that outrank it; the first of the ranking names
    # the campaign that takes the slot. What was sent in the period is counted once a message.
    sql = (
        "WITH pool AS MATERIALIZED ("
        "SELECT m.id, m.player_id, m.channel, m.scheduled_for, p.timezone AS tz, cap.cap, cap.period_start, "
        f"cap.period_end, COALESCE(mc.priority, 0) AS rank_key, mc.name AS campaign_name, "
        f"CASE WHEN {candidate} THEN 1 ELSE 0 END AS candidate "
        f"FROM {table} m JOIN {players} p ON p.id = m.player_id LEFT JOIN {campaigns} mc ON mc.id = m.campaign_id "
        f"JOIN {caps_sql} ON cap.channel = m.channel AND cap.zone = p.timezone "
        f"WHERE m.is_marketing AND {pool_where}), "
        "ranked AS MATERIALIZED ("
        "SELECT pool.id, pool.channel, pool.tz, pool.cap, pool.candidate, "
        "RANK() OVER (PARTITION BY pool.player_id, pool.channel ORDER BY pool.rank_key DESC) - 1 AS rivals, "
        "FIRST_VALUE(pool.campaign_name) OVER (PARTITION BY pool.player_id, pool.channel "
        "ORDER BY pool.rank_key DESC, pool.scheduled_for, pool.id) AS first_campaign, "
        f"(SELECT COUNT(*) FROM {table} s WHERE s.player_id = pool.player_id AND s.channel = pool.channel "
        "AND s.is_marketing AND s.status IN (%s, %s) AND s.sent_at >= pool.period_start "
        "AND s.sent_at < pool.period_end) AS sent "
        "FROM pool) "
        "SELECT id, channel, tz, sent, first_campaign FROM ranked "
        "WHERE candidate = 1 AND (sent >= cap OR rivals >= cap - sent)"
    )
    params = [*candidate_params, *caps_params, *pool_params, *OUT_STATUSES]
    held = []
    for message_id, channel, zone, sent, rival_name in sql_dialect.fetchall(sql, params):
        until, period, limit = bounds[channel, zone]
        params = {"cap": limit, "channel": channel, "period": period}
        if sent >= limit:
            held.append((message_id, zone, until, MessageReason.CHANNEL_CAP, params))
        else:
            held.append((message_id, zone, until, MessageReason.CAP_PRIORITY, {**params, "campaign": rival_name}))
    return held


def messages_cap_hold(*, now: datetime, ids: list[int] | None = None) -> set[int]:
    """Postpone at once what the caps hold back among `ids` (default: every due message),
    set-based (`messages_cap_decide`), to when it may go with why (`fatigue_postpone_until`'s
    windows, the same for every message of a time zone and period). Delivery runs it over
    each run's messages before sending any; returns the ids held. A message another worker
    handled meanwhile is left as that worker left it."""
    decided = messages_cap_decide(at=now, ids=ids)
    # Greetings pass the no-sending days that do not hold greetings: they are grouped apart.
    greetings = (
        set(
            Message.objects.filter(
                pk__in=[d[0] for d in decided], source__startswith=GREETING_SOURCE_PREFIX
            ).values_list("pk", flat=True)
        )
        if decided
        else set()
    )
    groups: dict[tuple, list[int]] = {}
    for message_id, zone, until, reason, params in decided:
        key = (zone, until, reason, json.dumps(params, sort_keys=True), message_id in greetings)
        groups.setdefault(key, []).append(message_id)
    held = set()
    for (zone, until, reason, params, greeting), group in groups.items():
        params = json.loads(params)
        until, reasons, params = _fatigue_windows(
            channel=params["channel"],
            is_marketing=True,
            greeting=greeting,
            player=Player(timezone=zone),
            at=now,
            until=until,
            reason=reason,
            params=params,
        )
        for start in range(0, len(group), 10000):
            chunk = group[start : start + 10000]
            Message.objects.filter(pk__in=chunk, status__in=DUE_STATUSES, scheduled_for__lte=now).update(
                status=MessageStatus.POSTPONED, scheduled_for=until, status_reason=reasons, status_params=params
            )
            held.update(chunk)
    return held


GREETING_SOURCE_PREFIX = "greeting:"  # a greeting's message's source (greetings.greeting_source)


def message_is_greeting(source: str) -> bool:
    """Whether a message is a greeting (birthday, festival): its source names a greeting rule."""
    return source.startswith(GREETING_SOURCE_PREFIX)


def fatigue_postpone_until(*, message: Message, player: Player, at: datetime) -> tuple[datetime | None, str, dict]:
    """(when the message may go, why: `MessageReason` codes, their parameters) if the
    fatigue rules hold it back at `at`, else (None, "", {}): the channel's cap (marketing
    only), quiet hours, the no-sending days (marketing; greetings only on days that hold
    them too), and for a promotional SMS the daytime (CRM_SMS_MARKETING_HOURS)."""
    until, reason, params = channel_cap_until(message=message, player=player, at=at)
    return _fatigue_windows(
        channel=message.channel,
        is_marketing=message.is_marketing,
        greeting=message_is_greeting(message.source),
        player=player,
        at=at,
        until=until,
        reason=reason,
        params=params,
    )


def _fatigue_windows(
    *,
    channel: str,
    is_marketing: bool,
    greeting: bool,
    player: Player,
    at: datetime,
    until: datetime | None,
    reason: str,
    params: dict,
) -> tuple[datetime | None, str, dict]:
    """The cap's answer (`until`, `reason`, `params`) moved past the windows in which
    nothing goes (quiet hours; for marketing the no-sending days, for a greeting only those
    that hold greetings too; for a promotional SMS the night), in the player's time zone."""
    reasons = [reason] if reason else []
    windows = [(MessageReason.QUIET_HOURS, quiet_hours_end)]
    if is_marketing:
        windows.append((MessageReason.NO_SEND_DAY, partial(no_send_day_end, greeting=greeting)))
    if channel == Channel.SMS and is_marketing:
        windows.append((MessageReason.SMS_DAYTIME, sms_daytime_start))
    for _round in range(3):  # the end of one window may fall in the other (quiet till 09:00, day from 08:00)
        moved = False
        for reason, window_end in windows:
            before = until or at
            later = window_end(player=player, at=before)
            if later:
                if reason == MessageReason.NO_SEND_DAY and "day" not in params:
                    params["day"] = before.astimezone(player_zone(player)).date().isoformat()
                until, moved = later, True
                if reason not in reasons:
                    reasons.append(reason)
        if not moved:
            break
    if MessageReason.SMS_DAYTIME in reasons:
        params["start"], params["end"] = (str(v) for v in settings.CRM_SMS_MARKETING_HOURS)
    return until, " ".join(reasons), params


NO_SEND_HORIZON_DAYS = 62


class NoSendCalendar:
    """Which days no marketing goes out, from the `NoSendDay` rows read once: the dates
    declared, and the breaks of the statutory holidays chosen as the one calendar service
    (`crm.workdays.statutory_break`) has them. With `greeting`, the days no greeting goes
    out: only those that hold greetings too (`NoSendDay.greetings_too`)."""

    def __init__(self, first: date, last: date, *, greeting: bool = False):
        self.dates, self.holidays = {}, {}
        rows = NoSendDay.objects.filter(Q(date__gte=first, date__lte=last) | Q(date__isnull=True))
        if greeting:
            rows = rows.filter(greetings_too=True)
        for day, holiday, note in rows.values_list("date", "holiday", "note"):
            if day is None:
                self.holidays[holiday] = note
            else:
                self.dates[day] = note

    def why(self, day: date) -> str | None:
        """None on a day marketing goes out; else why not (the note, else the holiday)."""
        if day in self.dates:
            return self.dates[day] or str(_("No-sending day"))
        if self.holidays:
            holidays = statutory_break(day)
            for holiday, note in self.holidays.items():
                if holidays and (holiday == NO_SEND_ALL_HOLIDAYS or holiday in holidays):
                    if note:
                        return note
                    named = [str(StatutoryHoliday(h).label) for h in sorted(holidays) if h in StatutoryHoliday.values]
                    return " · ".join(named) or str(_("Statutory holiday"))
        return None


def no_send_days(first: date, last: date, *, greeting: bool = False) -> dict[date, str]:
    """{day: why} for the no-sending days in [first, last] (with `greeting`: those that hold
    greetings too)."""
    calendar = NoSendCalendar(first, last, greeting=greeting)
    found = {}
    day = first
    while day <= last:
        why = calendar.why(day)
        if why is not None:
            found[day] = why
        day += timedelta(days=1)
    return found


def no_send_day_end(*, player: Player, at: datetime, greeting: bool = False) -> datetime | None:
    """The start of the player's next local day that is not a no-sending day, if `at`
    falls on one, else None (for a greeting: counting only the days that hold greetings too)."""
    zone = player_zone(player)
    day = at.astimezone(zone).date()
    calendar = NoSendCalendar(day, day + timedelta(days=NO_SEND_HORIZON_DAYS), greeting=greeting)
    if calendar.why(day) is None:
        return None
    for _n in range(NO_SEND_HORIZON_DAYS):
        day += timedelta(days=1)
        if calendar.why(day) is None:
            break
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


# --- Delivery ------------------------------------------------------------------


def retry_delay(attempts: int) -> timedelta:
    base = getattr(settings, "CRM_MESSAGE_RETRY_BASE_SECONDS", 60)
    return timedelta(seconds=base * (2 ** max(attempts - 1, 0)))


def messages_deliver_due(*, now: datetime | None = None, limit: int = 1000) -> dict:
    """Send up to `limit` due messages. Returns counts by what happened:
    sent, postponed, retrying, failed, cancelled, skipped (claimed by another worker),
    uncertain (handed to a provider that did not answer: not sent again), task (held by the
    provider as a task a person confirms: WeCom).

    A backend that sends in batches (`batch_size` > 1, the SMS providers) gets the
    messages that pass the rules claimed (status sending, counted by the cap) and
    committed before the call, in batches of its size, each address once a batch."""
    now = now or timezone.now()
    counts = Counter(
        {"sent": 0, "postponed": 0, "retrying": 0, "failed": 0, "cancelled": 0, "skipped": 0, "uncertain": 0}
    )
    counts["uncertain"] += _messages_sending_abandoned(now=now)
    ids = list(
        Message.objects.filter(status__in=DUE_STATUSES, scheduled_for__lte=now)
        .order_by("scheduled_for", "id")
        .values_list("id", flat=True)[:limit]
    )
    # What the caps hold back goes at once, set-based, before anything is sent; the rest
    # is checked again one by one under the player's lock (another run may have sent some).
    held = messages_cap_hold(now=now, ids=ids)
    counts["postponed"] += len(held)
    backends: dict[str, ChannelBackend | ChannelNotConfigured] = {}
    batches: dict[tuple[str, str], dict[str, Message]] = {}  # (channel, group) -> address -> claimed message
    for message_id in ids:
        if message_id in held:
            continue
        outcome, message = _message_deliver_one(message_id=message_id, now=now, backends=backends)
        if outcome != "claimed":
            counts[outcome] += 1
            continue
        backend = backends[message.channel]
        key = (message.channel, backend.batch_group(message))
        batch = batches.setdefault(key, {})
        address = backend.batch_key(message)
        if address in batch:  # the same phone twice: the first batch goes first
            counts.update(_batch_send(backend=backend, messages=list(batch.values()), now=now))
            batch.clear()
        batch[address] = message
        if len(batch) >= backend.batch_size:
            counts.update(_batch_send(backend=backend, messages=list(batch.values()), now=now))
            batch.clear()
    for (channel, _group), batch in batches.items():
        if batch:
            counts.update(_batch_send(backend=backends[channel], messages=list(batch.values()), now=now))
    if ids:
        logger.info("messages delivered: %s", dict(counts))
    return dict(counts)


def _backend(channel: str, backends: dict) -> ChannelBackend | ChannelNotConfigured:
    if channel not in backends:
        try:
            backends[channel] = backend_for(channel)
        except ChannelNotConfigured as exc:
            backends[channel] = exc
    return backends[channel]


@transaction.atomic
def _message_deliver_one(*, message_id: int, now: datetime, backends: dict) -> tuple[str, Message | None]:
    message = (
        Message.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("player", "campaign")
        .filter(pk=message_id, status__in=DUE_STATUSES, scheduled_for__lte=now)
        .first()
    )
    if message is None:
        return "skipped", None  # another worker has it, or already handled it
    # Serialise per player, so two workers cannot both pass the weekly cap.
    player = Player.objects.select_for_update().get(pk=message.player_id)
    message.player = player

    # The consent in force now, not when it was queued (a withdrawal cancels what is queued).
    if reason := message_block_reason(
        player=player, channel=message.channel, is_marketing=message.is_marketing, today=timezone.localdate(now)
    ):
        _message_set(message, status=MessageStatus.CANCELLED, status_reason=reason, status_params={})
        return "cancelled", message

    until, reason, params = fatigue_postpone_until(message=message, player=player, at=now)
    if until:
        _message_set(
            message, status=MessageStatus.POSTPONED, scheduled_for=until, status_reason=reason, status_params=params
        )
        return "postponed", message

    attempts = message.attempts + 1
    backend = _backend(message.channel, backends)
    if isinstance(backend, ChannelNotConfigured):
        # Never "sent" by a fallback: a supervisor sees the failure and its reason.
        _message_set(
            message,
            status=MessageStatus.FAILED,
            attempts=attempts,
            last_error="",  # ours, not a provider's: the reason says what to configure; the log has it
            status_reason=MessageReason.CHANNEL_NOT_CONFIGURED,
            status_params={"channel": message.channel, "attempt": attempts, "at": now.isoformat()},
        )
        logger.error("message %s failed: %s", message.pk, backend)
        return "failed", message
    if backend.batch_size > 1:
        # Claimed for the provider's batch: committed before the call, counted by the cap,
        # never picked up again by another run whatever happens to this one.
        _message_set(
            message,
            status=MessageStatus.SENDING,
            attempts=attempts,
            sent_at=now,
            provider_batch="",
            provider_ref="",
            status_reason="",
            status_params={},
        )
        return "claimed", message
    try:
        backend.send(message)
    except DeliveryError as exc:
        result = SendResult(
            message.pk,
            "failed" if exc.permanent else "retry",
            reason=exc.reason or MessageReason.DELIVERY_ERROR,
            params=exc.params if exc.reason else {"channel": message.channel},
            error=str(exc),
        )
        return _message_record_result(message, result, attempts, now), message
    except Exception as exc:
        logger.exception("channel backend %s crashed on message %s", message.channel, message.pk)
        result = SendResult(
            message.pk,
            "retry",
            reason=MessageReason.DELIVERY_ERROR,
            params={"channel": message.channel},
            error=f"{exc.__class__.__name__}: {exc}",
        )
        return _message_record_result(message, result, attempts, now), message
    return _message_record_result(message, SendResult(message.pk, "sent"), attempts, now), message


def _batch_send(*, backend: ChannelBackend, messages: list[Message], now: datetime) -> Counter:
    """One provider call for claimed messages; each result recorded in its own transaction."""
    first = min(messages, key=lambda m: m.pk)
    # Our handle of the batch, from our ids (the first message's id and attempt): set
    # before the call, so a receipt of a batch whose answer was lost still finds them.
    handle = f"crm-{first.pk}-{first.attempts}"
    Message.objects.filter(pk__in=[m.pk for m in messages], status=MessageStatus.SENDING).update(provider_batch=handle)
    try:
        results = {result.message_id: result for result in backend.send_batch(messages, handle)}
    except Exception as exc:  # a bug in the backend: whether the provider has them is unknown
        logger.exception("channel backend %s crashed on batch %s", backend.channel, handle)
        results = {}
        error = f"{exc.__class__.__name__}: {exc}"
    else:
        error = ""  # the provider answered for the others: nothing of its own about this one
    counts = Counter()
    for message in messages:
        result = results.get(message.pk) or SendResult(
            message.pk,
            "uncertain",
            reason=MessageReason.PROVIDER_UNCERTAIN,
            params={"provider": getattr(backend, "provider", backend.channel)},
            error=error,
        )
        counts[_batch_result_record(message_id=message.pk, result=result, handle=handle, now=now)] += 1
    return counts


@transaction.atomic
def _batch_result_record(*, message_id: int, result: SendResult, handle: str, now: datetime) -> str:
    message = (
        Message.objects.select_for_update(of=("self",))
        .select_related("player")
        .filter(pk=message_id, status=MessageStatus.SENDING, provider_batch=handle)
        .first()
    )
    if message is None:
        return "skipped"  # a receipt settled it first
    return _message_record_result(message, result, message.attempts, now)


def _message_record_result(message: Message, result: SendResult, attempts: int, now: datetime) -> str:
    """Record what the backend made of a message: the one place for sent, retry, failed
    and uncertain, whichever way it was sent."""
    reason, params = result.reason, result.params or {}
    if result.outcome == "sent":
        _message_set(
            message,
            status=MessageStatus.SENT,
            attempts=attempts,
            sent_at=now,
            provider_ref=result.provider_ref[:64],
            status_reason="",
            status_params={},
        )
        _message_contact_log(message, now)
        return "sent"
    if result.outcome == "task":
        # The provider holds it as a task a person confirms (WeCom's add_msg_template):
        # still sending, counted by the cap; reading the task's results settles it.
        _message_set(
            message,
            status=MessageStatus.SENDING,
            attempts=attempts,
            sent_at=now,
            provider_ref=result.provider_ref[:64],
            status_reason=reason,
            status_params=params,
        )
        return "task"
    # The reason says it in the reader's language, with the attempt and its time (local
    # when read); the provider's own words stay beside it for a supervisor.
    error = result.error[:1000]
    params = {**params, "attempt": attempts, "at": now.isoformat()}
    if result.outcome == "uncertain":
        _message_set(
            message,
            status=MessageStatus.FAILED,
            attempts=attempts,
            last_error=error,
            status_reason=reason,
            status_params=params,
        )
        logger.warning("message %s: the provider may have it, not sent again: %s %s", message.pk, reason, error)
        return "uncertain"
    if result.outcome == "failed" or attempts >= settings.CRM_MESSAGE_MAX_ATTEMPTS:
        if result.outcome == "retry" and reason == MessageReason.PROVIDER_RETRY:
            reason = MessageReason.PROVIDER_REFUSED  # no attempt left: it will not be tried again
        _message_set(
            message,
            status=MessageStatus.FAILED,
            attempts=attempts,
            sent_at=None,
            last_error=error,
            status_reason=reason,
            status_params=params,
        )
        logger.warning("message %s failed for good: %s %s", message.pk, reason, error)
        return "failed"
    _message_set(
        message,
        status=MessageStatus.QUEUED,
        attempts=attempts,
        sent_at=None,
        last_error=error,
        scheduled_for=now + retry_delay(attempts),
        status_reason=reason,
        status_params=params,
    )
    return "retrying"


def _message_contact_log(message: Message, at: datetime, *, staff=None, sent: bool = True) -> None:
    contact_log_create(
        player=message.player,
        staff=staff,
        channel=message.channel,  # one channel registry: a message channel is a contact channel
        contacted_at=at,
        topic=message.subject[:200],  # the channel column names the channel, in the reader's language
        summary=message.body,
        outcome=ContactOutcome.MESSAGE_SENT if sent else ContactOutcome.MESSAGE_NOT_SENT,
        source=f"message:{message.pk}",
    )


@transaction.atomic
def message_task_result_record(*, message_id: int, task_ref: str, result: SendResult, at: datetime, staff=None) -> str:
    """What a provider's task (WeCom's group message, `provider_ref` = `task_ref`) made of a
    message, read back later: sent (at `at`, by `staff`) or not, recorded on the message and
    in the contact log either way. A message no longer waiting on that task is "skipped"."""
    message = (
        Message.objects.select_for_update(of=("self",))
        .select_related("player")
        .filter(pk=message_id, status=MessageStatus.SENDING, provider_ref=task_ref)
        .first()
    )
    if message is None:
        return "skipped"
    if result.outcome == "sent":
        _message_set(message, status=MessageStatus.SENT, sent_at=at, status_reason="", status_params={})
        _message_contact_log(message, at, staff=staff)
        return "sent"
    _message_set(
        message,
        status=MessageStatus.FAILED,
        sent_at=None,
        last_error=result.error[:1000],
        status_reason=result.reason,
        status_params=result.params or {},
    )
    # The reason stays on the message (read in the reader's language); the log says "not sent".
    _message_contact_log(message, at, staff=staff, sent=False)
    return "failed"


def messages_task_found(*, ids: list[int], lost_reason: str, task_ref: str, reason: str, params: dict) -> int:
    """A provider's task whose answer was lost was found after all (WeCom's list of group
    messages): its messages, failed for `lost_reason` (the provider may have it), wait on
    it as if the answer had come (`reason`, `params`), to be read back like any. A message
    retried or settled by hand meanwhile is left alone. How many now wait on it."""
    return Message.objects.filter(pk__in=ids, status=MessageStatus.FAILED, status_reason=lost_reason).update(
        status=MessageStatus.SENDING,
        provider_ref=task_ref[:64],
        status_reason=reason,
        status_params=params,
        last_error="",
    )


def _messages_sending_abandoned(*, now: datetime) -> int:
    """Messages a dead worker left handed to a provider with no answer: failed as
    uncertain (never sent again automatically); a receipt still settles them."""
    # A WeCom task (provider_ref set while sending) waits for its member's confirmation: not abandoned.
    abandoned = Message.objects.filter(
        status=MessageStatus.SENDING, provider_ref="", sent_at__lt=now - SENDING_ABANDONED_AFTER
    )
    count = 0
    for message in abandoned.only("pk", "channel"):
        try:
            provider = getattr(backend_for(message.channel), "provider", message.channel)
        except ChannelNotConfigured:
            provider = message.channel
        count += Message.objects.filter(pk=message.pk, status=MessageStatus.SENDING).update(
            status=MessageStatus.FAILED,
            status_reason=MessageReason.PROVIDER_UNCERTAIN,
            status_params={"provider": provider},
            last_error="",
        )
    return count


def _message_set(message: Message, **changes) -> None:
    for name, value in changes.items():
        setattr(message, name, value)
    message.save(update_fields=list(changes))


@transaction.atomic
def message_retry(*, message: Message, now: datetime | None = None) -> Message:
    """Put a failed (or postponed) message back in the queue, due now (admin action)."""
    if message.status not in (MessageStatus.FAILED, MessageStatus.POSTPONED, MessageStatus.QUEUED):
        raise ValidationError(_("Only failed, postponed or queued messages can be retried."))
    _message_set(
        message,
        status=MessageStatus.QUEUED,
        scheduled_for=now or timezone.now(),
        attempts=0,
        status_reason="",
        status_params={},
    )
    return message


@transaction.atomic
def message_cancel(*, message: Message, reason: str, params: dict | None = None) -> Message:
    """Cancel a message that has not been sent (admin action, a skipped greeting):
    `reason` is a `MessageReason` code with its `params`."""
    if message.status == MessageStatus.SENT:
        raise ValidationError(_("A sent message cannot be cancelled."))
    _message_set(message, status=MessageStatus.CANCELLED, status_reason=reason[:200], status_params=params or {})
    return message


def messages_cancel_erased(*, player_id: int) -> int:
    """The player's personal data was erased on request (players.services.privacy, through
    `campaigns.privacy`): every message not yet handed to a provider is cancelled, with
    the reason."""
    return Message.objects.filter(player_id=player_id, status__in=DUE_STATUSES).update(
        status=MessageStatus.CANCELLED, status_reason=MessageReason.ERASED, status_params={}
    )


def messages_cancel_refused(*, keys: list[tuple[int, str, str]], now: datetime) -> int:
    """A refusal or withdrawal came into force (players.services.consents hook): cancel
    the player's unsent messages of that channel and purpose, and their open campaign and
    greeting call tasks when it is the phone's marketing consent."""
    cancelled = 0
    today = timezone.localdate(now)
    for player_id, channel, purpose in keys:
        player = Player.objects.filter(pk=player_id).first()
        if player is None:
            continue
        is_marketing = purpose == ConsentPurpose.MARKETING
        reason = message_block_reason(player=player, channel=channel, is_marketing=is_marketing, today=today)
        if not reason:
            continue
        cancelled += Message.objects.filter(
            player_id=player_id, channel=channel, is_marketing=is_marketing, status__in=DUE_STATUSES
        ).update(status=MessageStatus.CANCELLED, status_reason=reason, status_params={})
        if channel == Channel.PHONE and is_marketing:
            cancelled += (
                OutreachTask.objects.filter(player_id=player_id, status=TaskStatus.OPEN)
                .filter(Q(campaign__isnull=False) | Q(kind=TaskKind.GREETING))
                .update(status=TaskStatus.CANCELLED, status_reason=reason)
            )
    return cancelled


# --- Delivery receipts -----------------------------------------------------------


def phone_digits(value) -> str:
    """A phone number as the providers write it in receipts: mainland China numbers as
    their 11 digits, others as country code and number (digits only)."""
    if value is None:
        return ""
    country = getattr(value, "country_code", None)
    if country is not None:  # a PhoneNumber
        national = str(value.national_number)
        return national if country == 86 else f"{country}{national}"
    digits = "".join(ch for ch in str(value) if ch.isdigit())
    if digits.startswith("00"):
        digits = digits[2:]
    if digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    return digits


def message_receipts_record(*, receipts: list, now: datetime | None = None) -> dict:
    """Delivery receipts from an SMS provider (`campaigns.channels.Receipt`, parsed by the
    receipt endpoint): a delivered message is sent and delivered (and in the contact log,
    if its send's answer was lost); an undelivered one fails with the provider's code
    and words. A receipt finds its message by the provider's id or our batch handle,
    and the phone; one for no message of ours is counted and dropped. A receipt given
    twice changes nothing more. Returns counts: delivered, undelivered, unmatched."""
    now = now or timezone.now()
    counts = Counter({"delivered": 0, "undelivered": 0, "unmatched": 0})
    refs = {r.provider_ref for r in receipts if r.provider_ref}
    batches = {r.batch for r in receipts if r.batch}
    index: dict[tuple[str, str], int] = {}
    if refs or batches:
        candidates = (
            Message.objects.filter(Q(provider_ref__in=refs) | Q(provider_batch__in=batches), channel=Channel.SMS)
            .exclude(status__in=DUE_STATUSES)
            .select_related("player")
            .only("pk", "provider_ref", "provider_batch", "player", "player__phone")
        )
        for message in candidates:
            phone = phone_digits(message.player.phone)
            if message.provider_ref:
                index[("ref", message.provider_ref, phone)] = message.pk
            if message.provider_batch:
                index[("batch", message.provider_batch, phone)] = message.pk
    for receipt in receipts:
        phone = phone_digits(receipt.phone)
        message_id = index.get(("ref", receipt.provider_ref, phone)) or index.get(("batch", receipt.batch, phone))
        if message_id is None:
            counts["unmatched"] += 1
            continue
        counts[_receipt_apply(message_id=message_id, receipt=receipt, now=now)] += 1
    if receipts:
        logger.info("delivery receipts: %s", dict(counts))
    return dict(counts)


@transaction.atomic
def _receipt_apply(*, message_id: int, receipt, now: datetime) -> str:
    message = Message.objects.select_for_update(of=("self",)).select_related("player").get(pk=message_id)
    if receipt.delivered:
        if message.status == MessageStatus.SENT and message.delivered_at:
            return "delivered"  # told before
        logged = message.status == MessageStatus.SENT
        _message_set(
            message,
            status=MessageStatus.SENT,
            sent_at=message.sent_at or receipt.at or now,
            delivered_at=receipt.at or now,
            status_reason="",
            status_params={},
        )
        if not logged:  # its send's answer was lost: the receipt is the first word of it
            _message_contact_log(message, message.sent_at)
        return "delivered"
    _message_set(
        message,
        status=MessageStatus.FAILED,
        delivered_at=None,
        status_reason=MessageReason.PROVIDER_UNDELIVERED,
        status_params={"provider": receipt.provider, "code": receipt.code[:64], "detail": receipt.detail[:200]},
        last_error=f"{receipt.code} {receipt.detail}".strip()[:1000],
    )
    return "undelivered"
