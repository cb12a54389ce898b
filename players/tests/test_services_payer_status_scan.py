"""The nightly scan over 10,000 players, and the event path's refresh of the same
players, checked against a straightforward reference implementation of the
documented rules written here in plain Python."""

import random
import statistics
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise

import pytest
from django.db import connection

from players.models import PayerStatus, Payment, PaymentKind, Player
from players.models.payer_status import ChurnRule, PayerStatusChange, PlayerChurn
from players.services.payer_status import churn_scan, payer_status_refresh

NOW = datetime(2026, 11, 22, 2, 0, 0, tzinfo=UTC)
PLAYERS = 10_000
DAY = 86400.0


@dataclass
class Expected:
    status: str
    reasons: list
    score: int
    median_gap: float | None
    spend_recent: Decimal
    spend_previous: Decimal


def reference(player: Player, payments: list[Payment], rules: dict, now: datetime) -> Expected:
    """The rules of players.models.payer_status, one player at a time, as a person would."""
    rule = rules.get(player.tier_id, rules[0])
    purchases = sorted(p.occurred_at for p in payments if p.kind == PaymentKind.PURCHASE)
    gaps = [(b - a).total_seconds() / DAY for a, b in pairwise(purchases)]
    median_gap = statistics.median(gaps) if gaps else None
    window = rule["spend_window_days"]
    recent = previous = Decimal(0)
    for p in payments:
        age = (now - p.occurred_at).total_seconds() / DAY
        signed = p.amount_base if p.kind == PaymentKind.PURCHASE else -p.amount_base
        if age < window:
            recent += signed
        elif age < 2 * window:
            previous += signed
    if player.total_spend <= 0:
        return Expected(PayerStatus.NON_PAYER, [], 0, median_gap, recent, previous)

    since_paid = (now - player.last_paid_at).total_seconds() / DAY
    last_seen = max(t for t in (player.last_login_at, player.last_paid_at) if t is not None)
    since_seen = (now - last_seen).total_seconds() / DAY
    overdue = since_paid > max(rule["min_gap_days"], float(rule["gap_multiplier"]) * (median_gap or 0))
    drop = previous > 0 and recent < rule["spend_drop_ratio"] * previous
    no_login = since_seen > rule["no_login_days"]
    reasons = [name for name, on in (("overdue", overdue), ("spend_drop", drop), ("no_login", no_login)) if on]

    if since_paid >= rule["churn_after_days"]:
        return Expected(PayerStatus.CHURNED, reasons, 100, median_gap, recent, previous)
    strength = 0.0
    if overdue:
        strength += 50 * min(1.0, since_paid / rule["churn_after_days"])
    if drop:
        strength += 30 * min(1.0, 1 - float(max(recent, Decimal(0)) / previous))
    if no_login:
        strength += 20 * min(1.0, since_seen / rule["churn_after_days"])
    status = PayerStatus.AT_RISK if reasons else PayerStatus.ACTIVE
    return Expected(status, reasons, int(strength + 0.5), median_gap, recent, previous)


