"""Payer status and churn risk (players.services.payer_status), on a frozen clock."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from campaigns.models import OutreachTask, TaskKind
from campaigns.services.winback import winback_tasks_create
from crm.nightly import nightly_run
from players.models import PayerStatus, Player
from players.models.payer_status import ChurnRule, ChurnSnapshot, PayerStatusChange, PlayerChurn
from players.services import player_upsert
from players.services.payer_status import (
    churn_rules_effective,
    churn_scan,
    payer_status_refresh,
)

T0 = datetime(2026, 6, 1, 4, 0, 0, tzinfo=UTC)


def days(n: float) -> timedelta:
    return timedelta(days=n)


def transitions(player) -> list[tuple[str, str, str]]:
    return list(
        PayerStatusChange.objects.filter(player=player)
        .order_by("changed_at", "id")
        .values_list("from_status", "to_status", "trigger")
    )


def status(player) -> str:
    return Player.objects.get(pk=player.pk).payer_status


def figures(player) -> PlayerChurn:
    return PlayerChurn.objects.get(player=player)


def login(player, at):
    """What the login API does: move last_login_at forward, then refresh."""
    player_upsert(account_id=player.account_id, data={"last_login_at": at})
    payer_status_refresh(player_ids=[player.pk], now=at, trigger="login")


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def scan_at(clock, when):
    clock.move_to(when)
    return churn_scan(now=timezone.now())


# --- transitions -----------------------------------------------------------------


def test_first_purchase_makes_an_active_payer_and_records_it(clock, make_player, pay):
    # given a player who never paid
    player = make_player()
    assert status(player) == PayerStatus.NON_PAYER
    # when they buy
    pay(player, "648.00")
    # then they are an active payer, and the change is recorded with when and why
    assert status(player) == PayerStatus.ACTIVE
    change = PayerStatusChange.objects.get(player=player)
    assert (change.from_status, change.to_status, change.trigger) == ("non_payer", "active", "payment")
    assert change.changed_at == T0
    assert figures(player).risk_score == 0


def test_time_without_payment_makes_at_risk_then_churned(clock, make_player, pay):
    # given a weekly payer who stops paying but keeps logging in for a while
    player = make_player()
    for week in (3, 2, 1, 0):
        clock.move_to(T0 - days(7 * week))
        pay(player, "30.00")
    clock.move_to(T0 + days(8))
    login(player, timezone.now())
    # when 8 days pass the nightly scan keeps them active (median gap 7: threshold 14)
    scan_at(clock, T0 + days(8))
    assert status(player) == PayerStatus.ACTIVE
    # when 15 days pass: more than twice the median gap
    scan_at(clock, T0 + days(15))
    assert status(player) == PayerStatus.AT_RISK
    assert figures(player).reasons == ["overdue"]
    # when 30 days pass: churned
    scan_at(clock, T0 + days(30))
    assert status(player) == PayerStatus.CHURNED
    assert figures(player).risk_score == 100
    assert transitions(player) == [
        ("non_payer", "active", "payment"),
        ("active", "at_risk", "scan"),
        ("at_risk", "churned", "scan"),
    ]
    churned = PayerStatusChange.objects.filter(player=player, to_status="churned").get()
    assert churned.days_since_payment == pytest.approx(30)


def test_churned_payer_who_pays_again_is_recovered(clock, make_player, pay):
    # given a churned payer
    player = make_player()
    pay(player, "100.00")
    scan_at(clock, T0 + days(31))
    assert status(player) == PayerStatus.CHURNED
    # when they pay again
    pay(player, "100.00")
    # then churned → active is recorded: a recovery
    change = PayerStatusChange.objects.filter(player=player).first()
    assert (change.from_status, change.to_status) == ("churned", "active")
    assert change.is_recovery


def test_small_comeback_payment_is_churned_to_at_risk_not_a_recovery(clock, make_player, pay):
    # given a churned payer who spent 100 in the 30 days before churning
    player = make_player()
    pay(player, "100.00")
    scan_at(clock, T0 + days(31))
    # when they come back with 6.00: under half of the window before
    pay(player, "6.00")
    # then they are at risk for the spend drop, which is not (yet) a recovery
    change = PayerStatusChange.objects.filter(player=player).first()
    assert (change.from_status, change.to_status) == ("churned", "at_risk")
    assert not change.is_recovery
    assert figures(player).reasons == ["spend_drop"]


def test_active_straight_to_churned_when_their_rhythm_is_slow(clock, make_player, pay):
    # given a player paying every 20 days (threshold 40 days) who logs in daily
    player = make_player()
    for n in (3, 2, 1, 0):
        pay(player, "50.00", at=T0 - days(20 * n))
    for day in range(0, 30):
        clock.move_to(T0 + days(day))
        login(player, timezone.now())
    # when 29 days pass they are still active (30-day windows: 50 then 50)
    scan_at(clock, T0 + days(29))
    assert status(player) == PayerStatus.ACTIVE
    # when the churn window closes
    scan_at(clock, T0 + days(30))
    # then active → churned directly
    assert transitions(player)[-1] == ("active", "churned", "scan")


def test_at_risk_player_who_pays_is_active_again(clock, make_player, pay):
    player = make_player()
    pay(player, "30.00", at=T0 - days(10))
    scan_at(clock, T0)
    assert status(player) == PayerStatus.AT_RISK
    pay(player, "30.00")
    assert status(player) == PayerStatus.ACTIVE
    assert transitions(player)[-1] == ("at_risk", "active", "payment")


def test_login_clears_the_no_login_reason(clock, make_player, pay):
    # given a player at risk only for not logging in (slow rhythm: not overdue)
    player = make_player()
    for n in (2, 1, 0):
        pay(player, "50.00", at=T0 - days(10) - days(10 * n))
    scan_at(clock, T0)
    assert status(player) == PayerStatus.AT_RISK
    assert figures(player).reasons == ["no_login"]
    # when they log in
    login(player, T0)
    # then they are active again, and the login is the recorded trigger
    assert status(player) == PayerStatus.ACTIVE
    assert transitions(player)[-1] == ("at_risk", "active", "login")


# --- refunds -------------------------------------------------------------------------


def test_refund_of_everything_makes_a_non_payer_again(clock, make_player, pay):
    player = make_player()
    purchase = pay(player, "648.00", event_id="buy-1")
    pay(player, "648.00", kind="refund", refund_of="buy-1", event_id="refund-1")
    assert purchase.created
    assert status(player) == PayerStatus.NON_PAYER
    assert transitions(player) == [("non_payer", "active", "payment"), ("active", "non_payer", "refund")]
    assert figures(player).reasons == []


def test_partial_refund_keeps_a_payer(clock, make_player, pay):
    player = make_player()
    pay(player, "648.00", event_id="buy-1")
    pay(player, "100.00", kind="refund", refund_of="buy-1", event_id="refund-1")
    assert status(player) == PayerStatus.ACTIVE
    assert figures(player).spend_recent == Decimal("548.00")


def test_refund_of_a_churned_payer_makes_a_non_payer(clock, make_player, pay):
    player = make_player()
    pay(player, "30.00", event_id="buy-1")
    scan_at(clock, T0 + days(40))
    pay(player, "30.00", kind="refund", refund_of="buy-1", event_id="refund-1")
    assert transitions(player)[-1] == ("churned", "non_payer", "refund")


# --- reasons ---------------------------------------------------------------------------


def test_overdue_uses_twice_the_median_gap_but_at_least_seven_days(clock, make_player, pay):
    # given one player paying every 2 days and one every 5 days, both last paid 8 days ago
    fast, slow = make_player(), make_player()
    for n in range(4):
        pay(fast, "10.00", at=T0 - days(8 + 2 * n))
        pay(slow, "10.00", at=T0 - days(8 + 5 * n))
    for player in (fast, slow):
        login(player, T0)
    scan_at(clock, T0)
    # then the fast one is overdue (8 > max(7, 4)) and the slow one is not (8 < 10)
    assert figures(fast).reasons == ["overdue"]
    assert figures(fast).median_gap_days == pytest.approx(2)
    assert figures(slow).reasons == []
    assert figures(slow).median_gap_days == pytest.approx(5)
    # and after 11 days the slow one is overdue too
    scan_at(clock, T0 + days(3))
    assert figures(slow).reasons == ["overdue"]


def test_single_purchase_is_overdue_after_the_floor(clock, make_player, pay):
    player = make_player()
    pay(player, "10.00", at=T0 - days(6))
    login(player, T0)
    scan_at(clock, T0)
    assert figures(player).median_gap_days is None
    assert figures(player).reasons == []
    scan_at(clock, T0 + days(1.5))
    assert figures(player).reasons == ["overdue"]


def test_spend_drop_below_half_of_the_previous_window(clock, make_player, pay):
    # given two daily-ish payers: 100 in the previous 30 days, then 50 or 49 in the last 30
    half, less = make_player(), make_player()
    for player, recent in ((half, "50.00"), (less, "49.00")):
        pay(player, "100.00", at=T0 - days(45))
        pay(player, recent, at=T0 - days(1))
        login(player, T0)
    # (a gap of 44 days: not overdue after 1 day)
    scan_at(clock, T0)
    # then only spending under 50 % counts as a drop
    assert figures(half).reasons == []
    assert figures(less).reasons == ["spend_drop"]
    assert status(less) == PayerStatus.AT_RISK
    assert (figures(less).spend_recent, figures(less).spend_previous) == (Decimal("49.00"), Decimal("100.00"))


def test_no_login_for_more_than_seven_days(clock, make_player, pay):
    player = make_player()
    for n in range(3):
        pay(player, "10.00", at=T0 - days(6 + 10 * n))
    login(player, T0 - days(7))
    scan_at(clock, T0)
    assert figures(player).reasons == []
    scan_at(clock, T0 + days(1.1))
    assert figures(player).reasons == ["no_login"]


def test_reasons_move_without_a_status_change_and_record_nothing(clock, make_player, pay):
    player = make_player()
    for n in range(3):
        pay(player, "10.00", at=T0 - days(6 + 10 * n))
    scan_at(clock, T0 + days(2))
    assert figures(player).reasons == ["no_login"]
    before = PayerStatusChange.objects.count()
    scan_at(clock, T0 + days(15))  # 21 days since paying: overdue too, still at risk
    assert figures(player).reasons == ["overdue", "no_login"]
    assert PayerStatusChange.objects.count() == before


# --- score ------------------------------------------------------------------------------


def test_risk_score_follows_the_documented_formula_and_grows_with_each_reason(clock, make_player, pay):
    # given a single-purchase payer who never logged in
    player = make_player()
    pay(player, "10.00", at=T0 - days(8))
    scores = []
    for extra in (0, 3, 6, 12, 21):
        scan_at(clock, T0 + days(extra))
        scores.append(figures(player).risk_score)
    # then 50 × d/30 + 20 × d/30 (overdue and no login), d = 8, 11, 14, 20, 29
    assert scores == [round(70 * d / 30) for d in (8, 11, 14, 20, 29)]
    assert scores == sorted(scores)


def test_spend_drop_strength_raises_the_score(clock, make_player, pay):
    players = {}
    for recent in ("40.00", "20.00", "0.01"):
        players[recent] = p = make_player()
        pay(p, "100.00", at=T0 - days(45))
        pay(p, recent, at=T0 - days(1))
        login(p, T0)
    scan_at(clock, T0)
    scores = [figures(players[r]).risk_score for r in ("40.00", "20.00", "0.01")]
    assert scores == [round(30 * 0.6), round(30 * 0.8), round(30 * 0.9999)]


# --- rules ---------------------------------------------------------------------------------


def test_tier_rule_overrides_the_global_rule(clock, make_player, pay, tiers):
    # given V5 players churn after 14 days, and two payers 15 days quiet
    ChurnRule.objects.create(tier=tiers["V5"], churn_after_days=14)
    big, small = make_player(), make_player()
    pay(big, "1000.00", at=T0 - days(15))
    pay(small, "30.00", at=T0 - days(15))
    assert Player.objects.get(pk=big.pk).tier == tiers["V5"]
    scan_at(clock, T0)
    # then the V5 payer is churned, the V2 payer only at risk
    assert status(big) == PayerStatus.CHURNED
    assert status(small) == PayerStatus.AT_RISK
    # and the V5 rule took its other values from the global rule
    assert churn_rules_effective()[tiers["V5"].pk]["no_login_days"] == 7


def test_edited_global_rule_applies_at_the_next_scan(clock, make_player, pay):
    player = make_player()
    pay(player, "30.00", at=T0 - days(20))
    scan_at(clock, T0)
    assert status(player) == PayerStatus.AT_RISK
    ChurnRule.objects.filter(tier__isnull=True).update(churn_after_days=15)
    scan_at(clock, T0)
    assert status(player) == PayerStatus.CHURNED


def test_global_rule_is_seeded_with_the_documented_defaults(db):
    rule = ChurnRule.objects.get(tier__isnull=True)
    assert {f: getattr(rule, f) for f in ChurnRule.RULE_FIELDS} == ChurnRule.DEFAULTS


# --- the scan -------------------------------------------------------------------------------


def test_scan_is_idempotent(clock, make_player, pay):
    for n in range(5):
        pay(make_player(), "30.00", at=T0 - days(5 * n))
    scan_at(clock, T0 + days(3))
    changes = PayerStatusChange.objects.count()
    figures_before = list(PlayerChurn.objects.order_by("pk").values())
    result = churn_scan(now=timezone.now())
    assert result["changed"] == 0
    assert PayerStatusChange.objects.count() == changes
    assert list(PlayerChurn.objects.order_by("pk").values()) == figures_before


def test_scan_batches_cover_every_player(clock, make_player, pay):
    players = [make_player() for _ in range(7)]
    for p in players:
        pay(p, "30.00", at=T0 - days(31))
    PayerStatusChange.objects.all().delete()
    Player.objects.update(payer_status=PayerStatus.ACTIVE)
    result = churn_scan(now=timezone.now(), batch_size=2)
    assert result["changed"] == 7
    assert set(Player.objects.values_list("payer_status", flat=True)) == {"churned"}


def test_scan_writes_a_snapshot_with_revenue_at_risk(clock, make_player, pay, tiers):
    at_risk = make_player()
    pay(at_risk, "30.00", at=T0 - days(10))
    pay(make_player(), "30.00", at=T0)
    churn_scan(now=timezone.now())
    churn_scan(now=timezone.now())  # same day: replaced, not doubled
    snapshot = ChurnSnapshot.objects.get(day=timezone.localdate(), tier=tiers["V2"])
    assert (snapshot.active, snapshot.at_risk, snapshot.churned) == (1, 1, 0)
    assert snapshot.revenue_at_risk == Decimal("30.00")


def test_nightly_runs_the_scan_and_the_tier_review(clock, make_player, pay, tiers):
    tiers["V2"].window_days = 30
    tiers["V2"].downgrade_grace_days = 0
    tiers["V2"].save()
    player = make_player()
    pay(player, "30.00", at=T0 - days(1))
    clock.move_to(T0 + days(40))
    result = nightly_run()
    assert result["churn"]["changed"] == 1
    assert result["tiers"]["downgraded"] == 1
    assert status(player) == PayerStatus.CHURNED


def test_commands_and_tasks(clock, make_player, pay, capsys):
    from crm.tasks import nightly_task
    from players.tasks import churn_scan_task

    pay(make_player(), "30.00", at=T0 - days(20))
    clock.move_to(T0 + days(20))
    call_command("scan_churn", "--batch-size", "100")
    assert "changed: 1" in capsys.readouterr().out
    call_command("nightly")
    assert "tiers:" in capsys.readouterr().out
    assert churn_scan_task.delay().get()["changed"] == 0
    assert "churn" in nightly_task.delay().get()


def test_nightly_task_is_on_the_beat_schedule():
    from crm.celery import app

    entry = app.conf.beat_schedule["players.nightly"]
    assert entry["task"] == "players.nightly"
    assert (entry["schedule"].hour, entry["schedule"].minute) == ({3}, {30})
    assert str(app.timezone) == "Asia/Shanghai"


# --- win-back tasks ------------------------------------------------------------------------


def test_winback_tasks_once_per_spell_for_the_manager(clock, make_player, pay, manager, supervisor):
    # given an at-risk and an active player of one manager
    risky, fine = make_player(manager=manager), make_player(manager=manager)
    pay(risky, "30.00", at=T0 - days(10))
    pay(fine, "30.00")
    scan_at(clock, T0)
    # when a supervisor asks for win-back tasks twice, a day apart
    created = winback_tasks_create(players=Player.objects.all(), actor=supervisor)
    clock.move_to(T0 + days(1))
    again = winback_tasks_create(players=Player.objects.all(), actor=supervisor)
    # then the at-risk player has one task for the manager, the active one none
    assert (created, again) == (1, 0)
    task = OutreachTask.objects.get()
    assert (task.player_id, task.assignee, task.kind, task.created_by) == (
        risky.pk,
        manager,
        TaskKind.WIN_BACK,
        supervisor,
    )
    assert task.source == "churn:2026-06-01"
    assert task.due_date == date(2026, 6, 3)
    # and a new spell (churned) gets a new task
    scan_at(clock, T0 + days(25))
    assert winback_tasks_create(players=Player.objects.filter(pk=risky.pk), actor=supervisor) == 1
    assert OutreachTask.objects.filter(player=risky).count() == 2


def test_scan_reuses_the_stored_median_until_purchases_change(clock, make_player, pay):
    # given a player whose median gap (2 days) is stored
    player = make_player()
    for n in range(3):
        pay(player, "10.00", at=T0 - days(2 * n))
    assert figures(player).median_gap_days == pytest.approx(2)
    # when the stored figure is off (as if computed earlier) but the purchases did not change
    PlayerChurn.objects.filter(player=player).update(median_gap_days=9.5)
    scan_at(clock, T0 + days(1))
    # then the nightly scan does not re-read the whole ledger for it
    assert figures(player).median_gap_days == pytest.approx(9.5)
    # and a new purchase (even a back-dated one) recomputes it
    pay(player, "10.00", at=T0 - days(1))  # purchases at -4, -2, -1, 0: gaps 2, 1, 1
    assert figures(player).median_gap_days == pytest.approx(1)
