"""Greetings: the daily job that creates the day's call tasks and messages, skipping
one greeting, and the gift ledger with its monthly budget per VIP tier.

Exactly once per (rule, player, occasion date): every greeting is first *claimed*
by inserting its `Greeting` row, which a unique constraint admits once, and the
task, message and gift are created in the same transaction as the claim. A second
run, a second worker or a duplicated beat inserts nothing and so creates nothing;
a crash rolls the claim back together with what it had created, and the next run
greets those players. Messages leave through the shared outbox
(`campaigns.services.messaging`), which applies the fatigue rules.

On PostgreSQL a batch (SQL_BATCH players) is created by a few set-based statements
(`greetings_sql`); on SQLite, and for texts that need Python, player by player
(CLAIM_BATCH players a batch). Both give the same rows (a PostgreSQL test compares them).
"""

from __future__ import annotations

import secrets
import uuid
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import islice
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import ExtractDay, ExtractMonth, ExtractYear
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from crm.formatting import money
from players.models import Player
from players.services.birthdays import birthdays_refresh
from vip.models import Tier

from ..calendar import Festival, birthday_keys_on, days, solar_keys_on, yearly_dates
from ..models import (
    GiftBudget,
    GiftEntry,
    GiftKind,
    Greeting,
    GreetingOccasion,
    GreetingRule,
    GreetingStatus,
    Message,
    MessageStatus,
    OutreachTask,
    TaskKind,
    TaskStatus,
)
from ..sql_templating import sql_template
from ..templating import template_render
from . import greetings_sql
from .messaging import (
    marketing_block_reason,
    marketing_block_reasons,
    message_cancel,
    messages_deliver_due,
    player_zone,
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
    return f"greeting:{rule.pk}:{occasion_date:%Y%m%d}"


# --- who is greeted on which day ------------------------------------------------


def rule_occasion_dates(rule: GreetingRule, start: date, end: date) -> list[date]:
    """The dates in [start, end] on which this rule's occasion may fall."""
    if rule.occasion in (GreetingOccasion.BIRTHDAY, GreetingOccasion.REGISTRATION_ANNIVERSARY):
        return list(days(start, end))
    if rule.occasion == GreetingOccasion.FESTIVAL:
        from ..calendar import FESTIVAL_RULES

        is_lunar, month, day = FESTIVAL_RULES[Festival(rule.festival)]
        return yearly_dates(is_lunar=is_lunar, month=month, day=day, start=start, end=end)
    custom = rule.custom_occasion
    found = yearly_dates(is_lunar=custom.is_lunar, month=custom.month, day=custom.day, start=start, end=end)
    return [d for d in found if custom.year is None or d.year == custom.year]


def rule_segment_q(rule: GreetingRule) -> Q:
    """The rule's segment as a filter on Player (index-friendly: no joins)."""
    q = Q()
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
    through the (birthday_is_lunar, birthday_md) index; see campaigns.calendar."""
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
    if rule.occasion == GreetingOccasion.FESTIVAL:
        return str(Festival(rule.festival).label)
    if rule.occasion == GreetingOccasion.CUSTOM_DATE:
        return rule.custom_occasion.name
    return str(GreetingOccasion(rule.occasion).label)


# --- the gift ledger ------------------------------------------------------------


def _month_of(day: date) -> date:
    return day.replace(day=1)


def _budget_exceeded_message(*, tier, budget: Decimal, spent: Decimal, value: Decimal, month: date) -> str:
    return _(
        "The monthly gift budget of %(tier)s would be exceeded: %(spent)s of %(budget)s already given in "
        "%(month)s, and this gift is worth %(value)s."
    ) % {
        "tier": tier,
        "spent": money(spent),
        "budget": money(budget),
        "month": date_format(month, "Y-m"),
        "value": money(value),
    }


def gift_budget_remaining(*, tier: Tier | None, on: date | None = None) -> Decimal | None:
    """What is left of the tier's budget in the month of `on`; None: no budget (no limit)."""
    if tier is None:
        return None
    budget = GiftBudget.objects.filter(tier=tier).first()
    if budget is None:
        return None
    month = _month_of(on or timezone.localdate())
    spent = GiftEntry.objects.filter(tier=tier, month=month).aggregate(total=Sum("value"))["total"] or Decimal(0)
    return budget.monthly_amount - spent


def gift_budget_check(*, tier: Tier | None, value: Decimal, on: date, lock: bool = False) -> None:
    """Raise a ValidationError on `value` when this gift would overspend the tier's monthly budget."""
    if tier is None:
        return
    budgets = GiftBudget.objects.filter(tier=tier)
    if lock:
        budgets = budgets.select_for_update()
    budget = budgets.first()
    if budget is None:
        return
    month = _month_of(on)
    spent = GiftEntry.objects.filter(tier=tier, month=month).aggregate(total=Sum("value"))["total"] or Decimal(0)
    if spent + value > budget.monthly_amount:
        raise ValidationError(
            {
                "value": _budget_exceeded_message(
                    tier=tier, budget=budget.monthly_amount, spent=spent, value=value, month=month
                )
            }
        )


def _gift_code(prefix: str) -> str:
    token = secrets.token_hex(5).upper()
    return f"{prefix}-{token}" if prefix else token


@transaction.atomic
def gift_record(
    *,
    player: Player,
    kind: str,
    value: Decimal,
    item: str = "",
    code: str = "",
    source: str = "",
    reason: str = "",
    actor=None,
    on: date | None = None,
) -> GiftEntry:
    """Write one gift to the ledger, counted against the budget of the player's
    current tier for the month of `on` (default today). A gift that would overspend
    the budget is refused with a ValidationError on `value` that says by how much.
    With a `source` (e.g. "case:17") it is idempotent: the same source for the same
    player returns the gift already recorded. A tier without a budget has no limit.
    A `code` gift without a code gets a generated one, prefixed with `item`.
    """
    if kind not in GiftKind.values:
        raise ValidationError({"kind": _("Unknown gift kind.")})
    if source:
        existing = GiftEntry.objects.filter(player=player, source=source).first()
        if existing is not None:
            return existing
    on = on or timezone.localdate()
    value = Decimal(value)
    if kind == GiftKind.CODE and not code:
        code = _gift_code(item)
    entry = GiftEntry(
        player=player,
        tier_id=player.tier_id,
        kind=kind,
        item=item,
        code=code,
        value=value,
        month=_month_of(on),
        given_on=on,
        source=source,
        reason=reason,
        actor=actor,
    )
    entry.full_clean()
    gift_budget_check(tier=player.tier, value=value, on=on, lock=True)
    entry.save()
    return entry


def _gifts_for_batch(
    *, rule: GreetingRule, players: list[Player], on: date, source: str
) -> tuple[dict[int, GiftEntry], dict[int, str]]:
    """The rule's gift for each player, set-based: one lock on the budgets concerned,
    one sum per tier, one insert. Returns (gifts, refusals) keyed by player id."""
    value = rule.gift_value
    month = _month_of(on)
    tier_ids = {p.tier_id for p in players if p.tier_id}
    budgets = {b.tier_id: b for b in GiftBudget.objects.select_for_update().filter(tier_id__in=tier_ids).order_by("pk")}
    spent = defaultdict(Decimal)
    for tier_id, total in (
        GiftEntry.objects.filter(tier_id__in=list(budgets), month=month)
        .values("tier_id")
        .annotate(total=Sum("value"))
        .values_list("tier_id", "total")
    ):
        spent[tier_id] = total
    entries, refusals = [], {}
    for player in players:
        budget = budgets.get(player.tier_id)
        if budget is not None:
            if spent[player.tier_id] + value > budget.monthly_amount:
                refusals[player.pk] = _budget_exceeded_message(
                    tier=player.tier,
                    budget=budget.monthly_amount,
                    spent=spent[player.tier_id],
                    value=value,
                    month=month,
                )
                continue
            spent[player.tier_id] += value
        entries.append(
            GiftEntry(
                player=player,
                tier_id=player.tier_id,
                kind=rule.gift_kind,
                item=rule.gift_item if rule.gift_kind != GiftKind.CODE else "",
                code=_gift_code(rule.gift_item) if rule.gift_kind == GiftKind.CODE else "",
                value=value,
                month=month,
                given_on=on,
                source=source,
                reason=str(rule),
            )
        )
    GiftEntry.objects.bulk_create(entries)
    return {e.player_id: e for e in entries}, refusals


def gift_description(gift: GiftEntry | None) -> str:
    if gift is None:
        return ""
    return gift.code or gift.item or money(gift.value)


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
    set_based: bool = True,
) -> GreetingRunReport:
    """The daily job: for every active rule, greet the players whose occasion's
    first action (the call task `task_lead_days` before, or the message on the day)
    is due on `on` (default: today in TIME_ZONE), plus occasions missed in the last
    `catch_up_days` days (default: setting CRM_GREETINGS_CATCH_UP_DAYS). Occasions
    older than that are never greeted. Then delivers the messages that are due.

    Safe to run any number of times, concurrently too: see the module docstring.
    `dry_run` counts who would be greeted and creates no greeting, task, message or
    gift (it does fill missing birthday keys, which are derived index data).
    On PostgreSQL each batch is greeted by a few set-based statements
    (`greetings_sql`), unless a rule's texts need Python or `set_based` is False;
    `batch_size` defaults to SQL_BATCH or CLAIM_BATCH players accordingly.
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
                    rule=rule, occasion=occasion, today=today, batch_size=batch_size, set_based=set_based
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
    *, rule: GreetingRule, occasion: date, today: date, batch_size: int | None = None, set_based: bool = True
) -> GreetingRunLine:
    """Greet the rule's players not yet greeted for this occasion, batch by batch, each
    batch in its own transaction (see `_greet_batch`)."""
    line = GreetingRunLine(rule_id=rule.pk, rule=rule.name, occasion_date=occasion)
    texts = _sql_texts(rule, occasion) if set_based and connection.vendor == "postgresql" else None
    size = batch_size or (SQL_BATCH if texts else CLAIM_BATCH)
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
    texts: _SqlTexts | None,
) -> None:
    """Claim, then create: both in one transaction, so a crash leaves neither."""
    token = uuid.uuid4().hex
    if texts is None:
        _greet_claims_python(rule=rule, occasion=occasion, player_ids=player_ids, today=today, token=token)
    else:
        _greet_claims_sql(rule=rule, occasion=occasion, player_ids=player_ids, today=today, token=token, texts=texts)
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


# --- the set-based path (PostgreSQL) ----------------------------------------------


@dataclass(frozen=True)
class _SqlTexts:
    """A rule's texts for an occasion as SQL expressions (see campaigns.sql_templating)."""

    title: tuple[str, list]
    script: tuple[str, list]
    subject: tuple[str, list]
    body: tuple[str, list]