def build_population(tiers, seed=20261122):
    """10,000 players with 0–8 payments each over the last 120 days (some refunded),
    random logins, tiers and starting statuses; inserted in bulk, totals consistent."""
    rng = random.Random(seed)
    tier_choices = [None, *tiers.values()]
    players, specs = [], []
    for n in range(PLAYERS):
        own = []  # (kind, amount, occurred_at)
        spend = Decimal(0)
        rhythm = rng.choice([2, 5, 9, 20])  # frequent, weekly-ish, irregular, monthly
        at = NOW - timedelta(seconds=rng.randrange(0, 120 * 86400))
        for _k in range(rng.choice([0, 0, 1, 1, 2, 3, 4, 5, 6, 8])):
            amount = Decimal(rng.randrange(100, 64800)) / 100
            own.append((PaymentKind.PURCHASE, amount, at))
            spend += amount
            at -= timedelta(seconds=int(rhythm * 86400 * rng.uniform(0.3, 1.7)))
        if own and rng.random() < 0.1:  # a refund: sometimes everything, sometimes a third
            refund = spend if rng.random() < 0.5 else (spend / 3).quantize(Decimal("0.01"))
            refunded_at = min(max(o[2] for o in own) + timedelta(seconds=rng.randrange(1, 86400)), NOW)
            own.append((PaymentKind.REFUND, refund, refunded_at))
            spend -= refund
        purchases = [o[2] for o in own if o[0] == PaymentKind.PURCHASE]
        players.append(
            Player(
                account_id=f"ref-{n}",
                server="s1",
                tier=rng.choice(tier_choices),
                payer_status=rng.choice(PayerStatus.values),
                last_login_at=None if rng.random() < 0.2 else NOW - timedelta(seconds=rng.randrange(0, 40 * 86400)),
                total_spend=spend,
                purchase_count=len(purchases),
                first_paid_at=min(purchases, default=None),
                last_paid_at=max(purchases, default=None),
            )
        )
        specs.append(own)
    Player.objects.bulk_create(players, batch_size=2000)
    players = list(Player.objects.filter(account_id__startswith="ref-").order_by("pk"))
    ledger, rows = {}, []
    adapt = connection.ops.adapt_datetimefield_value
    for player, own in zip(players, specs, strict=True):
        ledger[player.pk] = [
            Payment(player=player, kind=kind, amount_base=amount, occurred_at=at) for kind, amount, at in own
        ]
        rows += [
            (player.pk, "import", "", f"{player.pk}-{k}", kind, amount, "CNY", amount, "", adapt(at), adapt(NOW))
            for k, (kind, amount, at) in enumerate(own)
        ]
    with connection.cursor() as cursor:  # the ledger as an import would load it, minus the ORM's cost
        cursor.executemany(
            "INSERT INTO players_payment (player_id, source, source_ref, event_id, kind, amount, currency,"
            " amount_base, server, occurred_at, received_at, order_id, product, refund_of, fingerprint)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, '', '', '', 'x')",
            rows,
        )
    return players, ledger


def assert_matches_reference(players, ledger, rules, before, result) -> dict:
    """Every player's status, reasons, score and figures are the reference's, and one
    transition is recorded per player whose status changed. Returns those changes."""
    expected = {p.pk: reference(p, ledger[p.pk], rules, NOW) for p in players}
    statuses = dict(Player.objects.filter(pk__in=expected).values_list("pk", "payer_status"))
    churn = {c.player_id: c for c in PlayerChurn.objects.filter(player_id__in=expected)}
    mismatches = []
    for pk, exp in expected.items():
        evaluated = exp.status != PayerStatus.NON_PAYER or before[pk] != PayerStatus.NON_PAYER
        if not evaluated:
            assert pk not in churn and statuses[pk] == PayerStatus.NON_PAYER
            continue
        got = churn[pk]
        actual = (statuses[pk], got.reasons, got.risk_score, got.spend_recent, got.spend_previous)
        wanted = (exp.status, exp.reasons, exp.score, exp.spend_recent, exp.spend_previous)
        if actual != wanted or got.status != exp.status:
            mismatches.append((pk, actual, wanted))
        if exp.median_gap is None:
            assert got.median_gap_days is None
        else:
            assert got.median_gap_days == pytest.approx(exp.median_gap, abs=1e-6)
    assert mismatches == []
    # the population exercises every status and every reason
    assert {e.status for e in expected.values()} == set(PayerStatus.values)
    assert {r for e in expected.values() for r in e.reasons} == {"overdue", "spend_drop", "no_login"}

    # and one transition is recorded per player whose status changed, from → to
    changed = {pk: (before[pk], statuses[pk]) for pk in expected if before[pk] != statuses[pk]}
    recorded = dict(PayerStatusChange.objects.values_list("player_id", "from_status"))
    assert result["changed"] == len(changed) == PayerStatusChange.objects.count()
    assert {pk: (recorded[pk], statuses[pk]) for pk in recorded} == changed
    return changed


