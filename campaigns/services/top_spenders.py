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
- `key_customers`: the key customers beyond the top N (tagged CRM_KEY_CUSTOMER_TAG, or at or above
  the tier CRM_KEY_CUSTOMER_MIN_TIER), who get the booked call too.
- `year_spend_summary`: spend per player in a calendar year, for the annual gift list, read from
  `PlayerYearSpend`, which `year_spend_rebuild` derives from the ledger (the nightly run rebuilds
  the years whose payments changed: `year_spend_refresh`).

The spend rule of the programme (net spend, purchases, last purchase of the payments in a period,
per player) is written once, `_PERIOD_SPEND_SQL`; the ranking, the key customers' sums and the
year's table all select from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_DOWN, Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from players.models import NOT_ERASED, Payment, PaymentKind, Player, player_is_erased

from ..models import OutreachTask, PlayerYearSpend, TaskKind, TaskTitle, YearSpendBuild
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
    key: bool = False  # a key customer beyond the top N (rank 0)
    no_gift: str = ""  # why the gift is 0: "budget" (the tier's budget is used up) or "small" (spend too small)


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


# The programme's spend rule, once: per player, the net spend (purchases less refunds, in the
# base currency), the purchases and the last purchase of the payments in [since, until).
# Standard SQL that PostgreSQL and SQLite both run; `{scope}` narrows the payments (AND ...).
_PERIOD_SPEND_SQL = """
SELECT player_id,
       SUM(CASE WHEN kind = %(purchase)s THEN amount_base ELSE 0 END)
         - SUM(CASE WHEN kind = %(refund)s THEN amount_base ELSE 0 END) AS spend,
       SUM(CASE WHEN kind = %(purchase)s THEN 1 ELSE 0 END) AS bought,
       MAX(CASE WHEN kind = %(purchase)s THEN occurred_at END) AS last_paid
FROM {payments}
WHERE occurred_at >= %(since)s AND occurred_at < %(until)s {scope}
GROUP BY player_id
"""


def _period_spend(since: datetime, until: datetime, *, scope: str = "") -> tuple[str, dict]:
    """`_PERIOD_SPEND_SQL` for the period and its named parameters."""
    from django.db import connection

    sql = _PERIOD_SPEND_SQL.format(payments=connection.ops.quote_name(Payment._meta.db_table), scope=scope)
    params = {
        "purchase": PaymentKind.PURCHASE.value,
        "refund": PaymentKind.REFUND.value,
        "since": connection.ops.adapt_datetimefield_value(since),
        "until": connection.ops.adapt_datetimefield_value(until),
    }
    return sql, params


# The period's payments are summed per player first (`_PERIOD_SPEND_SQL`), and only those players
# are joined for their server (joining every payment row to the player table cost seconds at a
# million players); a window function ranks them.
_RANKED_SQL = """
WITH spend AS ({spend}), ranked AS (
    SELECT s.player_id, p.server AS grp, s.spend, s.bought,
           ROW_NUMBER() OVER ({partition} ORDER BY s.spend DESC, p.account_id) AS rank
    FROM spend s JOIN {players} p ON p.id = s.player_id
    WHERE s.spend > 0
)
SELECT player_id, grp, rank, spend, bought FROM ranked WHERE rank <= %(n)s ORDER BY {order}
"""


def _ranked(since, until, *, n: int, per: str) -> list[tuple]:
    from django.db import connection

    spend, params = _period_spend(since, until)
    sql = _RANKED_SQL.format(
        spend=spend,
        players=connection.ops.quote_name(Player._meta.db_table),
        partition="PARTITION BY p.server" if per == "server" else "",
        order="grp, rank" if per == "server" else "rank",
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, {**params, "n": n})
        return cursor.fetchall()


def _cents(value) -> Decimal:
    """A sum as money (SQLite sums decimals as floats)."""
    return Decimal(str(value)).quantize(Decimal("0.01"))