def _sql_texts(rule: GreetingRule, occasion: date) -> _SqlTexts | None:
    """The rule's texts rendered as `_render` and `_task_title` do, or None when one of
    them needs Python (a format spec: see `sql_template`)."""
    gift = greetings_sql.gift_description_sql(rule)
    label = occasion_label(rule, occasion)
    with translation.override(settings.CRM_PLAYER_LANGUAGE):
        players_label = occasion_label(rule, occasion)

    def render(text: str, label: str):
        extra = {"occasion": label, "occasion_date": occasion.isoformat(), "gift": gift}
        return sql_template(text, today=timezone.localdate(), zone=settings.TIME_ZONE, extra=extra)

    texts = (
        render(rule.task_title or _default_title_template(label, occasion), label),
        render(rule.template if not rule.message_channel else "", label),
        render(rule.subject, players_label),
        render(rule.template, players_label),
    )
    return None if None in texts else _SqlTexts(*texts)


def _default_title_template(label: str, occasion: date) -> str:
    """`_task_title`'s default title as a template of {nickname}."""

    def literal(text: str) -> str:
        return text.replace("{", "{{").replace("}", "}}")

    return literal(_("%(occasion)s on %(date)s: call %(player)s")) % {
        "occasion": literal(label),
        "date": occasion.isoformat(),
        "player": "{nickname}",
    }


