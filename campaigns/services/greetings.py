"""Greetings: the daily job that creates the day's call tasks and messages, skipping
one greeting, and the gift ledger with its monthly budget per VIP tier.

Exactly once per (rule, player, occasion date): every greeting is first *claimed*
by inserting its `Greeting` row, which a unique constraint admits once, and the
task, message and gift are created in the same transaction as the claim. A second
run, a second worker or a duplicated beat inserts nothing and so creates nothing;
a crash rolls the claim back together with what it had created, and the next run
greets those players. Messages leave through the shared outbox
(`campaigns.services.messaging`), which applies the fatigue rules.

One engine on every database: a batch of players is claimed and greeted by a few
set-based statements (`greetings_sql`; gifts by `gifts.gifts_grant`, messages by
`messaging.messages_insert_select`). Only the texts differ: PostgreSQL renders them in
the statement (SQL_BATCH players a batch); on SQLite, and for texts that need Python
(a format spec), Python renders them first (CLAIM_BATCH players a batch) and the
statement reads them from a table of values. A test compares both renderings.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from itertools import islice
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.db.models.functions import ExtractDay, ExtractMonth, ExtractYear
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from crm.calendar import birthday_keys_on, days, festival_dates, solar_keys_on, yearly_dates
from crm.names import staff_name
from players.models import NOT_ERASED, Player
from players.services.birthdays import birthdays_refresh
from players.services.scripts import script_used
from vip.models import Tier

from .. import sql_dialect
from ..models import (
    MINOR_GREETING_DEFAULT,
    GiftEntry,
    Greeting,
    GreetingOccasion,
    GreetingRule,
    GreetingStatus,
    Message,
    MessageReason,
    MessageStatus,
    OutreachTask,
    TaskStatus,
    TaskTitle,
    occasion_text,
)
from ..sql_templating import SQL_VARIABLES, SqlValue, sql_template
from ..templating import template_render
from . import greetings_sql
from .gifts import gift_description, gift_description_sql, gifts_grant
from .messaging import (
    GREETING_SOURCE_PREFIX,
    message_cancel,
    messages_deliver_due,
    messages_insert_select,
    player_zone_named,
)

CLAIM_BATCH = 1000  # players per transaction, per-player path
SQL_BATCH = 50_000  # players per transaction, set-based path
DEFAULT_CATCH_UP_DAYS = 3


def catch_up_days_setting() -> int:
    """How many days back a run still greets occasions it missed (setting CRM_GREETINGS_CATCH_UP_DAYS)."""
    return int(getattr(settings, "CRM_GREETINGS_CATCH_UP_DAYS", DEFAULT_CATCH_UP_DAYS))


def batched(items, size: int):
    iterator = iter(items)
    while chunk := tuple(islice(iterator, size)):
        yield chunk


def greeting_source(rule: GreetingRule, occasion_date: date) -> str:
    """The `source` of a greeting's task, message and gift: unique per player."""
    return f"{GREETING_SOURCE_PREFIX}{rule.pk}:{occasion_date:%Y%m%d}"


# --- who is greeted on which day ------------------------------------------------


def rule_occasion_dates(rule: GreetingRule, start: date, end: date) -> list[date]:
    """The dates in [start, end] on which this rule's occasion may fall."""
    if rule.occasion in (GreetingOccasion.BIRTHDAY, GreetingOccasion.REGISTRATION_ANNIVERSARY):
        return list(days(start, end))
    if rule.occasion == GreetingOccasion.FESTIVAL:
        return festival_dates(rule.festival, start, end)
    custom = rule.custom_occasion
    found = yearly_dates(is_lunar=custom.is_lunar, month=custom.month, day=custom.day, start=start, end=end)
    return [d for d in found if custom.year is None or d.year == custom.year]


def greeting_rules_rebind_server(*, old_servers, new_server: str, game: str = "", actor=None, now=None) -> int:
    """A server merge (合服, `players.services.servers.server_merge`): rules for an old
    server greet the players of the server it became. Returns how many rules moved."""
    return GreetingRule.objects.filter(server__in=list(old_servers)).update(server=new_server)


