"""The churn admin: worklist, filters, win-back action, history, rules and report."""

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from campaigns.models import OutreachTask
from players.models import PayerStatus, Player
from players.models.payer_status import ChurnRule, PayerStatusChange
from players.services.payer_status import churn_scan

T0 = datetime(2026, 6, 1, 4, 0, 0, tzinfo=UTC)


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def book(clock, make_player, pay, manager, other_manager):
    """Players of two managers: at risk for different reasons and values, one active."""
    made = {}
    made["whale"] = make_player(manager=manager, nickname="whale")
    pay(made["whale"], "5000.00", at=T0 - timedelta(days=20))  # overdue + no login: high value
    made["minnow"] = make_player(manager=manager, nickname="minnow")
    pay(made["minnow"], "30.00", at=T0 - timedelta(days=25))  # higher risk, little value
    made["fine"] = make_player(manager=manager, nickname="fine")
    pay(made["fine"], "500.00")
    made["theirs"] = make_player(manager=other_manager, nickname="theirs")
    pay(made["theirs"], "800.00", at=T0 - timedelta(days=20))
    churn_scan(now=timezone.now())
    return made


def test_at_risk_list_shows_own_vips_by_risk_times_value(client, book, manager, django_assert_num_queries):
    client.force_login(manager)
    url = reverse("admin:players_atriskplayer_changelist")
    with django_assert_num_queries(7):
        response = client.get(url)
    assert response.status_code == 200
    shown = [p.nickname for p in response.context["cl"].result_list]
    # whale: risk 47 × 5000 before minnow: risk 58 × 30; nobody else's players, nobody active
    assert shown == ["whale", "minnow"]


def test_at_risk_list_for_a_supervisor_shows_everyone(client, book, supervisor):
    client.force_login(supervisor)
    response = client.get(reverse("admin:players_atriskplayer_changelist"))
    assert [p.nickname for p in response.context["cl"].result_list] == ["whale", "theirs", "minnow"]


def test_winback_action_creates_tasks_for_the_selected(client, book, manager):
    client.force_login(manager)
    url = reverse("admin:players_atriskplayer_changelist")
    data = {"action": "create_winback_tasks", "_selected_action": [book["whale"].pk, book["minnow"].pk]}
    response = client.post(url, data, follow=True)
    assert "2 win-back tasks created." in [str(m) for m in response.context["messages"]]
    response = client.post(url, data, follow=True)
    messages = [str(m) for m in response.context["messages"]]
    assert "0 win-back tasks created." in messages
    assert "2 players already have a task for this spell." in messages
    assert set(OutreachTask.objects.values_list("player__nickname", "assignee")) == {
        ("whale", manager.pk),
        ("minnow", manager.pk),
    }


def test_winback_action_needs_the_task_permission(client, book, make_staff):
    viewer = make_staff("viewer", is_superuser=False)
    from django.contrib.auth.models import Permission

    viewer.user_permissions.add(
        Permission.objects.get(codename="view_atriskplayer"), Permission.objects.get(codename="view_all_players")
    )
    client.force_login(viewer)
    response = client.get(reverse("admin:players_atriskplayer_changelist"))
    assert response.status_code == 200
    assert "create_winback_tasks" not in response.context["cl"].model_admin.get_actions(response.wsgi_request)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"risk": "medium"}, {"whale", "minnow", "theirs"}),
        ({"risk": "none"}, {"fine"}),
        ({"reason": "overdue"}, {"whale", "minnow", "theirs"}),
        ({"reason": "spend_drop"}, set()),
        ({"payer_status__exact": "active"}, {"fine"}),
    ],
)
def test_player_changelist_filters_by_status_risk_band_and_reason(client, book, supervisor, query, expected):
    client.force_login(supervisor)
    response = client.get(reverse("admin:players_player_changelist"), query)
    assert response.status_code == 200
    assert {p.nickname for p in response.context["cl"].result_list} == expected


def test_status_history_is_scoped_and_read_only(client, book, manager, django_assert_num_queries):
    client.force_login(manager)
    url = reverse("admin:players_payerstatuschange_changelist")
    with django_assert_num_queries(9):  # session, user, 2 permission, tiers filter, count, rows, 2 date hierarchy
        response = client.get(url)
    rows = response.context["cl"].result_list
    assert {r.player.nickname for r in rows} == {"whale", "minnow", "fine"}
    assert not response.context["cl"].model_admin.has_change_permission(response.wsgi_request)
    response = client.get(url, {"reason": "no_login"})
    assert {r.player.nickname for r in response.context["cl"].result_list} == {"whale", "minnow"}


def test_global_rule_cannot_be_deleted_but_tier_rules_can(client, superuser, tiers):
    client.force_login(superuser)
    global_rule = ChurnRule.objects.get(tier__isnull=True)
    tier_rule = ChurnRule.objects.create(tier=tiers["V9"], churn_after_days=14)
    assert client.get(reverse("admin:players_churnrule_delete", args=[global_rule.pk])).status_code == 403
    assert client.get(reverse("admin:players_churnrule_delete", args=[tier_rule.pk])).status_code == 200
    response = client.get(reverse("admin:players_churnrule_changelist"))
    assert response.status_code == 200


def test_global_rule_needs_every_value(client, superuser):
    client.force_login(superuser)
    rule = ChurnRule.objects.get(tier__isnull=True)
    response = client.post(
        reverse("admin:players_churnrule_change", args=[rule.pk]),
        {"churn_after_days": "", "gap_multiplier": "2", "min_gap_days": "7", "spend_window_days": "30",
         "spend_drop_ratio": "0.5", "no_login_days": "7"},
    )  # fmt: skip
    assert response.status_code == 200
    assert "The global rule needs a value." in response.content.decode()
    assert ChurnRule.objects.get(pk=rule.pk).churn_after_days == 30


def test_second_global_rule_is_refused(tiers):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="already a rule"):
        ChurnRule(**ChurnRule.DEFAULTS).full_clean()


def test_report_page_csv_and_permission(client, book, supervisor, manager, clock):
    # given a churn this month
    clock.move_to(T0 + timedelta(days=6))
    churn_scan(now=timezone.now())
    assert Player.objects.filter(payer_status=PayerStatus.CHURNED).count() == 1
    url = reverse("admin:players_churn_report")
    # a VIP manager may not see it
    client.force_login(manager)
    assert client.get(url).status_code == 403
    # a supervisor sees the table, the chart with its local script, and can export CSV
    client.force_login(supervisor)
    response = client.get(url)
    page = response.content.decode()
    assert response.status_code == 200
    assert "crm/vendor/chart.umd.min.js" in page and "churn-chart-data" in page
    assert "Revenue at risk now" in page
    export = client.get(url, {"format": "csv"})
    assert export["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.content.decode("utf-8-sig"))))
    june_total = next(r for r in rows if r["month"] == "2026-06" and r["tier"] == "total")
    assert june_total["churned"] == "1"
    assert len({r["month"] for r in rows}) == 12
    assert PayerStatusChange.objects.filter(to_status="churned").count() == 1