def _greet_claims_sql(
    *, rule: GreetingRule, occasion: date, player_ids: tuple[int, ...], today: date, token: str, texts: _SqlTexts
) -> None:
    now = timezone.now()
    if not greetings_sql.claims_insert(rule=rule, occasion=occasion, player_ids=player_ids, token=token, now=now):
        return
    source = greeting_source(rule, occasion)
    notes = {}
    if rule.gift_kind:
        allowed, notes = _gift_allowances(rule=rule, token=token, on=occasion)
        month = _month_of(occasion)
        greetings_sql.gifts_insert(
            rule=rule, token=token, on=occasion, month=month, source=source, allowed=allowed, now=now
        )
    if rule.task_lead_days is not None:
        greetings_sql.tasks_insert(
            token=token,
            source=source,
            title=texts.title,
            script=texts.script,
            due=max(occasion - timedelta(days=rule.task_lead_days), today),
            with_gift=bool(rule.gift_kind),
            now=now,
        )
    if rule.message_channel:
        greetings_sql.messages_insert(
            rule=rule,
            token=token,
            source=source,
            subject=texts.subject,
            body=texts.body,
            send_at=_send_times(rule, occasion, greetings_sql.claimed_zone_names(token), now),
            send_at_otherwise=_send_time(rule, occasion, player_zone_named(""), now),
            blocked=marketing_block_reasons(),
            now=now,
        )
    greetings_sql.claims_link(
        token=token,
        source=source,
        task=rule.task_lead_days is not None,
        message=bool(rule.message_channel),
        gift=bool(rule.gift_kind),
        notes=notes,
    )


