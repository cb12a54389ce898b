"""The churn refresh on each engine: what differs is one Dialect object, chosen in one
place; PostgreSQL's one-statement event path writes exactly what the work-table path
(the nightly scan's, and SQLite's only one) writes for the same players."""

import ast
from datetime import timedelta
from pathlib import Path

from django.db import transaction

from players.models import Player
from players.models.payer_status import PayerStatusChange, PlayerChurn
from players.services import payer_status as churn
from players.services.payer_status import payer_status_refresh

from . import test_services_payer_status_scan as scan_tests

APP = Path(churn.__file__).resolve().parents[1]


def test_the_engine_is_asked_in_one_place():
    """Outside `dialect()` no churn module asks which database runs."""
    askers = []
    for path in [
        APP / "services/payer_status.py",
        APP / "models/payer_status.py",
        APP / "selectors/payer_status.py",
        APP / "admin/payer_status.py",
        APP / "churn_reasons.py",
    ]:
        tree = ast.parse(path.read_text())
        for function in ast.walk(tree):
            if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                for node in ast.walk(function):
                    if (
                        isinstance(node, ast.Attribute)
                        and node.attr == "vendor"
                        and ast.unparse(node.value)
                        in (
                            "connection",
                            "connections[DEFAULT_DB_ALIAS]",
                        )
                    ):
                        askers.append(f"{path.name}:{function.name}")
    assert askers == ["payer_status.py:dialect"]


def test_both_dialects_spell_every_statement():
    """Each engine's object builds the whole refresh (no spelling left to the other)."""
    rules = churn._rules_values({0: dict(churn.ChurnRule.DEFAULTS)})
    bases = (churn.BASIS_ACCOUNT, churn.BASIS_PERSON, churn.BASIS_PERSON_ALL)
    for d in (churn._PostgreSQL(), churn._SQLite()):
        for basis in bases:
            statements = churn._statements(d, churn.reasons(), rules, "{col} = %(id)s", basis)
            assert "churn_eval" in statements.evaluate and "players_playerchurn" in statements.upsert
    assert "ON COMMIT DELETE ROWS" in churn._eval_table_sql(churn._PostgreSQL(), churn.reasons())[0]
    for basis in bases:
        statement = churn._event_path_sql(churn._PostgreSQL(), churn.reasons(), rules, "{col} = %(id)s", basis)
        assert statement.count("churn_eval") > 3


def outcome(ids) -> tuple:
    """Everything a refresh writes for these players."""
    players = sorted(Player.objects.filter(pk__in=ids).values_list("pk", "payer_status", "updated_at"))
    figures = sorted(
        tuple(getattr(c, f.attname) for f in PlayerChurn._meta.concrete_fields)
        for c in PlayerChurn.objects.filter(player_id__in=ids)
    )
    changes = sorted(
        tuple(getattr(c, f.attname) for f in PayerStatusChange._meta.concrete_fields if f.name != "id")
        for c in PayerStatusChange.objects.filter(player_id__in=ids)
    )
    return players, figures, changes


def test_event_path_statement_writes_what_the_work_table_path_writes(requires_postgres, db, monkeypatch):
    # given a population of payers, non-payers, refunds and per-tier rules
    monkeypatch.setattr(scan_tests, "PLAYERS", 2_000)
    players, _ledger, rules, _before = scan_tests.population_with_rules()
    ids = [p.pk for p in players]
    # and VIP people of three accounts (statuses count per person, the default), some of
    # whose accounts are judged in another call than their main account
    for start in range(150, 750, 30):
        Player.objects.filter(pk__in=[ids[start + 1], ids[start + 17]]).update(person_account=ids[start])
    # one at a time (a payment or a login) and in batches of 500
    calls = [[pk] for pk in ids[:200]] + [ids[i : i + 500] for i in range(200, len(ids), 500)]
    instants = [scan_tests.NOW, scan_tests.NOW + timedelta(days=9)]  # new figures, then changed ones

    # when the work-table path judges them, in the event path's batches (then rolled back) ...
    with transaction.atomic():
        by_work_table = [
            _work_table_refresh(scope, params, now, rules)
            for now in instants
            for chunk in calls
            for scope, params, _event_path in churn._PostgreSQL().event_batches(chunk)
        ]
        work_table = outcome(ids)
        transaction.set_rollback(True)

    # ... and the one-statement event path judges them the same way
    by_statement = [
        payer_status_refresh(player_ids=chunk, now=now, trigger="payment") for now in instants for chunk in calls
    ]

    # then both wrote the same rows, and reported the same counts and transitions
    assert outcome(ids) == work_table
    assert work_table[1] and work_table[2]  # something was written
    assert [(r.evaluated, r.changed, r.transitions) for r in by_statement] == [
        (r.evaluated, r.changed, r.transitions) for r in by_work_table
    ]


def _work_table_refresh(scope, params, now, rules):
    with transaction.atomic(savepoint=False):
        return churn._refresh(scope=scope, params=params, now=now, trigger="payment", rules=rules, event_path=None)
