"""The ledger's engines: the portable statements and PostgreSQL's are one rule.

Every case runs through each engine the database can run (on PostgreSQL both, on
SQLite the portable one), each on twin players of its own, and the outcomes must be
the expected ones, hence equal; the totals they fold must equal what the ledger
adds up to (`ledger_totals`, which the rebuild uses)."""

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from django.db import connection

from players.models import PayerStatus, Payment, Player, ProjectionPending
from players.models.payer_status import PlayerChurn
from players.services.ledger import payment_fingerprint
from players.services.ledger_engines import LedgerEngine, PostgresLedgerEngine, ledger_engine, ledger_totals
from players.services.payer_status import login_rejudges_sql

T0 = datetime(2026, 6, 1, 4, 0, tzinfo=UTC)


def _engines() -> dict:
    engines = {"portable": LedgerEngine()}
    if connection.vendor == "postgresql":
        engines["postgresql"] = PostgresLedgerEngine()
    return engines


def _engine(name: str):
    """The engine called `name` ("portable" or "postgresql"), or skip: PostgreSQL's needs PostgreSQL."""
    engines = _engines()
    if name not in engines:
        pytest.skip("needs PostgreSQL: run with DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm")
    return engines[name]


def _event(prefix, account, event_id, amount, *, kind="purchase", at=T0, refund_of=""):
    event = {
        "account_id": f"{prefix}-{account}",
        "event_id": event_id,
        "kind": kind,
        "amount": Decimal(amount),
        "currency": "CNY",
        "amount_base": Decimal(amount),
        "server": "s1",
        "occurred_at": at,
        "order_id": "",
        "product": "",
        "refund_of": refund_of,
    }
    event["fingerprint"] = payment_fingerprint(
        **{k: v for k, v in event.items() if k not in ("amount_base", "event_id")}
    )
    return event


def _twins(prefix: str) -> None:
    Player.objects.create(account_id=f"{prefix}-new")
    Player.objects.create(account_id=f"{prefix}-payer")  # its past purchase is the first case


def _state(prefix: str) -> dict:
    return {
        account.removeprefix(f"{prefix}-"): rest
        for account, *rest in Player.objects.filter(account_id__startswith=f"{prefix}-")
        .order_by("account_id")
        .values_list("account_id", "total_spend", "purchase_count", "first_paid_at", "last_paid_at")
    }


CASES = [
    # (events (account, event id, amount, kind, days from T0), inserted event ids)
    ([("payer", "p0", "100", "purchase", -5)], {"p0"}),
    ([("new", "a", "6", "purchase", 0)], {"a"}),
    (
        [
            ("payer", "b", "30", "purchase", -9),  # before the first purchase
            ("payer", "c", "20", "purchase", 1),  # after the last
            ("new", "d", "648", "purchase", 0),
            ("ghost", "e", "6", "purchase", 0),  # no such player: not inserted
        ],
        {"b", "c", "d"},
    ),
    ([("payer", "f", "40", "refund", 2)], {"f"}),  # a refund: spend only
    ([("payer", "b", "30", "purchase", -9), ("new", "g", "1", "purchase", 0)], {"g"}),  # b again: not inserted
]

EXPECTED = {
    "new": [Decimal("655.00"), 3, T0, T0],
    "payer": [Decimal("110.00"), 3, T0 - timedelta(days=9), T0 + timedelta(days=1)],
}