def population_with_rules():
    """Tiers (made here if a flushing test in this worker removed the seeded ones),
    per-tier rules beside the global one, and the 10,000 players."""
    from players.services.payer_status import churn_rules_effective
    from vip.models import Tier

    for level in range(1, 6):
        Tier.objects.get_or_create(level=level, defaults={"name": f"V{level}", "min_spend": Decimal(10**level)})
    tiers = {t.name: t for t in Tier.objects.filter(level__lte=5)}
    ChurnRule.objects.create(tier=tiers["V3"], churn_after_days=14, no_login_days=3)
    ChurnRule.objects.create(
        tier=tiers["V5"], gap_multiplier=Decimal("3"), spend_drop_ratio=Decimal("0.30"), spend_window_days=14
    )
    rules = churn_rules_effective()
    players, ledger = build_population(tiers)
    return players, ledger, rules, {p.pk: p.payer_status for p in players}


@pytest.mark.django_db(transaction=False)
def test_scan_of_10000_players_matches_the_reference(db):
    # given tiers, per-tier rules beside the global one, and 10,000 players
    players, ledger, rules, before = population_with_rules()

    # when the nightly scan runs (small batches, to cross many batch boundaries)
    result = churn_scan(now=NOW, batch_size=1500)

    # then every player's status, reasons, score and figures are the reference's
    changed = assert_matches_reference(players, ledger, rules, before, result)

    # and a second scan at the same instant changes nothing (idempotent)
    again = churn_scan(now=NOW, batch_size=4000)
    assert again["changed"] == 0
    assert PayerStatusChange.objects.count() == len(changed)


def test_scan_in_parallel_batches_on_postgresql_matches_the_reference(requires_postgres, transactional_db):
    # given the same population, committed (each batch of a parallel scan has its own connection)
    players, ledger, rules, before = population_with_rules()

    # when the scan runs two batches at a time, outside any transaction as the nightly job does
    result = churn_scan(now=NOW, batch_size=700, workers=2)

    # then the result is the reference's, as for the one-connection scan
    changed = assert_matches_reference(players, ledger, rules, before, result)
    assert changed
    # and a second parallel scan at the same instant changes nothing
    assert churn_scan(now=NOW, batch_size=700, workers=2)["changed"] == 0
    assert PayerStatusChange.objects.count() == len(changed)


def test_event_path_refresh_matches_the_reference(db):
    # given the same population
    players, ledger, rules, before = population_with_rules()
    ids = [p.pk for p in players]

    # when the event path re-judges them: 300 one at a time (a single payment or
    # login), the rest a batch of 1,000 at a time (on PostgreSQL, one prepared
    # statement of this connection serves every call)
    calls = [[pk] for pk in ids[:300]] + [ids[i : i + 1000] for i in range(300, len(ids), 1000)]
    results = [payer_status_refresh(player_ids=chunk, now=NOW, trigger="payment") for chunk in calls]

    # then every player's status, reasons, score and figures are the reference's, as
    # for the nightly scan, with one transition recorded per change
    changed = assert_matches_reference(players, ledger, rules, before, {"changed": sum(r.changed for r in results)})
    payers_or_were = [p for p in players if p.total_spend > 0 or before[p.pk] != PayerStatus.NON_PAYER]
    assert sum(r.evaluated for r in results) == len(payers_or_were)
    transitions = {}
    for result in results:
        for key, n in result.transitions.items():
            transitions[key] = transitions.get(key, 0) + n
    expected_transitions = {}
    for old, new in changed.values():
        key = f"{old}→{new}"
        expected_transitions[key] = expected_transitions.get(key, 0) + 1
    assert transitions == expected_transitions
    assert set(PayerStatusChange.objects.values_list("trigger", flat=True)) == {"payment"}

    # and judging them again at the same instant changes nothing
    assert sum(payer_status_refresh(player_ids=chunk, now=NOW).changed for chunk in calls) == 0
    assert PayerStatusChange.objects.count() == len(changed)