def rule_segment_q(rule: GreetingRule) -> Q:
    """The rule's segment as a filter on Player (index-friendly: no joins); a player erased
    on request is never greeted."""
    q = Q(NOT_ERASED)
    if rule.tier_min_id or rule.tier_max_id:
        tiers = Tier.objects.all()
        if rule.tier_min_id:
            tiers = tiers.filter(level__gte=rule.tier_min.level)
        if rule.tier_max_id:
            tiers = tiers.filter(level__lte=rule.tier_max.level)
        q &= Q(tier_id__in=list(tiers.values_list("pk", flat=True)))
    if rule.payer_status:
        q &= Q(payer_status=rule.payer_status)
    if rule.server:
        q &= Q(server=rule.server)
    if rule.player_channel:
        q &= Q(channel=rule.player_channel)
    tag_ids = [tag.pk for tag in rule.tags.all()]
    if tag_ids:
        q &= Q(Exists(Player.tags.through.objects.filter(player_id=OuterRef("pk"), tag_id__in=tag_ids)))
    return q


def _registration_md(queryset: QuerySet) -> QuerySet:
    zone = ZoneInfo(settings.TIME_ZONE)
    return queryset.annotate(
        registered_year=ExtractYear("registered_at", tzinfo=zone),
        registered_md=ExtractMonth("registered_at", tzinfo=zone) * 100 + ExtractDay("registered_at", tzinfo=zone),
    )


def rule_players(rule: GreetingRule, occasion_date: date, players: QuerySet | None = None) -> QuerySet:
    """Players this rule greets for an occasion on `occasion_date`. Birthdays go
    through the (birthday_is_lunar, birthday_md) index; see crm.calendar."""
    players = (Player.objects.all() if players is None else players).filter(rule_segment_q(rule))
    if rule.occasion == GreetingOccasion.BIRTHDAY:
        solar, lunar = birthday_keys_on(occasion_date)
        on_day = Q(birthday_is_lunar=False, birthday_md__in=solar)
        if lunar:
            on_day |= Q(birthday_is_lunar=True, birthday_md__in=lunar)
        return players.filter(on_day, birthday__lt=occasion_date)
    if rule.occasion == GreetingOccasion.REGISTRATION_ANNIVERSARY:
        return _registration_md(players.filter(registered_at__isnull=False)).filter(
            registered_md__in=solar_keys_on(occasion_date), registered_year__lt=occasion_date.year
        )
    if occasion_date in rule_occasion_dates(rule, occasion_date, occasion_date):
        return players
    return players.none()


def occasion_label(rule: GreetingRule, occasion_date: date | None = None) -> str:
    return occasion_text(**occasion_params(rule))


def occasion_params(rule: GreetingRule) -> dict[str, str]:
    """The rule's occasion as `occasion_text` reads it (stored in a task's `title_params`)."""
    custom_name = rule.custom_occasion.name if rule.occasion == GreetingOccasion.CUSTOM_DATE else ""
    return {"occasion": rule.occasion, "festival": rule.festival or "", "custom_name": custom_name}


# --- the daily job --------------------------------------------------------------


@dataclass
class GreetingRunLine:
    rule_id: int
    rule: str
    occasion_date: date
    greeted: int = 0
    tasks: int = 0
    messages: int = 0
    gifts: int = 0
    gifts_refused: int = 0


@dataclass
class GreetingRunReport:
    run_date: date
    dry_run: bool
    catch_up_days: int
    lines: list[GreetingRunLine] = field(default_factory=list)
    keys_refreshed: int = 0
    delivered: object = None

    @property
    def greeted(self) -> int:
        return sum(line.greeted for line in self.lines)

    def as_dict(self) -> dict:
        data = asdict(self)
        data["run_date"] = self.run_date.isoformat()
        data["delivered"] = str(self.delivered) if self.delivered is not None else None
        for line in data["lines"]:
            line["occasion_date"] = line["occasion_date"].isoformat()
        data["greeted"] = self.greeted
        return data