def _gift_allowances(*, rule: GreetingRule, token: str, on: date) -> tuple[dict[int, int], dict[int, str]]:
    """What `_gifts_for_batch` decides, per tier instead of per player: how many of the
    claimed players of each budgeted tier still get the gift, and the refusal note for
    the others. Locks the budgets concerned until the batch commits."""
    value = rule.gift_value
    month = _month_of(on)
    budgets = list(
        GiftBudget.objects.select_for_update().filter(tier_id__in=greetings_sql.claimed_tier_ids(token)).order_by("pk")
    )
    spent = dict(
        GiftEntry.objects.filter(tier_id__in=[b.tier_id for b in budgets], month=month)
        .values("tier_id")
        .annotate(total=Sum("value"))
        .values_list("tier_id", "total")
    )
    tiers = Tier.objects.in_bulk([b.tier_id for b in budgets])
    allowed, notes = {}, {}
    for budget in budgets:
        before = spent.get(budget.tier_id, Decimal(0))
        count = greetings_sql.gifts_allowed(budget=budget.monthly_amount, spent=before, value=value)
        if count is None:
            continue
        allowed[budget.tier_id] = count
        notes[budget.tier_id] = _budget_exceeded_message(
            tier=tiers[budget.tier_id],
            budget=budget.monthly_amount,
            spent=before + count * value,
            value=value,
            month=month,
        )[:300]
    return allowed, notes


def _send_time(rule: GreetingRule, occasion: date, zone: ZoneInfo, now: datetime) -> datetime:
    return max(datetime.combine(occasion, rule.send_time, tzinfo=zone), now)


def _send_times(rule: GreetingRule, occasion: date, zone_names: list[str], now: datetime) -> dict[str, datetime]:
    """When the message goes, by the players' time zone field (see `messaging.player_zone`)."""
    return {name: _send_time(rule, occasion, player_zone_named(name), now) for name in zone_names}


# --- the per-player path (SQLite, and texts that need Python) ---------------------


