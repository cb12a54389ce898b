"""Churn reasons are a registry (players.churn_reasons): every entry reaches the
evaluation, the score, the stored flags, the history, the filters and the labels;
and an entry registered here, in the test, reaches the evaluation and the labels
without any other edit."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.db.models import Q
from django.utils import translation

from campaigns.models import winback_why_text
from campaigns.services import winback
from players import churn_reasons
from players.admin.payer_status import ChurnReasonFilter, reasons_text
from players.churn_reasons import Reason
from players.models import PayerStatus, Player
from players.models.payer_status import ChurnReason, PayerStatusChange, PlayerChurn
from players.selectors.payer_status import churn_reason_q
from players.services import payer_status as churn
from players.services.payer_status import churn_rules_effective, churn_scan, payer_status_refresh

NOW = datetime(2026, 6, 1, 4, 0, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False):
        yield


def registry_where_only(code: str) -> tuple[Reason, ...]:
    """The registry with the reason `code` applying at full strength to every payer,
    and every other reason to none."""
    return tuple(
        replace(r, applies=lambda d: "TRUE", strength=lambda d: "1.0")
        if r.code == code
        else replace(r, applies=lambda d: "FALSE")
        for r in churn_reasons.REASONS
    )


@pytest.mark.parametrize("code", [r.code for r in churn_reasons.REASONS])
def test_every_registered_reason_reaches_the_evaluation_the_stored_flags_filters_and_labels(
    code, monkeypatch, make_player, pay
):
    # given payers in good standing (they paid and logged in just now)
    one, two = make_player(), make_player()
    for player in (one, two):
        pay(player, "648.00", at=NOW - timedelta(hours=1))
        Player.objects.filter(pk=player.pk).update(last_login_at=NOW)
    assert Player.objects.get(pk=one.pk).payer_status == PayerStatus.ACTIVE
    reason = next(r for r in churn_reasons.REASONS if r.code == code)

    # when only this reason applies, on the event path (one player) and in the nightly scan
    monkeypatch.setattr(churn_reasons, "REASONS", registry_where_only(code))
    payer_status_refresh(player_ids=[one.pk], now=NOW, trigger="refresh")
    churn_scan(now=NOW)

    # then both are at risk for it alone, scored its weight, flagged and recorded with it
    for player in (one, two):
        figures = PlayerChurn.objects.get(player=player)
        assert (figures.status, figures.reasons, figures.risk_score) == (PayerStatus.AT_RISK, [code], reason.weight)
        change = PayerStatusChange.objects.get(player=player, to_status=PayerStatus.AT_RISK)
        assert change.reasons == [code] and getattr(change, reason.column) is True
    # and the filters find them by it, the worklist and the history name it
    assert set(Player.objects.filter(churn_reason_q(code)).values_list("pk", flat=True)) == {one.pk, two.pk}
    assert PayerStatusChange.objects.filter(churn_reason_q(code, "")).count() == 2
    assert (code, reason.label) in ChurnReasonFilter.lookups(None, None, None)
    assert (code, reason.label) in ChurnReason.choices
    assert reasons_text([code]) == str(reason.label)
    params = winback.winback_title_params(Player.objects.select_related("churn").get(pk=one.pk))
    assert str(reason.label) in winback_why_text(params)


@pytest.fixture
def compiled_catalogues(settings):
    call_command("compile_catalogues", stdout=open("/dev/null", "w"))  # noqa: SIM115
    settings.LOCALE_PATHS = list(settings.LOCALE_PATHS)  # setting_changed clears the caches


def test_every_registered_reason_has_its_columns_and_a_chinese_label(compiled_catalogues):
    for reason in churn_reasons.REASONS:
        for model in (PlayerChurn, PayerStatusChange):
            field = model._meta.get_field(reason.column)
            assert field.get_internal_type() == "BooleanField" and field.verbose_name == reason.label
        with translation.override("zh-hans"):
            chinese = str(reason.label)
        assert chinese != str(reason.label) and any("\u4e00" <= ch <= "\u9fff" for ch in chinese), reason.code
        assert reason.weight > 0
    assert sum(r.weight for r in churn_reasons.REASONS) == 100  # the score stays within 0-100


def test_the_migrations_hold_every_registered_reason_column(db):
    # a new registry entry without its migration fails here
    call_command("makemigrations", "players", "--check", "--dry-run", stdout=open("/dev/null", "w"))  # noqa: SIM115


ONE_PURCHASE_ONLY = Reason(
    code="one_purchase_only",
    label="Bought once, days ago",  # a real entry's label is translated (gettext_lazy)
    weight=40,
    applies=lambda d: "ev.purchase_count = 1 AND ev.since_paid > 3",
    strength=lambda d: d.least("1.0", "ev.since_paid / ev.churn_days"),
)


def test_a_reason_registered_here_reaches_the_evaluation_score_and_labels(monkeypatch, make_player, pay):
    # given a player who bought once five days ago and logged in today: active by the
    # registered reasons (no rhythm to be overdue for yet, no spend window before, seen)
    once = make_player()
    pay(once, "98.00", at=NOW - timedelta(days=5))
    Player.objects.filter(pk=once.pk).update(last_login_at=NOW)
    row = evaluated(once)
    assert (row["status"], row["risk_score"]) == ("active", 0)
    assert not any(v for k, v in row.items() if k.startswith("reason_"))

    # when a reason is registered: one entry
    monkeypatch.setattr(churn_reasons, "REASONS", (*churn_reasons.REASONS, ONE_PURCHASE_ONLY))

    # then the evaluation flags it, scores it by its weight × strength, and the player is at risk
    row = evaluated(once)
    assert row["reason_one_purchase_only"] is True
    assert (row["status"], row["risk_score"]) == ("at_risk", round(40 * 5 / 30))
    # and its flag is among the columns written to the churn figures and the history
    d = churn.dialect()
    assert ("reason_one_purchase_only", "t.reason_one_purchase_only") in churn._churn_columns(churn_reasons.REASONS)
    assert ("reason_one_purchase_only", "t.reason_one_purchase_only") in churn._change_columns(d, churn_reasons.REASONS)
    # (their columns come with the entry's migration: the models read the registry at import)
    assert "reason_one_purchase_only" not in {f.name for f in PlayerChurn._meta.get_fields()}
    # and the admin's filters, the "why" texts and the ORM filter know it
    assert ("one_purchase_only", "Bought once, days ago") in ChurnReasonFilter.lookups(None, None, None)
    assert reasons_text(["overdue", "one_purchase_only"]) == "Payment overdue for their rhythm, Bought once, days ago"
    assert churn_reason_q("one_purchase_only") == Q(churn__reason_one_purchase_only=True)


def evaluated(player) -> dict:
    """The evaluation alone (no write) of one player at NOW, as the churn_eval row."""
    d = churn.dialect()
    rules = churn_rules_effective(fresh=True)
    statements = churn._statements(
        d, churn_reasons.REASONS, churn._rules_values(rules), "{col} = %(id)s", churn.BASIS_PERSON_ALL
    )
    params = churn._refresh_params({"id": player.pk}, now=NOW, trigger="refresh", rules=rules)
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS churn_eval")  # this session's, made for the registry of its day
        try:
            for statement in statements.work_table:
                cursor.execute(statement)
            cursor.execute(statements.evaluate, params)
            cursor.execute("SELECT * FROM churn_eval")
            names = [c[0] for c in cursor.description]
            row = dict(zip(names, cursor.fetchone(), strict=True))
        finally:
            cursor.execute("DROP TABLE IF EXISTS churn_eval")
    return {k: bool(v) if k.startswith("reason_") else v for k, v in row.items()}


def test_every_rule_value_reaches_the_evaluation_and_is_documented_for_the_reasons():
    from players.models.payer_status import ChurnRule

    assert [field for _name, field, _kind in churn.RULE_COLUMNS] == list(ChurnRule.RULE_FIELDS)
    assert {name for name, _field, _kind in churn.RULE_COLUMNS} <= set(churn_reasons.EV_COLUMNS)
