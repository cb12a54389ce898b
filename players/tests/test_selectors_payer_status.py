"""The churn reports (players.selectors.payer_status), from recorded transitions."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from players.models.payer_status import ChurnSnapshot, PayerStatusChange
from players.selectors.payer_status import churn_report, churn_report_rows, month_starts, revenue_at_risk

NOW = datetime(2026, 11, 22, 4, 0, tzinfo=UTC)


def moved(player, at, from_status, to_status, tier):
    return PayerStatusChange.objects.create(
        player=player, from_status=from_status, to_status=to_status, changed_at=at, tier=tier, trigger="scan"
    )


@pytest.fixture
def history(make_player, tiers):
    """Ten V3 payers from September; in October four churn; in November one of them
    comes back (recorded at V4: the recovery still counts for V3) and a V5 churns."""
    v3, v4, v5 = tiers["V3"], tiers["V4"], tiers["V5"]
    players = [make_player() for _ in range(10)]
    for p in players:
        moved(p, datetime(2026, 9, 3, tzinfo=UTC), "non_payer", "active", v3)
    for p in players[:4]:
        moved(p, datetime(2026, 10, 2, tzinfo=UTC), "active", "at_risk", v3)
        moved(p, datetime(2026, 10, 20, tzinfo=UTC), "at_risk", "churned", v3)
    moved(players[0], datetime(2026, 11, 5, tzinfo=UTC), "churned", "active", v4)
    whale = make_player()
    moved(whale, datetime(2026, 9, 1, 1, tzinfo=UTC), "non_payer", "active", v5)
    moved(whale, datetime(2026, 11, 10, tzinfo=UTC), "active", "churned", v5)
    return players


def test_monthly_churn_and_recovery_rates_per_tier(history, tiers):
    report = churn_report(now=NOW, months=3)
    assert report.months == [date(2026, 9, 1), date(2026, 10, 1), date(2026, 11, 1)]
    october = report.cell(date(2026, 10, 1), tiers["V3"])
    assert (october.payers_at_start, october.churned, october.churn_rate) == (10, 4, 0.4)
    november = report.cell(date(2026, 11, 1), tiers["V3"])
    assert (november.payers_at_start, november.churned_at_start, november.recovered) == (6, 4, 1)
    assert november.recovery_rate == 0.25
    assert report.cell(date(2026, 11, 1), tiers["V4"]).recovered == 0
    v5 = report.cell(date(2026, 11, 1), tiers["V5"])
    assert (v5.payers_at_start, v5.churned, v5.churn_rate) == (1, 1, 1.0)
    total = report.total(date(2026, 11, 1))
    assert (total.payers_at_start, total.churned, total.recovered) == (7, 1, 1)
    # September began before anyone paid: no rate rather than a division by zero
    assert report.total(date(2026, 9, 1)).churn_rate is None


def test_month_boundaries_are_local_time(make_player, tiers):
    # 2026-10-31 17:00 UTC is already 1 November in Shanghai
    player = make_player()
    moved(player, datetime(2026, 9, 1, tzinfo=UTC), "non_payer", "active", tiers["V1"])
    moved(player, datetime(2026, 10, 31, 17, tzinfo=UTC), "at_risk", "churned", tiers["V1"])
    report = churn_report(now=NOW, months=2)
    assert report.cell(date(2026, 11, 1), tiers["V1"]).churned == 1
    assert report.cell(date(2026, 10, 1), tiers["V1"]).churned == 0


def test_revenue_at_risk_by_month_from_the_latest_snapshot(db, tiers):
    ChurnSnapshot.objects.create(day=date(2026, 10, 30), tier=tiers["V3"], at_risk=3, revenue_at_risk=Decimal("90"))
    ChurnSnapshot.objects.create(day=date(2026, 10, 31), tier=tiers["V3"], at_risk=2, revenue_at_risk=Decimal("60"))
    ChurnSnapshot.objects.create(day=date(2026, 11, 21), tier=None, at_risk=1, revenue_at_risk=Decimal("6"))
    report = churn_report(now=NOW, months=2)
    assert report.cell(date(2026, 10, 1), tiers["V3"]).revenue_at_risk == Decimal("60")
    assert report.total(date(2026, 11, 1)).revenue_at_risk == Decimal("6")


def test_csv_rows_have_every_month_and_tier(history, tiers):
    rows = churn_report_rows(churn_report(now=NOW, months=12))
    assert len(rows) == 12 * (len(tiers) + 2)  # tiers, no tier, total
    october_v3 = next(r for r in rows if r[0] == "2026-10" and r[1] == "V3")
    assert october_v3 == ["2026-10", "V3", 10, 4, "40.0", 0, 0, "", ""]


def test_month_starts_run_back_over_the_year_end():
    assert month_starts(now=datetime(2026, 2, 10, tzinfo=UTC), months=3) == [
        date(2025, 12, 1),
        date(2026, 1, 1),
        date(2026, 2, 1),
    ]


def test_revenue_at_risk_now_is_scoped(make_player, pay, manager, other_manager):
    from datetime import timedelta

    from django.utils import timezone

    mine = make_player(manager=manager)
    theirs = make_player(manager=other_manager)
    pay(mine, "100.00", at=timezone.now() - timedelta(days=10))
    pay(theirs, "50.00", at=timezone.now() - timedelta(days=10))
    assert revenue_at_risk()["revenue"] == Decimal("150.00")
    assert revenue_at_risk(user=manager)["revenue"] == Decimal("100.00")