def _run_cases(name, engine) -> list:
    """Append each case, then project what it marked (claim + recompute), as the event
    path does; what each step returned, for comparing the engines."""
    found = []
    for events, inserted in CASES:
        appended = engine.append(
            events=[
                _event(name, account, event_id, amount, kind=kind, at=T0 + timedelta(days=days))
                for account, event_id, amount, kind, days in events
            ],
            source="api",
            source_ref=name,
            actor_id=None,
            now=T0,
        )
        assert set(appended.inserted) == inserted
        assert {p.pk for p in appended.players} == {pid for _pk, pid in appended.inserted.values()}
        # the insert marked its players, and only them; the players row is the projection's
        marked = {m.player_id: m.ledger for m in ProjectionPending.objects.all()}
        assert marked == dict.fromkeys({p.pk for p in appended.players}, True)
        claimed = engine.projection_claim(limit=1000)
        assert not ProjectionPending.objects.exists()
        recomputed = engine.totals_recompute(
            player_ids=[c.player_id for c in claimed], ledger_ids=[c.player_id for c in claimed if c.ledger]
        )
        for row in recomputed:  # the state the projection reads is the stored one
            assert row.player.total_spend == Player.objects.get(pk=row.player.pk).total_spend
        found.append(
            (
                sorted(appended.inserted),
                sorted((r.player.total_spend, r.spend_before, r.spend_fell, r.player.tier_id) for r in recomputed),
            )
        )
    return found


@pytest.mark.parametrize("name", ["portable", "postgresql"])
def test_each_engine_appends_marks_and_recomputes_the_totals_as_the_rule_says(db, name):
    engine = _engine(name)
    _twins(name)
    _run_cases(name, engine)
    assert _state(name) == EXPECTED
    assert Payment.objects.filter(source_ref=name).count() == 7
    # the totals agree with what the rebuild recomputes from the ledger
    rebuilt = Payment.objects.filter(player__account_id=f"{name}-new").aggregate(**ledger_totals())
    assert list(rebuilt.values()) == EXPECTED["new"]


def test_engines_agree_on_the_same_cases(db):
    """On PostgreSQL: the PostgreSQL statements and the portable ones, side by side."""
    engines = _engines()
    if len(engines) < 2:
        pytest.skip("needs PostgreSQL: run with DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm")
    outcomes = {}
    for name, engine in engines.items():
        _twins(name)
        outcomes[name] = (_run_cases(name, engine), _state(name))
    assert outcomes["postgresql"] == outcomes["portable"]


@pytest.mark.parametrize("name", ["portable", "postgresql"])
def test_each_engine_stores_an_events_values_exactly_as_given(db, name):
    """What the game sent is what the ledger holds: text with quotes, backslashes, Chinese,
    an emoji and a line separator; an amount in cents; a time with an offset and
    microseconds (on PostgreSQL the events travel as one JSON parameter)."""
    engine = _engine(name)
    Player.objects.create(account_id=f"{name}-new")
    shanghai = timezone(timedelta(hours=8))
    event = _event(name, "new", 'ev "1" \\ 首充', "0.10", at=datetime(2026, 6, 1, 12, 0, 0, 123456, tzinfo=shanghai))
    event.update(order_id="单号\u2028\\n", product='月卡 🎁 "x"', amount_base=Decimal("0.10"))

    appended = engine.append(events=[event], source="api", source_ref=name, actor_id=None, now=T0)

    stored = Payment.objects.get(pk=appended.inserted[event["event_id"]][0])
    assert (stored.event_id, stored.order_id, stored.product) == (
        event["event_id"],
        event["order_id"],
        event["product"],
    )
    assert (stored.amount, stored.amount_base) == (Decimal("0.10"), Decimal("0.10"))
    assert stored.occurred_at == datetime(2026, 6, 1, 4, 0, 0, 123456, tzinfo=UTC)
    assert stored.fingerprint == event["fingerprint"]


@pytest.mark.parametrize("name", ["portable", "postgresql"])
def test_each_engine_marks_coalesce_keep_the_oldest_time_and_claim_oldest_first(db, name):
    engine = _engine(name)
    a, b, c = (Player.objects.create(account_id=f"{name}-{x}") for x in "abc")
    engine.projection_mark(player_ids=[b.pk], now=T0, ledger=False)
    engine.projection_mark(player_ids=[a.pk, b.pk], now=T0 + timedelta(seconds=5), ledger=True)
    engine.projection_mark(player_ids=[c.pk, a.pk], now=T0 + timedelta(seconds=9), ledger=False)

    assert engine.projection_lag() == (3, T0)  # players waiting, the oldest mark
    assert ProjectionPending.objects.count() == 5  # a mark per player per call: marking never waits

    # the players of the two oldest marks, each with all its marks: a login, then a payment
    # (b): the payment's recount at the login's time; a payment, then a login (a): still a recount
    first = engine.projection_claim(limit=2)
    assert [(m.player_id, m.since, m.ledger) for m in first] == [
        (b.pk, T0, True),
        (a.pk, T0 + timedelta(seconds=5), True),
    ]
    assert [m.player_id for m in engine.projection_claim(limit=5, player_ids=[a.pk, c.pk])] == [c.pk]
    assert engine.projection_lag() == (0, None)


