"""The half-monthly top-spender programme: the segment (top N per server in a period), the
gift proposal within the tier's budget, the booked calls (once per half month), and the
year-end summary. Real ledger rows through the ledger's service."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.utils import translation

from campaigns.models import GiftBudget, OutreachTask, PlayerYearSpend, TaskKind, TaskTitle, YearSpendBuild
from campaigns.services.top_spenders import (
    half_month_before,
    key_customers,
    top_spender_visits_create,
    top_spenders,
    year_spend_built_at,
    year_spend_rebuild,
    year_spend_refresh,
    year_spend_summary,
)
from crm.nightly import nightly_run
from players.models import Player, Tag

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("on", "period"),
    [
        (date(2026, 12, 1), (date(2026, 11, 16), date(2026, 11, 30))),
        (date(2026, 12, 16), (date(2026, 12, 1), date(2026, 12, 15))),
        (date(2026, 3, 1), (date(2026, 2, 16), date(2026, 2, 28))),
        (date(2026, 1, 1), (date(2025, 12, 16), date(2025, 12, 31))),
        (date(2026, 1, 10), (date(2025, 12, 16), date(2025, 12, 31))),
    ],
)
def test_the_half_month_before_a_run(on, period):
    assert half_month_before(on) == period


@pytest.fixture
def half_month(make_player, pay, manager, other_manager, tiers):
    """Spend in 2026-11-16 .. 2026-11-30 on two servers, with a refund, a tie, a purchase
    just outside each end of the period, and a player with only a refund."""
    p = {}
    for name, server, owner in [
        ("a1", "s1", manager),
        ("a2", "s1", manager),
        ("a3", "s1", other_manager),
        ("a4", "s1", other_manager),
        ("b1", "s2", manager),
        ("b2", "s2", other_manager),
        ("tie", "s2", other_manager),
    ]:
        p[name] = make_player(account_id=f"top-{name}", nickname=name, server=server, manager=owner, tier=tiers["V5"])
    pay(p["a1"], "3000", at=at(date(2026, 11, 20)))
    pay(p["a1"], "1000", kind="refund", at=at(date(2026, 11, 21)))  # net 2000
    pay(p["a2"], "2500", at=at(date(2026, 11, 16), 0))  # the first minute of the period (local time)
    pay(p["a3"], "1800", at=at(date(2026, 11, 30), 23))
    pay(p["a4"], "9000", at=at(date(2026, 11, 15), 23))  # before the period
    pay(p["a4"], "100", at=at(date(2026, 11, 25)))
    pay(p["b1"], "500", at=at(date(2026, 11, 18)))
    pay(p["b2"], "700", at=at(date(2026, 11, 18)))
    pay(p["tie"], "500", at=at(date(2026, 11, 19)))
    pay(p["b1"], "9999", at=at(date(2026, 12, 1), 0))  # after the period
    return p


def test_top_spenders_per_server_rank_net_spend_in_the_period(half_month):
    ranked = top_spenders(start=date(2026, 11, 16), end=date(2026, 11, 30), n=3)
    assert [(t.group, t.rank, t.player.account_id, t.spend) for t in ranked] == [
        ("s1", 1, "top-a2", Decimal("2500.00")),
        ("s1", 2, "top-a1", Decimal("2000.00")),
        ("s1", 3, "top-a3", Decimal("1800.00")),
        ("s2", 1, "top-b2", Decimal("700.00")),
        ("s2", 2, "top-b1", Decimal("500.00")),  # a tie is broken by account id
        ("s2", 3, "top-tie", Decimal("500.00")),
    ]
    overall = top_spenders(start=date(2026, 11, 16), end=date(2026, 11, 30), n=2, per="all")
    assert [(t.group, t.rank, t.player.account_id) for t in overall] == [("", 1, "top-a2"), ("", 2, "top-a1")]
    assert top_spenders(start=date(2026, 11, 16), end=date(2026, 11, 30), n=0) == []


def test_a_manager_sees_only_their_players_among_the_ranked(half_month, manager):
    from players.selectors import players_visible_to

    ranked = top_spenders(start=date(2026, 11, 16), end=date(2026, 11, 30), n=3, players=players_visible_to(manager))
    assert [(t.player.account_id, t.rank) for t in ranked] == [("top-a2", 1), ("top-a1", 2), ("top-b1", 2)]


def test_booked_calls_once_per_half_month_with_gifts_within_the_budget(half_month, tiers, manager, time_machine):
    time_machine.move_to(datetime(2026, 12, 1, 1, 0, tzinfo=UTC))
    GiftBudget.objects.create(tier=tiers["V5"], monthly_amount=Decimal("80"))
    Player.objects.filter(account_id__startswith="top-").update(tier=tiers["V5"])  # one budget for all
    start, end, spenders, created = top_spender_visits_create(on=date(2026, 12, 1), n=2)
    assert (start, end, created) == (date(2026, 11, 16), date(2026, 11, 30), 4)
    gifts = {t.player.account_id: t.gift for t in spenders}
    # 2 % of spend, whole yuan, shared out highest spender first until the tier's 80 is gone
    assert gifts == {"top-a2": 50, "top-a1": 30, "top-b2": 0, "top-b1": 0}
    task = OutreachTask.objects.get(player=half_month["a2"])
    assert (task.kind, task.assignee, task.due_date, task.title_code) == (
        TaskKind.VIP_CARE,
        manager,
        date(2026, 12, 4),
        TaskTitle.TOP_SPENDER,
    )
    with translation.override("zh-hans"):
        assert task.title_text == (
            "回访：a2，2026-11-16 – 2026-11-30 s1 第 1 名，消费 ¥2,500.00；建议赠送价值 ¥50.00 的礼品"
        )
    with translation.override("en"):
        assert OutreachTask.objects.get(player=half_month["b2"]).title_text == (
            "Return visit: b2, No. 1 on s2 for 2026-11-16 – 2026-11-30, spent ¥700.00; "
            "no gift: the tier's gift budget is used up"
        )
    assert top_spender_visits_create(on=date(2026, 12, 1), n=2)[3] == 0  # the same half month again


def test_the_command_lists_and_books(half_month, capsys):
    call_command("top_spender_visits", "--date", "2026-12-01", "--top", "1", "--dry-run")
    out = capsys.readouterr().out
    assert "s1 #1 top-a2" in out and "would book 2 calls" in out
    assert not OutreachTask.objects.exists()
    call_command("top_spender_visits", "--date", "2026-12-01", "--top", "1")
    assert set(OutreachTask.objects.values_list("player__account_id", flat=True)) == {"top-a2", "top-b2"}


def test_the_year_end_summary_sums_the_calendar_year_net(half_month, manager):
    from players.selectors import players_visible_to

    rows, total = year_spend_summary(year=2026)
    by_player = {r["player_id"]: r["spend"] for r in rows}
    assert total == 7 and len(rows) == 7
    assert by_player[half_month["a4"].pk] == Decimal("9100.00")
    assert by_player[half_month["b1"].pk] == Decimal("10499.00")
    assert rows[0]["player_id"] == half_month["b1"].pk and rows[0]["purchases"] == 2  # highest first
    assert rows[0]["last_paid_at"] == at(date(2026, 12, 1), 0)
    rows, total = year_spend_summary(year=2026, min_spend=Decimal("5000"))
    assert ([r["player_id"] for r in rows], total) == ([half_month["b1"].pk, half_month["a4"].pk], 2)
    page, total = year_spend_summary(year=2026, offset=2, limit=2)
    assert (len(page), total) == (2, 7)
    assert year_spend_summary(year=2026, offset=100, limit=2) == ([], 7)
    mine, total = year_spend_summary(year=2026, players=players_visible_to(manager))
    assert {r["player_id"] for r in mine} == {half_month[n].pk for n in ("a1", "a2", "b1")} and total == 3
    assert year_spend_summary(year=2025) == ([], 0)


def test_the_year_sums_are_a_table_built_from_the_ledger_and_refreshed_by_the_nightly_run(half_month, pay):
    # given the year summed once (on first reading)
    rows, _total = year_spend_summary(year=2026)
    built = year_spend_built_at(2026)
    assert built is not None and PlayerYearSpend.objects.filter(year=2026).count() == 7
    # when a payment arrives, the sums stay as built until the nightly run
    pay(half_month["a2"], "100000", at=at(date(2026, 12, 2)))
    assert year_spend_summary(year=2026)[0][0]["player_id"] == half_month["b1"].pk
    later = datetime.now(UTC) + timedelta(hours=1)  # past the commit margin of every payment above
    # (the current year too, should the test run on New Year's Eve after 16:00 UTC)
    assert 2026 in nightly_run(now=later)["year_spend"]["rebuilt"]
    rows, total = year_spend_summary(year=2026)
    assert (rows[0]["player_id"], rows[0]["spend"], total) == (half_month["a2"].pk, Decimal("102500.00"), 7)
    assert year_spend_built_at(2026) == later
    # nothing new: nothing rebuilt; a late event of last year rebuilds that year only once it was summed
    assert year_spend_refresh(now=later + timedelta(hours=1)) == []
    assert year_spend_summary(year=2025) == ([], 0)
    pay(half_month["a3"], "66", at=at(date(2025, 12, 31), 23))  # 2025 in Shanghai, 2025-12-31 15:00 UTC
    assert year_spend_refresh(now=later + timedelta(hours=2)) == [2025]
    assert [(r["player_id"], r["spend"]) for r in year_spend_summary(year=2025)[0]] == [
        (half_month["a3"].pk, Decimal("66.00"))
    ]


def test_a_rebuild_equals_summing_afresh_and_the_command_rebuilds_a_year(half_month, pay, capsys):
    year_spend_rebuild(year=2026)
    before = list(PlayerYearSpend.objects.filter(year=2026).order_by("player_id").values_list("player_id", "spend"))
    PlayerYearSpend.objects.filter(year=2026).update(spend=Decimal("1"))  # damaged
    call_command("year_spend_refresh", "--year", "2026")
    assert "rebuilt: 2026" in capsys.readouterr().out
    after = list(PlayerYearSpend.objects.filter(year=2026).order_by("player_id").values_list("player_id", "spend"))
    assert after == before
    assert YearSpendBuild.objects.get(year=2026).payments_through == 0  # all received within the margin


@pytest.fixture
def key_customer(half_month, make_player, pay, manager, tiers):
    """A player tagged 重点客户 who spent little in the half month (outside the top 3)."""
    player = make_player(account_id="top-key", nickname="老客户", server="s1", manager=manager, tier=tiers["V5"])
    player.tags.add(Tag.objects.create(name="重点客户"))
    pay(player, "10", at=at(date(2026, 11, 20)))
    return player


def test_key_customers_beyond_the_top_n_get_the_booked_call_too(key_customer, half_month, tiers, time_machine):
    time_machine.move_to(datetime(2026, 12, 1, 1, 0, tzinfo=UTC))
    start, end, spenders, created = top_spender_visits_create(on=date(2026, 12, 1), n=1)
    # the top 1 per server, then the key customer (rank 0)
    assert [(t.player.account_id, t.rank, t.key) for t in spenders] == [
        ("top-a2", 1, False),
        ("top-b2", 1, False),
        ("top-key", 0, True),
    ]
    assert created == 3
    task = OutreachTask.objects.get(player=key_customer)
    assert (task.kind, task.title_code, task.title_params["key"]) == (TaskKind.VIP_CARE, TaskTitle.TOP_SPENDER, True)
    with translation.override("en"):
        # 2 % of 10 yuan rounds to no gift: said without blaming the budget
        assert task.title_text == "Return visit: 老客户, key customer, spent ¥10.00 in 2026-11-16 – 2026-11-30"
    with translation.override("zh-hans"):
        assert task.title_text == "回访：老客户，重点客户，2026-11-16 – 2026-11-30 消费 ¥10.00"
    # a key customer who ranks among the top N is booked once, as ranked
    assert key_customers(start=start, end=end, exclude={half_month["a2"].pk, key_customer.pk}) == []


def test_a_tier_threshold_makes_key_customers(half_month, tiers, settings):
    settings.CRM_KEY_CUSTOMER_TAG = ""
    settings.CRM_KEY_CUSTOMER_MIN_TIER = "V5"
    Player.objects.filter(account_id="top-a4").update(tier=tiers["V6"])
    Player.objects.filter(account_id__in=["top-a1", "top-a3"]).update(tier=tiers["V1"])
    found = key_customers(
        start=date(2026, 11, 16), end=date(2026, 11, 30), exclude={half_month["a2"].pk, half_month["b2"].pk}
    )
    assert [(t.player.account_id, t.spend) for t in found] == [
        ("top-b1", Decimal("500.00")),
        ("top-tie", Decimal("500.00")),
        ("top-a4", Decimal("100.00")),
    ]
    settings.CRM_KEY_CUSTOMER_MIN_TIER = ""
    assert key_customers(start=date(2026, 11, 16), end=date(2026, 11, 30)) == []
