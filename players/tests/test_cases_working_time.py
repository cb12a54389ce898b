"""Working-time SLAs (players.services.cases with crm.workdays): a policy on working
hours, the first-answer target, the pause carried over on working time, and the
escalation ladder manager -> supervisors -> head of service."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError

from crm.workdays import Clock
from players.models import CaseEvent, CaseStatus, EscalationLevel, SlaPolicy
from players.services.cases import (
    case_reopen,
    case_reply,
    case_resolve,
    case_resume,
    case_wait_on_player,
    cases_escalate,
)

SH = ZoneInfo("Asia/Shanghai")


def at(*args):
    return datetime(*args, tzinfo=SH)


@pytest.fixture(autouse=True)
def office_hours(settings):
    settings.CRM_WORKING_HOURS = "09:00-18:00"


@pytest.fixture
def complaints_on_working_hours(db):
    return SlaPolicy.objects.create(
        category="complaint", clock=Clock.WORKING_HOURS, hours=27, first_response_hours=2, head_after_hours=9
    )


def test_a_case_opened_on_spring_festival_eve_is_due_after_the_holiday(
    complaints_on_working_hours, make_player, make_case, manager
):
    # given: 2027-02-04 (Thursday) 16:00, the last working afternoon before the holiday
    # (2-05 .. 2-10 off); 27 working hours are three working days of 9 hours
    case = make_case(make_player(manager=manager), actor=manager, opened_at=at(2027, 2, 4, 16))

    # then: 2 h that afternoon, then Thursday 2-11 and Friday 2-12 (18 h), 7 h on Monday 2-15
    assert case.sla_clock == Clock.WORKING_HOURS
    assert case.sla_due_at == at(2027, 2, 15, 16)
    assert case.first_response_due_at == at(2027, 2, 4, 18)
    # a round-the-clock case opened at the same moment is due on the third evening
    other = make_case(make_player(manager=manager), actor=manager, category="bug", opened_at=at(2027, 2, 4, 16))
    assert other.sla_due_at == at(2027, 2, 7, 16)


def test_the_first_reply_stops_the_first_answer_clock(complaints_on_working_hours, make_player, make_case, manager):
    case = make_case(make_player(manager=manager), actor=manager, opened_at=at(2026, 11, 2, 10))
    assert case.first_response_due_at == at(2026, 11, 2, 12)

    case_reply(case=case, text="您好，已收到您的反馈。", actor=manager, now=at(2026, 11, 2, 11))
    case_reply(case=case, text="第二次回复", actor=manager, now=at(2026, 11, 2, 15))
    case.refresh_from_db()

    assert case.status == CaseStatus.IN_PROGRESS  # a reply starts the work
    assert (case.first_responded_at, case.first_response_met) == (at(2026, 11, 2, 11), True)
    replies = CaseEvent.objects.filter(case=case, type="replied").order_by("at")
    assert [e.parameters["first"] for e in replies] == [True, False]


def test_a_late_first_answer_and_asking_the_player_counts_as_an_answer(
    complaints_on_working_hours, make_player, make_case, manager
):
    case = make_case(make_player(manager=manager), actor=manager, opened_at=at(2026, 11, 2, 17))
    # 2 working hours from Monday 17:00 -> Tuesday 10:00; asked the player at 10:30
    assert case.first_response_due_at == at(2026, 11, 3, 10)
    case = case_wait_on_player(case=case, actor=manager, now=at(2026, 11, 3, 10, 30))
    assert (case.first_responded_at, case.first_response_met) == (at(2026, 11, 3, 10, 30), False)


def test_a_pause_carries_the_working_time_left_over(complaints_on_working_hours, make_player, make_case, manager):
    # opened Monday 2026-11-02 09:00: 27 h -> due Wednesday 18:00
    case = make_case(make_player(manager=manager), actor=manager, opened_at=at(2026, 11, 2, 9))
    assert case.sla_due_at == at(2026, 11, 4, 18)
    # paused Monday 17:00 (19 working hours left), the player answers Friday 20:00
    case = case_wait_on_player(case=case, actor=manager, now=at(2026, 11, 2, 17))
    case = case_resume(case=case, actor=manager, now=at(2026, 11, 6, 20))
    # 19 h from Friday evening: Monday 11-09 (9 h), Tuesday (9 h), Wednesday 10:00
    assert case.sla_due_at == at(2026, 11, 11, 10)
    assert case.sla_paused_seconds == int(timedelta(days=4, hours=3).total_seconds())


def test_the_ladder_climbs_to_the_supervisors_then_the_head(
    complaints_on_working_hours, make_player, make_case, make_staff, manager, django_capture_on_commit_callbacks
):
    boss = make_staff("boss", "Supervisor", email="boss@example.com")
    make_staff("head", "Head", email="head@example.com")
    case = make_case(make_player(manager=manager), actor=manager, opened_at=at(2026, 11, 2, 9))
    due = case.sla_due_at  # Wednesday 18:00

    # not yet due: nothing; just past due: the supervisors (and the head, who is one too)
    assert cases_escalate(now=due - timedelta(minutes=1)).supervisor == []
    with django_capture_on_commit_callbacks(execute=True):
        done = cases_escalate(now=due + timedelta(minutes=15))
    case.refresh_from_db()
    assert done.supervisor == [case.pk] and done.head == []
    assert case.escalation_level == EscalationLevel.SUPERVISOR
    # the supervisors have 9 working hours: Thursday 18:00
    assert case.head_escalation_at == at(2026, 11, 5, 18)
    assert {tuple(m.to) for m in mail.outbox} == {("boss@example.com", "head@example.com")}

    # Thursday 17:00: still with the supervisors; 18:15: the head of service
    assert cases_escalate(now=at(2026, 11, 5, 17)).head == []
    with django_capture_on_commit_callbacks(execute=True):
        done = cases_escalate(now=at(2026, 11, 5, 18, 15))
    case.refresh_from_db()
    assert done.head == [case.pk] and case.escalation_level == EscalationLevel.HEAD
    assert mail.outbox[-1].to == ["head@example.com"]
    assert "head of service" in mail.outbox[-1].subject
    # once only
    assert cases_escalate(now=at(2026, 11, 6, 18)).head == []

    # a reopened case starts again at the bottom of the ladder
    case_resolve(case=case, actor=manager, resolution="已补发", now=at(2026, 11, 6, 10))
    case = case_reopen(case=case, actor=boss, reason="玩家未收到", now=at(2026, 11, 6, 11))
    assert (case.escalation_level, case.head_escalation_at) == (EscalationLevel.MANAGER, None)


def test_a_waiting_case_does_not_climb_and_its_head_step_moves_with_the_pause(
    complaints_on_working_hours, make_player, make_case, manager
):
    case = make_case(make_player(manager=manager), actor=manager, opened_at=at(2026, 11, 2, 9))
    cases_escalate(now=at(2026, 11, 4, 18, 30))
    case = case_wait_on_player(case=case, actor=manager, now=at(2026, 11, 5, 9))
    assert cases_escalate(now=at(2026, 11, 20, 9)).head == []
    # back on Monday 11-09 09:00: the supervisors' 9 hours were untouched -> 18:00 that day
    case = case_resume(case=case, actor=manager, now=at(2026, 11, 9, 9))
    assert case.head_escalation_at == at(2026, 11, 9, 18)


def test_a_reply_is_refused_to_other_managers_and_without_text(make_player, make_case, manager, other_manager):
    case = make_case(make_player(manager=manager), actor=manager)
    with pytest.raises(PermissionDenied):
        case_reply(case=case, text="hi", actor=other_manager)
    with pytest.raises(ValidationError) as refused:
        case_reply(case=case, text="   ", actor=manager)
    assert "text" in refused.value.message_dict


def test_policy_fields_are_checked(db):
    policy = SlaPolicy(category="bug", clock="sometimes", hours=0, first_response_hours=0)
    with pytest.raises(ValidationError) as refused:
        policy.full_clean()
    assert {"clock", "hours", "first_response_hours"} <= set(refused.value.message_dict)


def test_the_head_of_service_role_receives_head_escalations(db):
    head = Group.objects.get(name="Head")
    assert head.permissions.filter(codename="receive_head_escalations").exists()
    assert not Group.objects.get(name="Supervisor").permissions.filter(codename="receive_head_escalations").exists()