@pytest.mark.parametrize("name", ["portable", "postgresql"])
def test_each_engine_marks_by_account_and_names_the_players_it_found(db, name):
    engine = _engine(name)
    a, b = (Player.objects.create(account_id=f"{name}-{x}") for x in "ab")
    engine.projection_mark(player_ids=[b.pk], now=T0, ledger=True)

    found, marked = engine.accounts_mark(
        accounts=[a.account_id, b.account_id, f"{name}-nobody"], now=T0 + timedelta(seconds=3), ledger=False
    )

    assert found == {a.account_id: a.pk, b.account_id: b.pk} and marked == {a.pk, b.pk}
    claimed = {m.player_id: (m.since, m.ledger) for m in engine.projection_claim(limit=10)}
    assert claimed == {a.pk: (T0 + timedelta(seconds=3), False), b.pk: (T0, True)}  # b: its oldest, a recount
    assert engine.accounts_mark(accounts=[f"{name}-nobody"], now=T0, ledger=False) == ({}, set())


@pytest.mark.parametrize("name", ["portable", "postgresql"])
def test_each_engine_marks_for_a_login_only_the_players_a_login_can_re_judge(db, name):
    engine = _engine(name)
    make = lambda suffix, **fields: Player.objects.create(account_id=f"{name}-{suffix}", **fields)  # noqa: E731
    payer = make("payer", total_spend=Decimal("6"), payer_status=PayerStatus.ACTIVE)
    refunded = make("refunded")  # paid, then refunded: its churn row is left to clear
    PlayerChurn.objects.create(player=refunded, status=PayerStatus.ACTIVE, changed_at=T0)
    main, linked = make("main"), make("linked")  # a VIP person of two accounts, neither has paid
    Player.objects.filter(pk=linked.pk).update(person_account=main)
    others = [make(f"non-payer-{n}") for n in range(3)]
    everyone = [payer, refunded, main, linked, *others]

    found, marked = engine.accounts_mark(
        accounts=[p.account_id for p in everyone], now=T0, ledger=False, only=login_rejudges_sql
    )

    assert found == {p.account_id: p.pk for p in everyone}
    rejudged = {payer.pk, refunded.pk, main.pk, linked.pk}
    assert marked == rejudged == set(ProjectionPending.objects.values_list("player_id", flat=True))
    ProjectionPending.objects.all().delete()
    assert engine.projection_mark(
        player_ids=[p.pk for p in everyone], now=T0, ledger=False, only=login_rejudges_sql
    ) == (rejudged)
    assert set(ProjectionPending.objects.values_list("player_id", flat=True)) == rejudged


@pytest.mark.parametrize("name", ["portable", "postgresql"])
def test_each_engine_moves_last_logins_only_forward(db, name):
    engine = _engine(name)
    never = Player.objects.create(account_id=f"{name}-never")
    recent = Player.objects.create(account_id=f"{name}-recent", last_login_at=T0)
    pairs = sorted([(never.pk, T0 - timedelta(days=1)), (recent.pk, T0 - timedelta(days=1))])
    assert engine.last_logins_move(pairs=pairs) == {never.pk}
    recent.refresh_from_db()
    assert recent.last_login_at == T0


def test_the_engine_is_chosen_by_the_database_in_use(db):
    expected = PostgresLedgerEngine if connection.vendor == "postgresql" else LedgerEngine
    assert type(ledger_engine()) is expected
