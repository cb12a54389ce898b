"""Payer status per VIP person (CRM_VIP_TIER_BASIS=person, the default): the one churn
evaluation (players.services.payer_status) judges an account linked to others on its
person's ledger, and every account of the person shows the person's status. On a frozen
clock."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from statistics import median

import pytest
import time_machine
from django.db.models import Sum
from django.utils import timezone

from players.models import PayerStatus, Payment, Player
from players.models.payer_status import ChurnSnapshot, PlayerChurn
from players.selectors.payer_status import at_risk_vips, churn_report, revenue_at_risk
from players.services import player_upsert
from players.services.payer_status import churn_scan, payer_status_refresh
from players.services.persons import account_link, account_unlink, person_merge_undo, persons_merge

T0 = datetime(2026, 6, 1, 4, 0, 0, tzinfo=UTC)

# What a churn row says about a payer (everything but who and when).
FIGURES = (
    "status",
    "risk_score",
    "reason_overdue",
    "reason_spend_drop",
    "reason_no_login",
    "median_gap_days",
    "median_purchases",
    "spend_recent",
    "spend_previous",
)


def days(n: float) -> timedelta:
    return timedelta(days=n)


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def status(*players) -> tuple[str, ...]:
    return tuple(Player.objects.get(pk=p.pk).payer_status for p in players)


def figures(player) -> tuple:
    row = PlayerChurn.objects.filter(player=player).values(*FIGURES).first()
    return tuple(round(v, 6) if isinstance(v, float) else v for v in row.values()) if row else None


def login(player, at):
    """What the login API does: move the last login forward, then the projection's refresh."""
    player_upsert(account_id=player.account_id, data={"last_login_at": at})
    payer_status_refresh(player_ids=[player.pk], now=at, trigger="login")


def _history(clock, pay, account, purchases):
    """Purchases (days before T0, amount) on `account`, each at its time."""
    for ago, amount in purchases:
        clock.move_to(T0 - days(ago))
        pay(account, amount, at=timezone.now())


def test_a_person_s_status_equals_a_rebuild_from_the_ledger_of_all_their_accounts(
    clock, make_player, pay, supervisor, settings
):
    # given a person of two accounts, and a twin: one account holding the same purchases
    main = make_player(account_id="zhao-s1", server="s1")
    alt = make_player(account_id="zhao-s2", server="s2")
    twin = make_player(account_id="twin")
    main_purchases = [(80, "648.00"), (52, "328.00"), (31, "98.00")]
    alt_purchases = [(70, "128.00"), (45, "648.00"), (12, "30.00")]
    _history(clock, pay, main, main_purchases)
    _history(clock, pay, alt, alt_purchases)
    _history(clock, pay, twin, sorted(main_purchases + alt_purchases, reverse=True))
    clock.move_to(T0)
    pay(alt, "6.00", kind="refund", at=T0 - days(2))
    pay(twin, "6.00", kind="refund", at=T0 - days(2))
    Player.objects.filter(pk__in=[main.pk, twin.pk]).update(last_login_at=T0 - days(9))  # the later login
    Player.objects.filter(pk=alt.pk).update(last_login_at=T0 - days(11))

    # when the accounts are linked, and the nightly scan runs later
    account_link(person=main, account=alt, actor=supervisor)
    clock.move_to(T0 + days(3))
    churn_scan(now=timezone.now())

    # then both accounts carry the person's figures: exactly the twin's, whose ledger is theirs together
    assert figures(main) == figures(alt) == figures(twin)
    # and the figures are the ledger's, added up here independently
    row = PlayerChurn.objects.get(player=main)
    now = T0 + days(3)
    ledger = Payment.objects.filter(player__in=[main, alt])

    def net(since, until):
        rows = ledger.filter(occurred_at__gt=now - days(since), occurred_at__lte=now - days(until))
        bought = rows.filter(kind="purchase").aggregate(s=Sum("amount_base"))["s"] or 0
        return bought - (rows.filter(kind="refund").aggregate(s=Sum("amount_base"))["s"] or 0)

    assert row.spend_recent == net(30, 0) == Decimal("24.00")  # 30 - 6
    assert row.spend_previous == net(60, 30) == Decimal("1074.00")  # 328 + 98 + 648
    times = sorted(ledger.filter(kind="purchase").values_list("occurred_at", flat=True))
    gaps = [(b - a).total_seconds() / 86400 for a, b in zip(times, times[1:], strict=False)]
    assert row.median_gap_days == pytest.approx(median(gaps)) == 14  # 10, 18, 7, 14, 19 days
    assert row.median_purchases == 6
    # spend fell to a fortieth, the person's last login was 12 days ago: at risk; their last
    # purchase 15 days ago is within twice their 14-day rhythm, so not overdue
    assert row.status == PayerStatus.AT_RISK
    assert (row.reason_spend_drop, row.reason_no_login, row.reason_overdue) == (True, True, False)
    assert status(main, alt) == (PayerStatus.AT_RISK, PayerStatus.AT_RISK)


