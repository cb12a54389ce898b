from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError

from players.models import Case, CaseEvent, CaseEventType, CaseStatus, SlaPolicy
from players.services.cases import (
    case_close,
    case_compensate,
    case_record_satisfaction,
    case_reopen,
    case_resolve,
    case_resume,
    case_start,
    case_transition,
    case_update,
    case_wait_on_player,
    cases_escalate_overdue,
)

T0 = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


def events(case):
    return list(CaseEvent.objects.filter(case=case).values_list("type", flat=True))


def test_a_case_is_due_72_hours_after_it_opens_by_default(make_player, make_case, manager):
    player = make_player(manager=manager)

    case = make_case(player, actor=manager, opened_at=T0)

    assert case.sla_hours == 72
    assert case.sla_due_at == T0 + timedelta(hours=72)
    assert case.owner == manager  # the player's manager by default
    assert events(case) == [CaseEventType.OPENED]


def test_the_most_specific_sla_policy_wins(make_player, make_case):
    SlaPolicy.objects.create(category="", severity="urgent", hours=8)
    SlaPolicy.objects.create(category="payment", severity="", hours=24)
    SlaPolicy.objects.create(category="payment", severity="urgent", hours=4)
    player = make_player()

    assert make_case(player, category="payment", severity="urgent").sla_hours == 4
    assert make_case(player, category="payment", severity="low").sla_hours == 24
    assert make_case(player, category="bug", severity="urgent").sla_hours == 8
    assert make_case(player, category="bug", severity="low").sla_hours == 72


def test_the_whole_workflow_is_allowed_and_leaves_a_timeline(make_player, make_case, manager):
    case = make_case(make_player(manager=manager), actor=manager, opened_at=T0)

    case = case_start(case=case, actor=manager, now=T0 + timedelta(hours=1))
    case = case_wait_on_player(case=case, actor=manager, note="asked for the order number", now=T0 + timedelta(hours=2))
    case = case_resume(case=case, actor=manager, now=T0 + timedelta(hours=5))
    case = case_resolve(case=case, actor=manager, resolution="re-sent the diamonds", now=T0 + timedelta(hours=6))
    case = case_close(case=case, actor=manager, now=T0 + timedelta(hours=7))
    case = case_reopen(case=case, actor=manager, reason="diamonds missing again", now=T0 + timedelta(hours=8))

    assert case.status == CaseStatus.IN_PROGRESS
    assert events(case) == ["opened", "status", "status", "status", "status", "status", "reopened"]
    resolved = CaseEvent.objects.get(case=case, parameters__to="resolved")
    assert resolved.parameters == {"from": "in_progress", "to": "resolved", "sla_met": True}
    assert resolved.actor == manager


@pytest.mark.parametrize(
    ("path", "refused"),
    [
        ([], CaseStatus.CLOSED),  # new -> closed: resolve first
        ([CaseStatus.IN_PROGRESS], CaseStatus.NEW),
        ([CaseStatus.WAITING], CaseStatus.CLOSED),
        ([CaseStatus.RESOLVED], CaseStatus.WAITING),
        ([CaseStatus.RESOLVED, CaseStatus.CLOSED], CaseStatus.RESOLVED),
        ([CaseStatus.IN_PROGRESS], CaseStatus.IN_PROGRESS),
    ],
)
def test_illegal_transitions_are_refused_with_a_message(make_player, make_case, path, refused):
    case = make_case(make_player())
    for status in path:
        case = case_transition(case=case, to_status=status, actor=None, resolution="done")
    before = events(case)

    with pytest.raises(ValidationError) as excinfo:
        case_transition(case=case, to_status=refused, actor=None, resolution="done")

    assert "cannot go from" in excinfo.value.message_dict["status"][0]
    case.refresh_from_db()
    assert case.status == (path[-1] if path else CaseStatus.NEW)
    assert events(case) == before


def test_resolving_needs_a_resolution_and_reopening_a_reason(make_player, make_case):
    case = make_case(make_player())

    with pytest.raises(ValidationError) as no_resolution:
        case_transition(case=case, to_status=CaseStatus.RESOLVED, actor=None, resolution="  ")
    case = case_resolve(case=case, actor=None, resolution="refunded")
    with pytest.raises(ValidationError) as no_reason:
        case_reopen(case=case, actor=None, reason="")

    assert "resolution" in no_resolution.value.message_dict
    assert "note" in no_reason.value.message_dict
    assert Case.objects.get(pk=case.pk).status == CaseStatus.RESOLVED


