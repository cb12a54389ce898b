"""The daily work report's figures (crm/workplace/reports.py), moved from players' selectors."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from campaigns.models import OutreachTask
from crm.workplace.reports import service_work_report
from players.services import contact_log_create
from players.services.cases import (
    case_record_satisfaction,
    case_resolve,
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