def greetings_run(
    *,
    on: date | None = None,
    dry_run: bool = False,
    catch_up_days: int | None = None,
    batch_size: int | None = None,
    deliver: bool = True,
    sql_texts: bool = True,
) -> GreetingRunReport:
    """The daily job: for every active rule, greet the players whose occasion's
    first action (the call task `task_lead_days` before, or the message on the day)
    is due on `on` (default: today in TIME_ZONE), plus occasions missed in the last
    `catch_up_days` days (default: setting CRM_GREETINGS_CATCH_UP_DAYS). Occasions
    older than that are never greeted. Then delivers the messages that are due.

    Safe to run any number of times, concurrently too: see the module docstring.
    `dry_run` counts who would be greeted and creates no greeting, task, message or
    gift (it does fill missing birthday keys, which are derived index data).
    Each batch is greeted by a few set-based statements (`greetings_sql`); the texts
    are rendered by the database where it can (PostgreSQL, `sql_texts`), else in
    Python; `batch_size` defaults to SQL_BATCH or CLAIM_BATCH players accordingly.
    """
    today = on or timezone.localdate()
    window = catch_up_days_setting() if catch_up_days is None else catch_up_days
    report = GreetingRunReport(run_date=today, dry_run=dry_run, catch_up_days=window)
    report.keys_refreshed = birthdays_refresh(only_stale=True)
    rules = (
        GreetingRule.objects.filter(is_active=True)
        .select_related("tier_min", "tier_max", "custom_occasion")
        .prefetch_related("tags")
        .order_by("pk")
    )
    for rule in rules:
        lead = timedelta(days=rule.lead_days)
        for occasion in rule_occasion_dates(rule, today - timedelta(days=window), today + lead):
            first_action = occasion - lead
            if first_action > today or (rule.starts_on and first_action < rule.starts_on):
                continue
            if dry_run:
                line = GreetingRunLine(rule_id=rule.pk, rule=rule.name, occasion_date=occasion)
                line.greeted = _candidates(rule, occasion).count()
            else:
                line = occasion_greet(
                    rule=rule, occasion=occasion, today=today, batch_size=batch_size, sql_texts=sql_texts
                )
            if line.greeted or dry_run:
                report.lines.append(line)
    if deliver and not dry_run:
        report.delivered = messages_deliver_due()
    return report


def _candidates(rule: GreetingRule, occasion: date) -> QuerySet:
    return rule_players(rule, occasion).exclude(
        Exists(Greeting.objects.filter(rule=rule, occasion_date=occasion, player=OuterRef("pk")))
    )


def occasion_greet(
    *, rule: GreetingRule, occasion: date, today: date, batch_size: int | None = None, sql_texts: bool = True
) -> GreetingRunLine:
    """Greet the rule's players not yet greeted for this occasion, batch by batch, each
    batch in its own transaction (see `_greet_batch`)."""
    line = GreetingRunLine(rule_id=rule.pk, rule=rule.name, occasion_date=occasion)
    texts = _sql_texts(rule, occasion) if sql_texts and sql_dialect.renders_texts() else _NO_SQL_TEXTS
    size = batch_size or (SQL_BATCH if texts.complete else CLAIM_BATCH)
    ids = list(_candidates(rule, occasion).order_by("pk").values_list("pk", flat=True))
    for chunk in batched(ids, size):
        _greet_batch(rule=rule, occasion=occasion, player_ids=chunk, today=today, line=line, texts=texts)
    return line


@transaction.atomic
def _greet_batch(
    *,
    rule: GreetingRule,
    occasion: date,
    player_ids: tuple[int, ...],
    today: date,
    line: GreetingRunLine,
    texts: _SqlTexts,
) -> None:
    """Claim, then create: both in one transaction, so a crash leaves neither."""
    token = uuid.uuid4().hex
    _greet_claims(rule=rule, occasion=occasion, player_ids=player_ids, today=today, token=token, texts=texts)
    _claims_tally(token=token, line=line)


def _claims_tally(*, token: str, line: GreetingRunLine) -> None:
    """Count what this batch's claims got into the run's line (the batch's last step)."""
    counts = Greeting.objects.filter(claim=token).aggregate(
        greeted=Count("pk"),
        tasks=Count("task_id"),
        messages=Count("message_id"),
        gifts=Count("gift_id"),
        gifts_refused=Count("pk", filter=Q(gift__isnull=True) & ~Q(note="")),
    )
    for name, count in counts.items():
        setattr(line, name, getattr(line, name) + count)


# --- the texts: rendered by the database where it can, else in Python --------------


@dataclass(frozen=True)
class _SqlTexts:
    """A rule's texts for an occasion as SQL expressions (see campaigns.sql_templating);
    None for a text the database cannot render (it is rendered in Python, `_texts_python`)."""

    title: tuple[str, list] | None = None
    script: tuple[str, list] | None = None
    subject: tuple[str, list] | None = None
    body: tuple[str, list] | None = None
    minor: tuple[str, list] | None = None  # a minor's message or call script (no gift, no spend prompt)

    @property
    def complete(self) -> bool:
        return None not in (self.title, self.script, self.subject, self.body, self.minor)

    def sql(self, name: str) -> tuple[str, list]:
        """The expression for text `name`: the database's, else the Python-rendered column."""
        return getattr(self, name) or (f"tx.{name}", [])


_NO_SQL_TEXTS = _SqlTexts()