def test_the_clock_pauses_while_waiting_on_the_player(make_player, make_case, time_machine):
    time_machine.move_to(T0, tick=False)
    case = make_case(make_player())
    case = case_start(case=case, actor=None)

    time_machine.move_to(T0 + timedelta(hours=10), tick=False)
    case = case_wait_on_player(case=case, actor=None)
    time_machine.move_to(T0 + timedelta(hours=20), tick=False)
    left_early = case.time_left(datetime.now(UTC))
    time_machine.move_to(T0 + timedelta(hours=35), tick=False)
    left_later = case.time_left(datetime.now(UTC))
    time_machine.move_to(T0 + timedelta(hours=40), tick=False)
    case = case_resume(case=case, actor=None)

    assert left_early == left_later == timedelta(hours=62)  # frozen at the pause
    assert case.sla_paused_seconds == 30 * 3600
    assert case.sla_due_at == T0 + timedelta(hours=72 + 30)
    time_machine.move_to(T0 + timedelta(hours=100), tick=False)
    assert case_resolve(case=case, actor=None, resolution="fixed").sla_met is True


def test_without_a_pause_the_same_resolution_is_late(make_player, make_case, time_machine):
    time_machine.move_to(T0, tick=False)
    case = make_case(make_player())
    time_machine.move_to(T0 + timedelta(hours=100), tick=False)

    case = case_resolve(case=case, actor=None, resolution="fixed")

    assert case.sla_met is False


def test_a_paused_case_is_not_escalated(make_player, make_case):
    case = make_case(make_player(), opened_at=T0)
    case_wait_on_player(case=case, actor=None, now=T0 + timedelta(hours=1))

    assert cases_escalate_overdue(now=T0 + timedelta(days=30)) == []


def test_an_overdue_case_escalates_once_with_one_email(
    make_player, make_case, make_staff, django_capture_on_commit_callbacks
):
    boss = make_staff("boss", "Supervisor", email="boss@example.com")
    make_staff("quiet", "Supervisor")  # no address: not written to
    make_staff("li", "VIP manager", email="li@example.com")  # not a supervisor
    overdue = make_case(make_player(), opened_at=T0, subject="充值未到账 请回电13812345678")
    not_yet = make_case(make_player(), opened_at=T0 + timedelta(hours=60))
    later = T0 + timedelta(hours=73)

    with django_capture_on_commit_callbacks(execute=True):
        first = cases_escalate_overdue(now=later)
    with django_capture_on_commit_callbacks(execute=True):
        second = cases_escalate_overdue(now=later + timedelta(hours=1))

    assert first == [overdue.pk]
    assert second == []
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [boss.email]
    assert f"#{overdue.pk}" in mail.outbox[0].body
    assert "138****5678" in mail.outbox[0].body and "13812345678" not in mail.outbox[0].body
    overdue.refresh_from_db()
    assert overdue.escalated_at == later
    assert overdue.escalation_count == 1
    assert events(overdue) == ["opened", "escalated", "notified"]
    assert events(not_yet) == ["opened"]


def test_a_reopened_case_gets_a_fresh_allowance_and_can_escalate_again(
    make_player, make_case, make_staff, django_capture_on_commit_callbacks
):
    make_staff("boss", "Supervisor", email="boss@example.com")
    case = make_case(make_player(), opened_at=T0)
    with django_capture_on_commit_callbacks(execute=True):
        cases_escalate_overdue(now=T0 + timedelta(hours=80))
    case = case_resolve(case=case, actor=None, resolution="done", now=T0 + timedelta(hours=81))
    reopened_at = T0 + timedelta(hours=90)

    case = case_reopen(case=case, actor=None, reason="not fixed", now=reopened_at)
    with django_capture_on_commit_callbacks(execute=True):
        too_early = cases_escalate_overdue(now=reopened_at + timedelta(hours=71))
    with django_capture_on_commit_callbacks(execute=True):
        again = cases_escalate_overdue(now=reopened_at + timedelta(hours=73))

    assert case.sla_due_at == reopened_at + timedelta(hours=72)
    assert case.escalated_at is None
    assert too_early == []
    assert again == [case.pk]
    assert len(mail.outbox) == 2
    assert Case.objects.get(pk=case.pk).escalation_count == 2


def test_escalation_email_can_be_switched_off(make_player, make_case, make_staff, settings):
    settings.CRM_CASE_ESCALATION_EMAIL = False
    make_staff("boss", "Supervisor", email="boss@example.com")
    case = make_case(make_player(), opened_at=T0)

    assert cases_escalate_overdue(now=T0 + timedelta(days=4)) == [case.pk]
    assert mail.outbox == []


