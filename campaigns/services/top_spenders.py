"""The half-monthly top-spender programme (大客户回访): every half month, the top N spenders of
each server get a booked return-visit call for their VIP manager, with a gift proposal matched
to what they spent; at year end, spend is summed per player for the annual gift list.

- `top_spenders`: the segment "top N by spend in a period, per server" (net spend: purchases
  less refunds, in base currency, from the ledger), ranked in one query with a window function.
- `top_spender_visits_create`: the scheduled run (the 1st and 16th, `campaigns.top_spender_visits`
  on the beat schedule, or `manage.py top_spender_visits`) books one call task per player and
  half month (idempotent: the task's source names the period).
- `gift_proposal`: the gift matched to spend, within the tier's monthly gift budget (the one
  budget rule, `gifts.gift_budget_rooms`); proposed on the task, given through the gift ledger.
- `year_spend_summary`: spend per player in a calendar year, for the annual gift list.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_DOWN, Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from players.models import Payment, PaymentKind, Player, player_is_erased

from ..models import OutreachTask, TaskKind, TaskTitle
from .gifts import gift_budget_rooms, month_of

GROUPINGS = ("server", "all")  # per server, or the whole company as one group


@dataclass
class TopSpender:
    player_id: int
    group: str  # the server ("" for the whole company)
    rank: int
    spend: Decimal
    purchases: int
    player: Player | None = None
    gift: Decimal = Decimal("0")


def half_month_before(on: date) -> tuple[date, date]:
    """The half month that ended before `on`: run on the 16th, the 1st–15th; run on the 1st
    (or any day up to the 15th), the 16th to the end of the previous month."""
    if on.day >= 16:
        return on.replace(day=1), on.replace(day=15)
    last = on.replace(day=1) - timedelta(days=1)
    return last.replace(day=16), last


def _local_range(start: date, end: date) -> tuple[datetime, datetime]:
    tz = timezone.get_current_timezone()
    return (
        timezone.make_aware(datetime.combine(start, time.min), tz),
        timezone.make_aware(datetime.combine(end + timedelta(days=1), time.min), tz),
    )


def top_spenders(
    *, start: date, end: date, n: int = 3, per: str = "server", players=None, with_players: bool = True
) -> list[TopSpender]:
    """The top `n` players by net spend from `start` to `end` (days in TIME_ZONE,
    inclusive) in each server (`per="server"`) or overall (`per="all"`); players with no net
    spend are not ranked. Ties are broken by account id. `players` (a queryset, e.g. those a
    user may see) limits the rows returned, not the ranking."""
    if per not in GROUPINGS:
        raise ValueError(per)
    if n < 1:
        return []
    since, until = _local_range(start, end)
    found = [
        TopSpender(
            player_id=pk, group=group if per == "server" else "", rank=rank, spend=_cents(spend), purchases=bought
        )
        for pk, group, rank, spend, bought in _ranked(since, until, n=n, per=per)
    ]
    if players is not None:
        visible = set(players.filter(pk__in=[t.player_id for t in found]).values_list("pk", flat=True))
        found = [t for t in found if t.player_id in visible]
    if with_players:
        by_pk = Player.objects.select_related("tier", "manager").in_bulk([t.player_id for t in found])
        for t in found:
            t.player = by_pk.get(t.player_id)
    return found


# Standard SQL (a CTE and a window function) that PostgreSQL and SQLite both run: the period's
# payments are summed per player first, and only those players are joined for their server
# (joining every payment row to the player table cost seconds at a million players).
_RANKED_SQL = """
WITH spend AS (
    SELECT player_id,
           SUM(CASE WHEN kind = %(purchase)s THEN amount_base ELSE 0 END)
             - SUM(CASE WHEN kind = %(refund)s THEN amount_base ELSE 0 END) AS spend,
           SUM(CASE WHEN kind = %(purchase)s THEN 1 ELSE 0 END) AS bought
    FROM {payments}
    WHERE occurred_at >= %(since)s AND occurred_at < %(until)s
    GROUP BY player_id
), ranked AS (
    SELECT s.player_id, p.server AS grp, s.spend, s.bought,
           ROW_NUMBER() OVER ({partition} ORDER BY s.spend DESC, p.account_id) AS rank
    FROM spend s JOIN {players} p ON p.id = s.player_id
    WHERE s.spend > 0
)
SELECT player_id, grp, rank, spend, bought FROM ranked WHERE rank <= %(n)s ORDER BY {order}
"""


def _ranked(since, until, *, n: int, per: str) -> list[tuple]:
    from django.db import connection

    sql = _RANKED_SQL.format(
        payments=connection.ops.quote_name(Payment._meta.db_table),
        players=connection.ops.quote_name(Player._meta.db_table),
        partition="PARTITION BY p.server" if per == "server" else "",
        order="grp, rank" if per == "server" else "rank",
    )
    params = {
        "purchase": PaymentKind.PURCHASE.value,
        "refund": PaymentKind.REFUND.value,
        "since": connection.ops.adapt_datetimefield_value(since),
        "until": connection.ops.adapt_datetimefield_value(until),
        "n": n,
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _cents(value) -> Decimal:
    """A sum as money (SQLite sums decimals as floats)."""
    return Decimal(str(value)).quantize(Decimal("0.01"))


def gift_proposals(spenders: list[TopSpender], *, on: date) -> None:
    """Set each spender's proposed gift: CRM_TOP_SPENDER_GIFT_RATE of their spend, at most
    CRM_TOP_SPENDER_GIFT_MAX, whole yuan, and never more than what is left of their tier's
    gift budget in the month of `on` after the proposals ranked before them."""
    rate = Decimal(str(settings.CRM_TOP_SPENDER_GIFT_RATE))
    cap = Decimal(str(settings.CRM_TOP_SPENDER_GIFT_MAX))
    tiers = {t.player.tier_id for t in spenders if t.player is not None and t.player.tier_id}
    rooms = gift_budget_rooms(tier_ids=tiers, month=month_of(on))
    left = {tier_id: room.remaining for tier_id, room in rooms.items()}
    for t in sorted(spenders, key=lambda s: (-s.spend, s.rank)):
        wanted = min(t.spend * rate, cap).quantize(Decimal("1"), rounding=ROUND_DOWN)
        tier_id = t.player.tier_id if t.player is not None else None
        if tier_id in left:
            wanted = max(Decimal(0), min(wanted, left[tier_id].quantize(Decimal("1"), rounding=ROUND_DOWN)))
            left[tier_id] -= wanted
        t.gift = wanted


def top_spender_source(start: date) -> str:
    return f"top-spender:{start:%Y%m%d}"


@transaction.atomic
def top_spender_visits_create(
    *,
    on: date | None = None,
    n: int | None = None,
    per: str = "server",
    due_in_days: int = 3,
    actor=None,
    dry_run: bool = False,
) -> tuple[date, date, list[TopSpender], int]:
    """Book a return-visit call task for each top spender of the half month before `on`
    (default today), for their VIP manager, due `due_in_days` later, with the gift proposal
    on the task (read in the reader's language). Asking twice for the same half month
    creates nothing new. Returns (start, end, the spenders, tasks created)."""
    on = on or timezone.localdate()
    n = n or settings.CRM_TOP_SPENDER_COUNT
    start, end = half_month_before(on)
    spenders = top_spenders(start=start, end=end, n=n, per=per)
    gift_proposals(spenders, on=on)
    if dry_run or not spenders:
        return start, end, spenders, 0
    source = top_spender_source(start)
    existing = set(
        OutreachTask.objects.filter(source=source, player_id__in=[t.player_id for t in spenders]).values_list(
            "player_id", flat=True
        )
    )
    due = on + timedelta(days=due_in_days)
    tasks = []
    for t in spenders:
        if t.player_id in existing or t.player is None or player_is_erased(t.player):
            continue  # ranked all the same (reports do not change), but an erased player is not called
        params = {
            "rank": t.rank,
            "server": t.group,
            "start": start.isoformat(),
            "end": end.isoformat(),
            "spend": str(t.spend),
            "gift": str(t.gift),
        }
        task = OutreachTask(
            player=t.player,
            assignee_id=t.player.manager_id,
            kind=TaskKind.VIP_CARE,
            title_code=TaskTitle.TOP_SPENDER,
            title_params=params,
            due_date=due,
            source=source,
            created_by=actor,
        )
        task.title = task.title_text[:200]  # in the job's language, for search
        tasks.append(task)
    OutreachTask.objects.bulk_create(tasks, ignore_conflicts=True)
    return start, end, spenders, len(tasks)


_YEAR_SQL = """
SELECT player_id, spend, bought, last_paid, COUNT(*) OVER () AS total FROM (
    SELECT player_id,
           SUM(CASE WHEN kind = %(purchase)s THEN amount_base ELSE 0 END)
             - SUM(CASE WHEN kind = %(refund)s THEN amount_base ELSE 0 END) AS spend,
           SUM(CASE WHEN kind = %(purchase)s THEN 1 ELSE 0 END) AS bought,
           MAX(CASE WHEN kind = %(purchase)s THEN occurred_at END) AS last_paid
    FROM {payments}
    WHERE occurred_at >= %(since)s AND occurred_at < %(until)s {scope}
    GROUP BY player_id
) AS per_player
WHERE spend >= CAST(%(min_spend)s AS NUMERIC) AND spend > 0
ORDER BY spend DESC, player_id
{limit}
"""


def year_spend_summary(
    *, year: int, min_spend: Decimal = Decimal(0), players=None, offset: int = 0, limit: int | None = None
) -> tuple[list[dict], int]:
    """Net spend per player in calendar `year` (TIME_ZONE), highest first, players with no
    net spend left out: (rows of player_id, spend, purchases, last_paid_at; how many players
    in all). One pass over the year's payments (the count comes with the rows). `players`
    (a queryset, e.g. those a user may see) limits it; `offset`/`limit` page it."""
    from django.db import connection

    since, until = _local_range(date(year, 1, 1), date(year, 12, 31))
    params = {
        "purchase": PaymentKind.PURCHASE.value,
        "refund": PaymentKind.REFUND.value,
        "since": connection.ops.adapt_datetimefield_value(since),
        "until": connection.ops.adapt_datetimefield_value(until),
        "min_spend": str(Decimal(min_spend)),
    }
    scope, scope_params = "", []
    if players is not None:
        scope_sql, scope_params = players.order_by().values("pk").query.sql_with_params()
        scope = f"AND player_id IN ({scope_sql})"
    sql = _YEAR_SQL.format(
        payments=connection.ops.quote_name(Payment._meta.db_table),
        scope=scope.replace("%s", "%%s"),
        limit="" if limit is None else f"LIMIT {int(limit)} OFFSET {int(offset)}",
    )
    # named parameters for ours, then the scope's positional ones: bind them all by name
    for i, value in enumerate(scope_params):
        sql = sql.replace("%%s", f"%(scope{i})s", 1)
        params[f"scope{i}"] = value
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        fetched = cursor.fetchall()

    def aware(value):  # SQLite returns the text it stores (UTC)
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if value is not None and timezone.is_naive(value):
            value = value.replace(tzinfo=UTC)
        return value

    rows = [
        {"player_id": pk, "spend": _cents(spend), "purchases": int(bought), "last_paid_at": aware(last)}
        for pk, spend, bought, last, _total in fetched
    ]
    total = fetched[0][4] if fetched else 0
    if fetched == [] and offset:
        total = year_spend_summary(year=year, min_spend=min_spend, players=players, limit=1)[1]
    return rows, total