def test_a_person_whose_one_account_goes_quiet_while_another_pays_is_not_at_risk(
    clock, make_player, pay, supervisor, settings
):
    # given an account that bought every week until two months ago, then stopped
    quiet, paying = make_player(account_id="qian-s1"), make_player(account_id="qian-s9")
    _history(clock, pay, quiet, [(100 - 7 * i, "98.00") for i in range(6)])
    # and the same person's new account on another server, buying every week until now
    _history(clock, pay, paying, [(42 - 7 * i, "98.00") for i in range(7)])
    clock.move_to(T0)
    Player.objects.filter(pk=quiet.pk).update(last_login_at=T0 - days(60))
    Player.objects.filter(pk=paying.pk).update(last_login_at=T0 - days(1))

    # alone, the quiet account has churned (no purchase for 65 days)
    settings.CRM_VIP_TIER_BASIS = "account"
    churn_scan(now=T0)
    assert status(quiet, paying) == (PayerStatus.CHURNED, PayerStatus.ACTIVE)

    # linked, each account is the person: they pay, so nobody is at risk
    settings.CRM_VIP_TIER_BASIS = "person"
    account_link(person=paying, account=quiet, actor=supervisor)
    assert status(quiet, paying) == (PayerStatus.ACTIVE, PayerStatus.ACTIVE)
    churn_scan(now=T0 + days(1))
    assert status(quiet, paying) == (PayerStatus.ACTIVE, PayerStatus.ACTIVE)
    assert not at_risk_vips(supervisor).filter(pk__in=[quiet.pk, paying.pk]).exists()

    # a login on the new account counts for the quiet one too: its "no login" is the person's
    clock.move_to(T0 + days(20))
    login(paying, timezone.now())
    assert not PlayerChurn.objects.get(player=quiet).reason_no_login


def test_a_payment_on_one_account_re_judges_every_account_of_the_person_at_once(clock, make_player, pay, supervisor):
    main, alt, other = make_player(), make_player(), make_player()
    _history(clock, pay, main, [(40, "648.00"), (33, "648.00"), (26, "648.00")])
    clock.move_to(T0)
    account_link(person=main, account=alt, actor=supervisor)
    account_link(person=main, account=other, actor=supervisor)
    assert status(main, alt, other) == (PayerStatus.AT_RISK,) * 3  # 26 days since the weekly payer paid

    pay(alt, "648.00", at=T0)  # through the one ledger writer and the projection

    assert status(main, alt, other) == (PayerStatus.ACTIVE,) * 3
    assert figures(main) == figures(alt) == figures(other)


def test_a_payment_on_the_main_account_re_judges_its_linked_accounts_at_once(clock, make_player, pay, supervisor):
    # the main account is read as linked by the projection's recount (others point to it)
    main, alt = make_player(), make_player()
    _history(clock, pay, alt, [(40, "648.00"), (33, "648.00"), (26, "648.00")])
    clock.move_to(T0)
    account_link(person=main, account=alt, actor=supervisor)
    assert status(main, alt) == (PayerStatus.AT_RISK,) * 2

    pay(main, "648.00", at=T0)

    assert status(main, alt) == (PayerStatus.ACTIVE,) * 2
    assert figures(main) == figures(alt)


def test_an_account_alone_is_judged_after_a_payment_as_the_person_rule_judges_it(clock, make_player, pay):
    """The projection judges an account it read as alone with the per-account statement
    (`alone`); the per-person statement, run again at the same instant, finds nothing to change."""
    player = make_player()
    _history(clock, pay, player, [(60, "98.00"), (40, "328.00"), (20, "648.00"), (2, "6.00")])
    before = figures(player)

    again = payer_status_refresh(player_ids=[player.pk], now=timezone.now(), trigger="refresh")

    assert (again.evaluated, again.changed) == (1, 0)
    assert figures(player) == before and before is not None