def _sql_texts(rule: GreetingRule, occasion: date) -> _SqlTexts:
    """The rule's texts rendered as `_render` and `_task_title` do, as far as SQL can
    (a format spec needs Python: see `sql_template`)."""
    gift = SqlValue(*gift_description_sql(alias="e", value=rule.gift_value)) if rule.gift_kind else ""
    label = occasion_label(rule, occasion)
    with translation.override(settings.CRM_PLAYER_LANGUAGE):
        players_label = occasion_label(rule, occasion)

    def render(text: str, label: str):
        # {me} in a call script: who calls, the player's manager (the task's assignee)
        extra = {
            "occasion": label,
            "occasion_date": occasion.isoformat(),
            "gift": gift,
            "me": SqlValue(SQL_VARIABLES["manager"]),
        }
        return sql_template(text, today=timezone.localdate(), zone=settings.TIME_ZONE, extra=extra)

    return _SqlTexts(
        render(rule.task_title or _default_title_template(label, occasion), label),
        render(_call_script_text(rule), label),
        render(rule.subject, players_label),
        render(rule.template, players_label),
        render(_minor_template(rule), players_label),
    )


def _call_script_text(rule: GreetingRule) -> str:
    """The call task's script: the rule's greeting-call script from the library (empty without)."""
    if rule.task_lead_days is None or not rule.call_script_id:
        return ""
    return rule.call_script.text()


def _minor_template(rule: GreetingRule) -> str:
    """The text a minor gets (message or call script): the rule's, else a plain greeting."""
    if rule.minor_template.strip():
        return rule.minor_template
    with translation.override(settings.CRM_PLAYER_LANGUAGE):
        return str(MINOR_GREETING_DEFAULT)


def _default_title_template(label: str, occasion: date) -> str:
    """`_task_title`'s default title as a template of {nickname}."""

    def literal(text: str) -> str:
        return text.replace("{", "{{").replace("}", "}}")

    return literal(str(TaskTitle.GREETING_CALL.label)) % {
        "occasion": literal(label),
        "date": occasion.isoformat(),
        "player": "{nickname}",
    }


def _texts_python(*, rule: GreetingRule, occasion: date, token: str, source: str) -> list[tuple]:
    """The claimed players' texts rendered in Python (the reference rendering):
    (player_id, title, script, subject, body, minor) rows for `greetings_sql.texts_table`."""
    players = [
        g.player
        for g in Greeting.objects.filter(claim=token)
        .select_related("player__tier", "player__manager")
        .order_by("player_id")
    ]
    gifts = (
        {g.player_id: g for g in GiftEntry.objects.filter(source=source, player__in=players)} if rule.gift_kind else {}
    )
    label = occasion_label(rule, occasion)
    with translation.override(settings.CRM_PLAYER_LANGUAGE):
        players_label = occasion_label(rule, occasion)  # players read messages in their language
    rows = []
    for player in players:
        gift = gifts.get(player.pk)
        rows.append(
            (
                player.pk,
                _task_title(rule, player, label, occasion, gift) if rule.task_lead_days is not None else "",
                _render(_call_script_text(rule), player, label, occasion, gift),
                _render(rule.subject, player, players_label, occasion, gift)[:200] if rule.subject else "",
                _render(rule.template, player, players_label, occasion, gift) if rule.message_channel else "",
                _render(_minor_template(rule), player, players_label, occasion, None),
            )
        )
    return rows


def _extra(label: str, occasion: date, gift: GiftEntry | None) -> dict:
    return {"occasion": label, "occasion_date": occasion.isoformat(), "gift": gift_description(gift)}


def _render(text: str, player: Player, label: str, occasion: date, gift: GiftEntry | None) -> str:
    if not text:
        return ""
    # {me} in a call script: who calls, the player's manager (the task's assignee)
    extra = {**_extra(label, occasion, gift), "me": staff_name(player.manager if player.manager_id else None)}
    return template_render(text, player=player, extra=extra)


def _task_title(rule: GreetingRule, player: Player, label: str, occasion: date, gift: GiftEntry | None) -> str:
    if rule.task_title:
        return _render(rule.task_title, player, label, occasion, gift)[:200]
    return (
        str(TaskTitle.GREETING_CALL.label)
        % {"occasion": label, "date": occasion.isoformat(), "player": player.nickname or player.account_id}
    )[:200]


# --- one batch: claim, gifts, tasks, messages, links ---------------------------------