def test_satisfaction_comes_after_the_resolution_and_is_1_to_5(make_player, make_case):
    case = make_case(make_player())

    with pytest.raises(ValidationError) as too_early:
        case_record_satisfaction(case=case, score=5, actor=None)
    case = case_resolve(case=case, actor=None, resolution="refunded")
    with pytest.raises(ValidationError) as out_of_range:
        case_record_satisfaction(case=case, score=6, actor=None)
    case = case_record_satisfaction(case=case, score=4, actor=None, note="快")

    assert "satisfaction" in too_early.value.message_dict
    assert "satisfaction" in out_of_range.value.message_dict
    assert case.satisfaction == 4
    assert events(case)[-1] == CaseEventType.SATISFACTION


def test_compensation_adds_up_on_the_case_and_in_the_timeline(make_player, make_case, manager):
    case = make_case(make_player(manager=manager), actor=manager)

    case = case_resolve(
        case=case,
        actor=manager,
        resolution="re-sent",
        compensation_item="300 钻石",
        compensation_value=Decimal("30.00"),
    )
    case = case_compensate(case=case, item="称号", value=Decimal("5"), actor=manager)
    with pytest.raises(ValidationError) as negative:
        case_compensate(case=case, item="x", value=Decimal("-1"), actor=manager)

    assert case.compensation_item == "300 钻石; 称号"
    assert case.compensation_value == Decimal("35.00")
    assert "compensation_value" in negative.value.message_dict
    assert events(case).count(CaseEventType.COMPENSATED) == 2


def test_a_manager_cannot_handle_another_managers_case(make_player, make_case, manager, other_manager, supervisor):
    case = make_case(make_player(manager=other_manager))

    with pytest.raises(PermissionDenied):
        case_start(case=case, actor=manager)
    with pytest.raises(PermissionDenied):
        make_case(make_player(manager=other_manager), actor=manager)
    assert case_start(case=case, actor=supervisor).status == CaseStatus.IN_PROGRESS


def test_a_new_severity_moves_the_due_time(make_player, make_case):
    SlaPolicy.objects.create(category="", severity="urgent", hours=12)
    case = make_case(make_player(), opened_at=T0)

    case = case_update(case=case, data={"severity": "urgent"}, actor=None, now=T0 + timedelta(hours=1))

    assert case.sla_hours == 12
    assert case.sla_due_at == T0 + timedelta(hours=12)
    assert CaseEvent.objects.filter(case=case, type="edited").get().parameters["fields"] == ["severity"]


def test_escalation_claims_each_case_once_under_concurrency(requires_postgres, transactional_db, make_player):
    """Two scans at once (two connections): every overdue case is escalated once."""
    import threading

    from django.db import connection

    from players.services.cases import case_open

    player = make_player()
    for _ in range(30):
        case_open(player=player, category="bug", subject="x", opened_at=T0)
    results = []
    barrier = threading.Barrier(2)

    def scan():
        barrier.wait()
        try:
            results.append(cases_escalate_overdue(now=T0 + timedelta(days=4), batch_size=5))
        finally:
            connection.close()

    threads = [threading.Thread(target=scan) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    claimed = results[0] + results[1]
    assert sorted(claimed) == sorted(Case.objects.values_list("pk", flat=True))
    assert CaseEvent.objects.filter(type="escalated").count() == 30


def test_compensation_goes_into_the_gift_ledger_when_it_exists(make_player, make_case, manager):
    pytest.importorskip("campaigns.services.greetings", reason="the gift ledger (issue 7) is not on this branch yet")
    from campaigns.models import GiftEntry

    player = make_player(manager=manager)
    case = make_case(player, actor=manager)

    case = case_resolve(
        case=case, actor=manager, resolution="补发", compensation_item="300 钻石", compensation_value=Decimal("30")
    )
    case_compensate(case=case, item="称号", value=Decimal("5"), actor=manager)

    gifts = GiftEntry.objects.filter(player=player).order_by("pk")
    assert [(g.item, g.value, g.source) for g in gifts] == [
        ("300 钻石", Decimal("30.00"), f"case:{case.pk}:1"),
        ("称号", Decimal("5.00"), f"case:{case.pk}:2"),
    ]
    assert [e.parameters["gift"] for e in CaseEvent.objects.filter(case=case, type="compensated")] == [
        g.pk for g in gifts
    ]