def test_a_single_event_of_an_account_alone_runs_the_per_account_statement(requires_postgres, make_player, pay):
    from django.db import connection

    player = make_player()
    pay(player, "648.00")

    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements WHERE statement LIKE '%%churn_eval%%'")
        statements = [row[0] for row in cursor.fetchall()]
    # one churn statement, without the people's part (grp: the person lookup)
    assert len(statements) == 1 and "grp(pkey)" not in statements[0]


def test_linking_unlinking_merging_and_undoing_re_judge_the_accounts(clock, make_player, pay, supervisor):
    # given a weekly payer who stopped three weeks ago, and an account that paid yesterday
    lapsed, fresh = make_player(account_id="sun-s1"), make_player(account_id="sun-s2")
    _history(clock, pay, lapsed, [(50 - 7 * i, "328.00") for i in range(5)])
    _history(clock, pay, fresh, [(1, "648.00")])
    clock.move_to(T0)
    churn_scan(now=T0)
    assert status(lapsed, fresh) == (PayerStatus.AT_RISK, PayerStatus.ACTIVE)

    account_link(person=lapsed, account=fresh, actor=supervisor)
    assert status(lapsed, fresh) == (PayerStatus.ACTIVE, PayerStatus.ACTIVE)

    account_unlink(account=fresh, actor=supervisor)
    assert status(lapsed, fresh) == (PayerStatus.AT_RISK, PayerStatus.ACTIVE)

    merge = persons_merge(winner=fresh, loser=lapsed, actor=supervisor)
    assert status(lapsed, fresh) == (PayerStatus.ACTIVE, PayerStatus.ACTIVE)

    person_merge_undo(merge=merge, actor=supervisor)
    assert status(lapsed, fresh) == (PayerStatus.AT_RISK, PayerStatus.ACTIVE)


def test_the_scan_in_batches_gives_a_person_s_accounts_in_different_batches_one_status(
    clock, make_player, pay, supervisor
):
    main = make_player()
    fillers = [make_player() for _ in range(5)]
    alt = make_player()
    _history(clock, pay, main, [(60, "98.00"), (50, "98.00"), (40, "98.00")])
    _history(clock, pay, alt, [(2, "98.00")])
    _history(clock, pay, fillers[0], [(2, "6.00")])
    clock.move_to(T0)
    account_link(person=main, account=alt, actor=supervisor)
    PlayerChurn.objects.all().delete()
    Player.objects.update(payer_status=PayerStatus.NON_PAYER)

    churn_scan(now=T0, batch_size=3)  # main and alt fall in different batches

    assert alt.pk - main.pk > 3
    assert status(main, alt) == (PayerStatus.ACTIVE, PayerStatus.ACTIVE)
    assert figures(main) == figures(alt)


def test_the_worklist_and_the_figures_count_a_person_once(clock, make_player, pay, supervisor, tiers):
    main, alt = make_player(), make_player()
    _history(clock, pay, main, [(40, "648.00"), (33, "648.00"), (26, "648.00")])
    clock.move_to(T0)
    account_link(person=main, account=alt, actor=supervisor)
    churn_scan(now=T0)
    assert status(main, alt) == (PayerStatus.AT_RISK, PayerStatus.AT_RISK)

    # the at-risk worklist holds the person once, as their main account
    assert list(at_risk_vips(supervisor).filter(pk__in=[main.pk, alt.pk]).values_list("pk", flat=True)) == [main.pk]
    # the snapshot and the revenue at risk count the person once
    assert sum(s.at_risk for s in ChurnSnapshot.objects.all()) == 1
    assert revenue_at_risk()["players"] == 1


def test_the_monthly_churn_report_counts_a_person_once(clock, make_player, pay, supervisor, tiers, settings):
    # given a person of two accounts who paid every week, then went quiet for good
    main, alt = make_player(account_id="qian-s1"), make_player(account_id="qian-s2", server="s2")
    _history(clock, pay, main, [(40, "648.00"), (33, "648.00"), (26, "648.00")])
    clock.move_to(T0)
    account_link(person=main, account=alt, actor=supervisor)
    churn_scan(now=T0)
    later = T0 + days(120)
    clock.move_to(later)
    churn_scan(now=later)
    assert status(main, alt) == (PayerStatus.CHURNED, PayerStatus.CHURNED)

    # the month's churn and the payers it began with count the person, not the accounts
    report = churn_report(now=later, months=6)
    assert sum(report.total(m).churned for m in report.months) == 1
    assert report.total(date(2026, 7, 1)).payers_at_start == 1

    # counted per account, each account is a payer of its own
    settings.CRM_VIP_TIER_BASIS = "account"
    report = churn_report(now=later, months=6)
    assert sum(report.total(m).churned for m in report.months) == 2