def _greet_claims(
    *, rule: GreetingRule, occasion: date, player_ids: tuple[int, ...], today: date, token: str, texts: _SqlTexts
) -> None:
    now = timezone.now()
    if not greetings_sql.claims_insert(rule=rule, occasion=occasion, player_ids=player_ids, token=token, now=now):
        return
    source = greeting_source(rule, occasion)
    notes = {}
    if rule.gift_kind:
        notes = gifts_grant(
            players=greetings_sql.claimed_players(token, today=today),
            kind=rule.gift_kind,
            item=rule.gift_item,
            value=rule.gift_value,
            on=occasion,
            source=source,
            reason=str(rule),
            now=now,
        )
    python_texts = None
    if not texts.complete:
        python_texts = greetings_sql.texts_table(
            _texts_python(rule=rule, occasion=occasion, token=token, source=source)
        )
    if rule.task_lead_days is not None:
        made = greetings_sql.tasks_insert(
            token=token,
            source=source,
            title=texts.sql("title"),
            title_code="" if rule.task_title else TaskTitle.GREETING_CALL,
            title_params={} if rule.task_title else {**occasion_params(rule), "date": occasion.isoformat()},
            script=texts.sql("script"),
            minor_script=texts.sql("minor"),
            due=max(occasion - timedelta(days=rule.task_lead_days), today),
            with_gift=bool(rule.gift_kind),
            texts=python_texts,
            now=now,
            today=today,
        )
        if rule.call_script_id and made:  # each call task is one use of the library's script
            script_used(script_id=rule.call_script_id, times=made, now=now)
    if rule.message_channel:
        otherwise = _send_time(rule, occasion, player_zone_named(""), now)
        messages_insert_select(
            rows=greetings_sql.messages_rows(
                token=token,
                source=source,
                with_gift=bool(rule.gift_kind),
                texts=python_texts,
                send_at=_send_times(rule, occasion, greetings_sql.claimed_zone_names(token), now),
            ),
            channel=rule.message_channel,
            subject=texts.sql("subject"),
            body=_minor_or(texts.sql("minor"), texts.sql("body"), today),
            send_at=("COALESCE(z.send_at, %s)", [otherwise]),
            source=source,
            campaign_id=None,
            now=now,
            marketing=greetings_sql.marketing_sql(today),
        )
    greetings_sql.claims_link(
        token=token,
        source=source,
        task=rule.task_lead_days is not None,
        message=bool(rule.message_channel),
        gift=bool(rule.gift_kind),
        notes=notes,
    )
    if rule.gift_kind:
        greetings_sql.claims_note_minors(token=token, note=_("No gift: the player is a minor."), today=today)


def _minor_or(minor: tuple[str, list], adult: tuple[str, list], today: date) -> tuple[str, list]:
    """The minor's text for a minor, the adult's otherwise (per claimed player `p`)."""
    marketing, params = greetings_sql.marketing_sql(today)
    return f"CASE WHEN {marketing} THEN {adult[0]} ELSE {minor[0]} END", [*params, *adult[1], *minor[1]]


def _send_time(rule: GreetingRule, occasion: date, zone: ZoneInfo, now: datetime) -> datetime:
    return max(datetime.combine(occasion, rule.send_time, tzinfo=zone), now)


def _send_times(rule: GreetingRule, occasion: date, zone_names: list[str], now: datetime) -> dict[str, datetime]:
    """When the message goes, by the players' time zone field (see `messaging.player_zone`)."""
    return {name: _send_time(rule, occasion, player_zone_named(name), now) for name in zone_names}


# --- skipping one greeting ------------------------------------------------------


@transaction.atomic
def greeting_skip(*, rule: GreetingRule, player: Player, occasion_date: date, actor, reason: str = "") -> Greeting:
    """Do not greet this player for this occasion. Before the job runs, the skip
    takes the claim so the job passes over it; after, the open call task and the
    unsent message are cancelled. A message already sent cannot be unsent."""
    greeting, created = Greeting.objects.get_or_create(
        rule=rule,
        player=player,
        occasion_date=occasion_date,
        defaults={"status": GreetingStatus.SKIPPED, "actor": actor, "note": reason[:300]},
    )
    if created or greeting.status == GreetingStatus.SKIPPED:
        return greeting
    greeting = Greeting.objects.select_for_update().get(pk=greeting.pk)
    if greeting.message_id and Message.objects.filter(pk=greeting.message_id, status=MessageStatus.SENT).exists():
        raise ValidationError(_("The greeting message was already sent; it cannot be skipped any more."))
    message = Message.objects.filter(
        pk=greeting.message_id, status__in=[MessageStatus.QUEUED, MessageStatus.POSTPONED]
    ).first()
    if message is not None:
        message_cancel(message=message, reason=MessageReason.GREETING_SKIPPED)
    if greeting.task_id:
        OutreachTask.objects.filter(pk=greeting.task_id, status=TaskStatus.OPEN).update(status=TaskStatus.CANCELLED)
    greeting.status = GreetingStatus.SKIPPED
    greeting.actor = actor
    greeting.note = reason[:300]
    greeting.save(update_fields=["status", "actor", "note"])
    return greeting