def key_customers(
    *, start: date, end: date, exclude: set[int] | frozenset = frozenset(), players=None, with_players: bool = True
) -> list[TopSpender]:
    """The key customers (重点客户) beyond the top N: players tagged CRM_KEY_CUSTOMER_TAG, or at or
    above the tier CRM_KEY_CUSTOMER_MIN_TIER (not erased on request), except `exclude` (the top spenders already
    booked), with their net spend from `start` to `end` (0 when they spent nothing), highest
    first. `players` (a queryset) limits who is returned."""
    from vip.models import Tier

    ids: set[int] = set()
    tag = settings.CRM_KEY_CUSTOMER_TAG
    if tag:
        ids |= set(Player.objects.filter(NOT_ERASED, tags__name=tag).values_list("pk", flat=True))
    tier = (
        Tier.objects.filter(name=settings.CRM_KEY_CUSTOMER_MIN_TIER).first()
        if settings.CRM_KEY_CUSTOMER_MIN_TIER
        else None
    )
    if tier is not None:
        ids |= set(Player.objects.filter(NOT_ERASED, tier__level__gte=tier.level).values_list("pk", flat=True))
    ids -= set(exclude)
    if ids and players is not None:
        ids &= set(players.filter(pk__in=ids).values_list("pk", flat=True))
    if not ids:
        return []
    since, until = _local_range(start, end)
    sums = {}
    ordered = sorted(ids)
    for first in range(0, len(ordered), 500):
        sums |= {row[0]: row for row in _sums_of(since, until, ordered[first : first + 500])}
    by_pk = Player.objects.select_related("tier", "manager").in_bulk(ordered) if with_players else {}
    found = []
    for pk in ordered:
        _pk, spend, bought, _last = sums.get(pk, (pk, 0, 0, None))
        player = by_pk.get(pk)
        found.append(
            TopSpender(
                player_id=pk,
                group=player.server if player else "",
                rank=0,
                spend=_cents(spend),
                purchases=int(bought),
                player=player,
                key=True,
            )
        )
    return sorted(found, key=lambda t: (-t.spend, t.player.account_id if t.player else "", t.player_id))


def _sums_of(since, until, player_ids: list[int]) -> list[tuple]:
    """`_PERIOD_SPEND_SQL` for these players."""
    from django.db import connection

    names = [f"k{i}" for i in range(len(player_ids))]
    sql, params = _period_spend(since, until, scope=f"AND player_id IN ({', '.join(f'%({n})s' for n in names)})")
    with connection.cursor() as cursor:
        cursor.execute(sql, {**params, **dict(zip(names, player_ids, strict=True))})
        return cursor.fetchall()


