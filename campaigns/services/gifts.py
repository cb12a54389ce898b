"""The gift ledger and its one budget rule.

Every gift (greetings, case compensation, a gift typed in the admin) is written here:
one at a time by `gift_record`, many at once by its bulk twin `gifts_grant`. Both count
it against the monthly budget of the player's current VIP tier (`GiftBudget`), and the
rule is written once, in `BudgetRoom`: a gift of `value` fits while what the tier was
given this month plus the gift stays within the budget; a tier without a budget has no
limit.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import DecimalField, OuterRef, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from crm.formatting import money
from players.models import Player
from players.selectors.persons import person_of
from vip.models import Tier

from .. import sql_dialect
from ..models import GiftBudget, GiftEntry, GiftKind

Sql = tuple[str, list]


def month_of(day: date) -> date:
    """The budget month a gift given on `day` counts against (its first day)."""
    return day.replace(day=1)


@dataclass(frozen=True)
class BudgetRoom:
    """A tier's budget in one month: the one place the budget rule is written."""

    tier_id: int
    month: date
    budget: Decimal
    spent: Decimal

    @property
    def remaining(self) -> Decimal:
        return self.budget - self.spent

    def gifts_fitting(self, value: Decimal) -> int | None:
        """How many more gifts of `value` fit (None: any number)."""
        if self.spent > self.budget:
            return 0
        if value == 0:
            return None
        return int((self.budget - self.spent) // value)

    def refusal(self, *, tier, value: Decimal, given: int = 0) -> str:
        """Why a gift of `value` is refused after `given` more of them this run."""
        return _(
            "The monthly gift budget of %(tier)s would be exceeded: %(spent)s of %(budget)s already given in "
            "%(month)s, and this gift is worth %(value)s."
        ) % {
            "tier": tier,
            "spent": money(self.spent + given * value),
            "budget": money(self.budget),
            "month": date_format(self.month, "Y-m"),
            "value": money(value),
        }


def _spent_in(month: date) -> QuerySet:
    return GiftEntry.objects.filter(month=month, tier_id=OuterRef("tier_id")).order_by().values("tier_id")


def gift_budget_rooms(*, tier_ids, month: date, lock: bool = False) -> dict[int, BudgetRoom]:
    """The budgets of these tiers in `month`, by tier id (tiers without one are absent).
    `lock` holds the budgets until the transaction ends, so two writers cannot both
    spend the last of one."""
    budgets = GiftBudget.objects.filter(tier_id__in=[t for t in tier_ids if t]).order_by("pk")
    if lock:
        budgets = budgets.select_for_update()
    budgets = list(budgets)
    spent = dict(
        GiftEntry.objects.filter(tier_id__in=[b.tier_id for b in budgets], month=month)
        .values("tier_id")
        .annotate(total=Sum("value"))
        .values_list("tier_id", "total")
    )
    return {
        b.tier_id: BudgetRoom(
            tier_id=b.tier_id, month=month, budget=b.monthly_amount, spent=spent.get(b.tier_id) or Decimal(0)
        )
        for b in budgets
    }


def gift_budgets_with_spent(queryset: QuerySet, *, month: date) -> QuerySet:
    """GiftBudgets annotated with `spent_this_month` (for lists: one query)."""
    spent = _spent_in(month).annotate(total=Sum("value")).values("total")
    return queryset.annotate(spent_this_month=Coalesce(Subquery(spent), Value(Decimal(0)), output_field=DecimalField()))


def gift_budget_remaining(*, tier: Tier | None, on: date | None = None) -> Decimal | None:
    """What is left of the tier's budget in the month of `on`; None: no budget (no limit)."""
    if tier is None:
        return None
    room = gift_budget_rooms(tier_ids=[tier.pk], month=month_of(on or timezone.localdate())).get(tier.pk)
    return None if room is None else room.remaining


def gift_budget_check(*, tier: Tier | None, value: Decimal, on: date, lock: bool = False) -> None:
    """Raise a ValidationError on `value` when this gift would overspend the tier's monthly budget."""
    if tier is None:
        return
    room = gift_budget_rooms(tier_ids=[tier.pk], month=month_of(on), lock=lock).get(tier.pk)
    if room is None:
        return
    fitting = room.gifts_fitting(Decimal(value))
    if fitting is not None and fitting < 1:
        raise ValidationError({"value": room.refusal(tier=tier, value=Decimal(value))})


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
    A `code` gift without a code gets a generated one, prefixed with `item`. A gift is
    the VIP person's: given on a linked account, it is recorded on the main account.
    """
    player = person_of(player)
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
        month=month_of(on),
        given_on=on,
        source=source,
        reason=reason,
        actor=actor,
    )
    entry.full_clean()
    gift_budget_check(tier=player.tier, value=value, on=on, lock=True)
    entry.save()
    return entry


def gifts_grant(
    *, players: Sql, kind: str, item: str, value: Decimal, on: date, source: str, reason: str, now: datetime
) -> dict[int, str]:
    """`gift_record`'s bulk twin: one gift to each player of `players` (a SELECT of
    player_id, tier_id), set-based, in player id order within each tier as far as the
    tier's budget goes (the budgets stay locked until the transaction ends); none to a player
    erased on request. Returns the refusal note of each tier whose budget ran out, by tier id."""
    players_sql, players_params = players
    month = month_of(on)
    tier_ids = [
        row[0] for row in sql_dialect.fetchall(f"SELECT DISTINCT s.tier_id FROM ({players_sql}) s", players_params)
    ]
    rooms = gift_budget_rooms(tier_ids=tier_ids, month=month, lock=True)
    allowed, notes = {}, {}
    tiers = Tier.objects.in_bulk(list(rooms))
    for tier_id, room in rooms.items():
        count = room.gifts_fitting(value)
        if count is None:
            continue
        allowed[tier_id] = count
        notes[tier_id] = room.refusal(tier=tiers[tier_id], value=value, given=count)[:300]
    token = sql_dialect.random_token_sql(10)
    if kind != GiftKind.CODE:
        code_sql, code_params = "''", []
    elif item:
        code_sql, code_params = f"%s || '-' || {token}", [item]
    else:
        code_sql, code_params = token, []
    allowed_sql, allowed_params = sql_dialect.values_table(
        "a", [("tier_id", int), ("allowed", int)], list(allowed.items())
    )
    sql = (
        f"INSERT INTO {GiftEntry._meta.db_table} (player_id, tier_id, kind, item, code, value, month, given_on, "
        "source, reason, actor_id, created_at) "
        f"SELECT c.player_id, c.tier_id, %s, %s, {code_sql}, %s, %s, %s, %s, %s, NULL, %s FROM ("
        "SELECT s.player_id, s.tier_id, row_number() OVER (PARTITION BY s.tier_id ORDER BY s.player_id) AS n "
        f"FROM ({players_sql}) s JOIN {Player._meta.db_table} gp ON gp.id = s.player_id AND gp.erased_at IS NULL) c "
        f"LEFT JOIN {allowed_sql} ON a.tier_id = c.tier_id "
        "WHERE a.tier_id IS NULL OR c.n <= a.allowed"
    )
    params = [
        kind,
        item if kind != GiftKind.CODE else "",
        *code_params,
        value,
        month,
        on,
        source,
        reason,
        now,
        *players_params,
        *allowed_params,
    ]
    sql_dialect.execute(sql, params)
    return notes


def gift_description(gift: GiftEntry | None) -> str:
    """How a gift reads in a greeting: its code, else its item, else its value."""
    if gift is None:
        return ""
    return gift.code or gift.item or money(gift.value)


def gift_description_sql(*, alias: str, value: Decimal) -> Sql:
    """`gift_description` of the gift row `alias` (NULL: no gift), as an SQL expression."""
    return (
        f"CASE WHEN {alias}.id IS NULL THEN '' ELSE COALESCE(NULLIF({alias}.code, ''), NULLIF({alias}.item, ''), %s) END",
        [money(value)],
    )


def gift_record_for_case(*, case, number: int, item: str, value, actor, note: str, at) -> int:
    """A case's compensation, booked in the gift ledger against the monthly tier budget
    (players' `case_compensate` calls it: `CampaignsConfig.ready` hands it in)."""
    gift = gift_record(
        player=case.player,
        kind="item",
        item=item[:120],
        value=value if value is not None else Decimal(0),
        source=f"case:{case.pk}:{number}",
        reason=note or _("Compensation for case #%(id)s") % {"id": case.pk},
        actor=actor,
        on=timezone.localdate(at),
    )
    return gift.pk