def _greet_claims_python(
    *, rule: GreetingRule, occasion: date, player_ids: tuple[int, ...], today: date, token: str
) -> None:
    Greeting.objects.bulk_create(
        [Greeting(rule=rule, player_id=pk, occasion_date=occasion, claim=token) for pk in player_ids],
        ignore_conflicts=True,
    )
    greetings = list(
        Greeting.objects.filter(claim=token).select_related("player__tier", "player__manager").order_by("player_id")
    )
    if not greetings:
        return
    players = [g.player for g in greetings]
    source = greeting_source(rule, occasion)
    label = occasion_label(rule, occasion)

    gifts, refusals = {}, {}
    if rule.gift_kind:
        gifts, refusals = _gifts_for_batch(rule=rule, players=players, on=occasion, source=source)

    tasks = {}
    if rule.task_lead_days is not None:
        due = max(occasion - timedelta(days=rule.task_lead_days), today)
        OutreachTask.objects.bulk_create(
            [
                OutreachTask(
                    player=player,
                    assignee_id=player.manager_id,
                    kind=TaskKind.GREETING,
                    title=_task_title(rule, player, label, occasion, gifts.get(player.pk)),
                    script=_render(rule.template, player, label, occasion, gifts.get(player.pk))
                    if not rule.message_channel
                    else "",
                    due_date=due,
                    source=source,
                )
                for player in players
            ],
            ignore_conflicts=True,
        )
        tasks = dict(
            OutreachTask.objects.filter(source=source, player_id__in=[p.pk for p in players]).values_list(
                "player_id", "pk"
            )
        )

    messages = {}
    if rule.message_channel:
        messages = _messages_for_batch(rule=rule, players=players, occasion=occasion, source=source, gifts=gifts)

    # Link each claim to what was created for it: one set-based UPDATE per kind,
    # through the unique (player, source) indexes (bulk_update's CASE per row cost
    # two thirds of the job at 1,000 rows a batch).
    claimed = Greeting.objects.filter(claim=token)
    links = {}
    if tasks:
        links["task_id"] = Subquery(
            OutreachTask.objects.filter(player_id=OuterRef("player_id"), source=source).values("pk")[:1]
        )
    if messages:
        links["message_id"] = Subquery(
            Message.objects.filter(player_id=OuterRef("player_id"), source=source).values("pk")[:1]
        )
    if gifts:
        links["gift_id"] = Subquery(
            GiftEntry.objects.filter(player_id=OuterRef("player_id"), source=source).values("pk")[:1]
        )
    if links:
        claimed.update(**links)
    notes = defaultdict(list)
    for player_id, note in refusals.items():
        notes[note[:300]].append(player_id)
    for note, player_ids in notes.items():
        claimed.filter(player_id__in=player_ids).update(note=note)


def _messages_for_batch(
    *, rule: GreetingRule, players: list[Player], occasion: date, source: str, gifts: dict
) -> dict[int, int]:
    """The batch's messages, queued in one insert with the outbox's own rules
    (`messaging.marketing_block_reason`: opted-out players and minors get a cancelled
    message with the reason) — what `message_queue` does one by one, as the campaign
    launch does in bulk. Delivery (`messages_deliver_due`) then applies the weekly cap
    and quiet hours. Returns message ids by player id."""
    now = timezone.now()
    with translation.override(settings.CRM_PLAYER_LANGUAGE):
        label = occasion_label(rule, occasion)  # players read messages in their language
    rows = []
    for player in players:
        send_at = datetime.combine(occasion, rule.send_time, tzinfo=player_zone(player))
        gift = gifts.get(player.pk)
        reason = marketing_block_reason(player)
        rows.append(
            Message(
                player=player,
                channel=rule.message_channel,
                subject=_render(rule.subject, player, label, occasion, gift)[:200] if rule.subject else "",
                body=_render(rule.template, player, label, occasion, gift),
                is_marketing=True,
                status=MessageStatus.CANCELLED if reason else MessageStatus.QUEUED,
                status_reason=reason,
                scheduled_for=max(send_at, now),
                source=source,
            )
        )
    Message.objects.bulk_create(rows, ignore_conflicts=True)
    return dict(
        Message.objects.filter(source=source, player_id__in=[p.pk for p in players]).values_list("player_id", "pk")
    )


def _extra(label: str, occasion: date, gift: GiftEntry | None) -> dict:
    return {"occasion": label, "occasion_date": occasion.isoformat(), "gift": gift_description(gift)}


def _render(text: str, player: Player, label: str, occasion: date, gift: GiftEntry | None) -> str:
    if not text:
        return ""
    return template_render(text, player=player, extra=_extra(label, occasion, gift))


def _task_title(rule: GreetingRule, player: Player, label: str, occasion: date, gift: GiftEntry | None) -> str:
    if rule.task_title:
        return _render(rule.task_title, player, label, occasion, gift)[:200]
    return (
        _("%(occasion)s on %(date)s: call %(player)s")
        % {"occasion": label, "date": occasion.isoformat(), "player": player.nickname or player.account_id}
    )[:200]


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
        message_cancel(message=message, reason=_("Greeting skipped by staff."))
    if greeting.task_id:
        OutreachTask.objects.filter(pk=greeting.task_id, status=TaskStatus.OPEN).update(status=TaskStatus.CANCELLED)
    greeting.status = GreetingStatus.SKIPPED
    greeting.actor = actor
    greeting.note = reason[:300]
    greeting.save(update_fields=["status", "actor", "note"])
    return greeting
