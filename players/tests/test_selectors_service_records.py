from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from campaigns.models import OutreachTask
from players.selectors.service_records import (
    cases_escalated,
    cases_overdue_for,
    follow_ups_due,
    service_work_report,
)
from players.services import contact_log_create
from players.services.cases import (
    case_record_satisfaction,
    case_resolve,
    case_wait_on_player,
    cases_escalate_overdue,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 11, 20)


def local(day, hour, minute=0):
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=SHANGHAI)


def task(player, assignee, outcome, completed_at, status="done"):
    return OutreachTask.objects.create(
        player=player,
        assignee=assignee,
        title="回访",
        due_date=DAY,
        status=status,
        outcome=outcome,
        completed_at=completed_at,
    )


@pytest.fixture
def constructed_day(make_player, make_case, make_staff):
    li = make_staff("li", "VIP manager", first_name="李")
    wang = make_staff("wang", "VIP manager")
    mine, theirs = make_player(manager=li), make_player(manager=wang)

    def contact(player, staff, at, outcome):
        contact_log_create(player=player, staff=staff, channel="phone", contacted_at=at, outcome=outcome)

    contact(mine, li, local(DAY, 9), "reached")
    contact(mine, li, local(DAY, 14), "promised_return")
    contact(mine, li, local(DAY, 23, 30), "no_answer")  # late evening: still the day
    contact(mine, li, local(DAY + timedelta(days=1), 0, 10), "reached")  # the next day
    contact(mine, li, local(DAY - timedelta(days=1), 23, 50), "reached")  # the day before
    contact(theirs, wang, local(DAY, 11), "reached")

    old = make_case(mine, opened_at=local(DAY - timedelta(days=4), 9))  # due 3 days later: late
    fresh = make_case(mine, opened_at=local(DAY, 8))
    make_case(mine, opened_at=local(DAY, 16))
    make_case(theirs, opened_at=local(DAY, 10))
    for case, score in ((old, 4), (fresh, 5)):
        case = case_resolve(case=case, actor=li, resolution="done", now=local(DAY, 18))
        case_record_satisfaction(case=case, score=score, actor=li)

    task(mine, li, "reached", local(DAY, 10))
    task(mine, li, "reached", local(DAY, 12))
    task(mine, li, "refused", local(DAY, 13))
    task(mine, li, "reached", local(DAY - timedelta(days=1), 13))  # another day
    task(mine, li, "", None, status="open")  # not done
    return li, wang


def test_the_report_counts_a_constructed_day_per_manager_and_for_the_team(
    constructed_day, django_assert_max_num_queries
):
    li, wang = constructed_day

    with django_assert_max_num_queries(5):
        report = service_work_report(start=DAY, end=DAY)

    rows = {r.name: r for r in report.rows}
    assert set(rows) == {"李", "wang"}
    a = rows["李"]
    assert (a.contacts, a.contacts_reached, a.cases_opened, a.cases_resolved) == (3, 2, 2, 2)
    assert (a.sla_met_pct, a.satisfaction_avg) == (50.0, 4.5)
    assert (a.outreach, a.outreach_done) == ({"reached": 2, "refused": 1}, 3)
    b = rows["wang"]
    assert (b.contacts, b.cases_opened, b.cases_resolved, b.sla_met_pct, b.satisfaction_avg) == (1, 1, 0, None, None)
    t = report.total
    assert (t.contacts, t.cases_opened, t.cases_resolved, t.sla_met_pct, t.outreach_done) == (4, 3, 2, 50.0, 3)
    assert [value for value, _label in report.outcomes] == ["reached", "refused"]


def test_the_report_by_day_and_for_one_manager(constructed_day):
    li, _wang = constructed_day

    report = service_work_report(start=DAY - timedelta(days=1), end=DAY + timedelta(days=1), users=[li], by_day=True)

    contacts = {(r.day, r.name): r.contacts for r in report.rows}
    assert contacts == {(DAY - timedelta(days=1), "李"): 1, (DAY, "李"): 3, (DAY + timedelta(days=1), "李"): 1}
    assert report.total.contacts == 5
    assert report.total.outreach_done == 4


def test_follow_ups_appear_in_the_managers_worklist_on_the_day(make_player, make_staff, time_machine):
    time_machine.move_to(local(DAY, 10), tick=False)
    li, wang = make_staff("li", "VIP manager"), make_staff("wang", "VIP manager")
    yesterday = local(DAY - timedelta(days=1), 15)

    def contact(player, follow_up=None, at=yesterday, staff=li):
        return contact_log_create(
            player=player, staff=staff, channel="qq", topic="回访", contacted_at=at, next_follow_up=follow_up
        )

    due = contact(make_player(manager=li), DAY)
    answered_player = make_player(manager=li)
    contact(answered_player, DAY)
    contact(answered_player, at=local(DAY, 9))  # already called back
    automatic_player = make_player(manager=li)
    still_due = contact(automatic_player, DAY)
    contact(automatic_player, at=local(DAY, 9), staff=None)  # a sent message is not a follow-up
    others = contact(make_player(manager=wang), DAY, staff=wang)
    overdue = contact(make_player(manager=li), DAY - timedelta(days=2), at=local(DAY - timedelta(days=3), 9))

    assert list(follow_ups_due(user=li)) == [due, still_due]
    assert list(follow_ups_due(user=li, include_overdue=True)) == [overdue, due, still_due]
    assert set(follow_ups_due()) == {due, still_due, others}


def test_overdue_and_escalated_case_lists(make_player, make_case, manager, other_manager, supervisor):
    now = datetime(2026, 11, 22, 2, tzinfo=UTC)
    mine = make_case(make_player(manager=manager), opened_at=now - timedelta(hours=80))
    theirs = make_case(make_player(manager=other_manager), opened_at=now - timedelta(hours=80))
    make_case(make_player(manager=manager), opened_at=now - timedelta(hours=10))  # not yet due
    paused = make_case(make_player(manager=manager), opened_at=now - timedelta(hours=90))
    case_wait_on_player(case=paused, actor=None, now=now - timedelta(hours=85))

    cases_escalate_overdue(now=now)

    assert list(cases_overdue_for(manager, now=now)) == [mine]
    assert list(cases_escalated(user=manager)) == [mine]
    assert set(cases_escalated(user=supervisor)) == {mine, theirs}


def test_contacts_no_person_made_are_the_systems_row_in_the_readers_language(make_player):
    """Issue 17, item 4: the row of contacts without staff (greetings sent by the system)
    reads 系统 / System, not "-"."""
    from django.utils import translation

    contact_log_create(
        player=make_player(), staff=None, channel="in_game", topic="生日祝福", contacted_at=local(DAY, 11)
    )

    with translation.override("zh-hans"):
        assert [r.name for r in service_work_report(start=DAY, end=DAY).rows] == ["系统"]
    with translation.override("en"):
        assert [r.name for r in service_work_report(start=DAY, end=DAY).rows] == ["System"]