def gift_proposals(spenders: list[TopSpender], *, on: date) -> None:
    """Set each spender's proposed gift: CRM_TOP_SPENDER_GIFT_RATE of their spend, at most
    CRM_TOP_SPENDER_GIFT_MAX, whole yuan, and never more than what is left of their tier's
    gift budget in the month of `on` after the proposals ranked before them. A gift of 0 says
    why (`no_gift`): the spend is too small, or the budget is used up."""
    rate = Decimal(str(settings.CRM_TOP_SPENDER_GIFT_RATE))
    cap = Decimal(str(settings.CRM_TOP_SPENDER_GIFT_MAX))
    tiers = {t.player.tier_id for t in spenders if t.player is not None and t.player.tier_id}
    rooms = gift_budget_rooms(tier_ids=tiers, month=month_of(on))
    left = {tier_id: room.remaining for tier_id, room in rooms.items()}
    for t in sorted(spenders, key=lambda s: (-s.spend, s.rank)):
        wanted = max(Decimal(0), min(t.spend * rate, cap).quantize(Decimal("1"), rounding=ROUND_DOWN))
        t.no_gift = "" if wanted else "small"
        tier_id = t.player.tier_id if t.player is not None else None
        if tier_id in left and wanted:
            wanted = max(Decimal(0), min(wanted, left[tier_id].quantize(Decimal("1"), rounding=ROUND_DOWN)))
            left[tier_id] -= wanted
            t.no_gift = "" if wanted else "budget"
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
    (default today), and for each key customer beyond them (`key_customers`), for their VIP
    manager, due `due_in_days` later, with the gift proposal on the task (read in the reader's
    language). Asking twice for the same half month creates nothing new. Returns (start, end,
    the spenders and key customers, tasks created)."""
    on = on or timezone.localdate()
    n = n or settings.CRM_TOP_SPENDER_COUNT
    start, end = half_month_before(on)
    spenders = top_spenders(start=start, end=end, n=n, per=per)
    spenders += key_customers(start=start, end=end, exclude={t.player_id for t in spenders})
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
            **({"key": True} if t.key else {}),
            **({"no_gift": t.no_gift} if t.no_gift else {}),
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


# --- the year-end spend summary: a table derived from the ledger --------------------------------

# A payment received this long before a build is taken to be committed when the build reads
# the ledger (no ledger transaction stays open longer).
COMMIT_MARGIN = timedelta(minutes=10)


def _year_range(year: int) -> tuple[datetime, datetime]:
    return _local_range(date(year, 1, 1), date(year, 12, 31))


@transaction.atomic
def year_spend_rebuild(*, year: int, now: datetime | None = None) -> int:
    """(Re)build `PlayerYearSpend` for calendar `year` (TIME_ZONE) from the ledger with the
    programme's spend rule: one row per player with net spend in the year. The table's only
    writer; returns the rows written. One builder of a year at a time (the build row is
    locked); the summary never sees a half-built year (one transaction)."""
    from django.db import connection

    now = now or timezone.now()
    build, _created = YearSpendBuild.objects.get_or_create(year=year, defaults={"built_at": now})
    build = YearSpendBuild.objects.select_for_update().get(pk=build.pk)
    through = (
        Payment.objects.filter(received_at__lt=now - COMMIT_MARGIN).order_by("-pk").values_list("pk", flat=True).first()
    )
    PlayerYearSpend.objects.filter(year=year).delete()
    spend, params = _period_spend(*_year_range(year))
    table = connection.ops.quote_name(PlayerYearSpend._meta.db_table)
    sql = (
        f"INSERT INTO {table} (player_id, year, spend, purchases, last_paid_at) "
        f"SELECT player_id, %(year)s, spend, bought, last_paid FROM ({spend}) AS per_player WHERE spend > 0"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, {**params, "year": year})
        written = cursor.rowcount
    build.built_at = now
    build.payments_through = through or 0
    build.save(update_fields=["built_at", "payments_through"])
    return written


def year_spend_refresh(*, now: datetime | None = None, years: list[int] | None = None) -> list[int]:
    """The nightly run's step: rebuild every summed year in which a payment received since its
    build occurred (a late event, a refund), and this year if it was never summed; or exactly
    `years`. Returns the years rebuilt."""
    now = now or timezone.now()
    if years is None:
        years = []
        for year, through in YearSpendBuild.objects.values_list("year", "payments_through"):
            since, until = _year_range(year)
            if Payment.objects.filter(pk__gt=through, occurred_at__gte=since, occurred_at__lt=until).exists():
                years.append(year)
        this_year = timezone.localtime(now).year
        if not YearSpendBuild.objects.filter(year=this_year).exists():
            years.append(this_year)
    for year in sorted(set(years)):
        year_spend_rebuild(year=year, now=now)
    return sorted(set(years))


def year_spend_built_at(year: int) -> datetime | None:
    """When the year's sums were last built (None: never)."""
    return YearSpendBuild.objects.filter(year=year).values_list("built_at", flat=True).first()


_YEAR_SQL = """
SELECT player_id, spend, purchases, last_paid_at, COUNT(*) OVER () AS total
FROM {table}
WHERE year = %(year)s AND spend >= CAST(%(min_spend)s AS NUMERIC) AND spend > 0 {scope}
ORDER BY spend DESC, player_id
{limit}
"""


def year_spend_summary(
    *, year: int, min_spend: Decimal = Decimal(0), players=None, offset: int = 0, limit: int | None = None
) -> tuple[list[dict], int]:
    """Net spend per player in calendar `year` (TIME_ZONE), highest first, players with no
    net spend left out: (rows of player_id, spend, purchases, last_paid_at; how many players
    in all), read from `PlayerYearSpend` as last built (a year never summed is built first).
    `players` (a queryset, e.g. those a user may see) limits it; `offset`/`limit` page it."""
    from django.db import connection

    if year_spend_built_at(year) is None:
        year_spend_rebuild(year=year)
    params = {"year": year, "min_spend": str(Decimal(min_spend))}
    scope, scope_params = "", []
    if players is not None:
        scope_sql, scope_params = players.order_by().values("pk").query.sql_with_params()
        scope = f"AND player_id IN ({scope_sql})"
    sql = _YEAR_SQL.format(
        table=connection.ops.quote_name(PlayerYearSpend._meta.db_table),
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
