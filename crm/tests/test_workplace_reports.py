"""The daily work report's figures (crm/workplace/reports.py), moved from players' selectors."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from campaigns.models import OutreachTask
from crm.workplace.reports import service_work_report
from players.services import contact_log_create
from players.services.cases import (
    case_record_satisfaction,
    case_resolve,
)
from players.tests.fixtures import local

DAY = date(2026, 11, 20)


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

    # contacts, cases opened, resolved, tasks, gifts, surveys per person and per category, names
    with django_assert_max_num_queries(8):
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


def test_surveys_answered_count_per_manager_per_day_and_per_category(constructed_day, make_player, make_case):
    """Issue 22: satisfaction survey results per manager and per category on the daily report."""
    from players.models import SatisfactionSurvey
    from players.services.surveys import survey_answer

    li, wang = constructed_day

    def visit(staff, at):
        contact = contact_log_create(
            player=make_player(manager=staff), staff=staff, channel="phone", contacted_at=at, outcome="reached"
        )
        return SatisfactionSurvey.objects.get(contact=contact)  # a return visit is followed by a survey

    def answer(survey, score, at):
        survey_answer(survey=survey, score=score, via="link", now=at)

    answer(visit(li, local(DAY, 9)), 5, local(DAY, 10))
    answer(visit(li, local(DAY, 9)), 1, local(DAY, 11))  # low
    answer(visit(li, local(DAY - timedelta(days=1), 9)), 2, local(DAY - timedelta(days=1), 20))  # the day before
    visit(wang, local(DAY, 9))  # sent, not answered
    case = make_case(make_player(manager=wang), actor=wang, category="payment", opened_at=local(DAY, 8))
    case = case_resolve(case=case, actor=wang, resolution="已补单", now=local(DAY, 12))
    answer(SatisfactionSurvey.objects.get(case=case), 4, local(DAY, 15))

    report = service_work_report(start=DAY, end=DAY)

    rows = {r.name: r for r in report.rows}
    assert (rows["李"].surveys_answered, rows["李"].survey_avg, rows["李"].surveys_low) == (2, 3.0, 1)
    assert (rows["wang"].surveys_answered, rows["wang"].survey_avg, rows["wang"].surveys_low) == (1, 4.0, 0)
    assert (report.total.surveys_answered, report.total.survey_avg, report.total.surveys_low) == (3, 3.33, 1)
    assert [(c.category, c.answered, c.average, c.low) for c in report.survey_categories] == [
        ("payment", 1, 4.0, 0),
        ("return_visit", 2, 3.0, 1),
    ]
    by_day = service_work_report(start=DAY - timedelta(days=1), end=DAY, users=[li], by_day=True)
    assert {(r.day, r.surveys_answered, r.surveys_low) for r in by_day.rows} == {
        (DAY - timedelta(days=1), 1, 1),
        (DAY, 2, 1),
    }
    assert [(c.category, c.answered) for c in by_day.survey_categories] == [("return_visit", 3)]


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


# --- weekly and monthly reports, and their e-mail --------------------------------------------
@pytest.mark.parametrize(
    ("period", "day", "expected"),
    [
        ("week", date(2026, 11, 20), (date(2026, 11, 16), date(2026, 11, 22))),  # a Friday: Monday to Sunday
        ("week", date(2026, 11, 16), (date(2026, 11, 16), date(2026, 11, 22))),
        ("week", date(2026, 12, 30), (date(2026, 12, 28), date(2027, 1, 3))),
        ("month", date(2026, 2, 14), (date(2026, 2, 1), date(2026, 2, 28))),
        ("month", date(2028, 2, 29), (date(2028, 2, 1), date(2028, 2, 29))),
        ("month", date(2026, 12, 31), (date(2026, 12, 1), date(2026, 12, 31))),
    ],
)
def test_a_period_holds_its_days(period, day, expected):
    from crm.workplace.reports import period_range

    assert period_range(period, day) == expected


def test_the_last_complete_period_is_what_the_schedule_sends():
    from crm.workplace.reports import period_last_complete

    assert period_last_complete("week", date(2026, 11, 23)) == (date(2026, 11, 16), date(2026, 11, 22))
    assert period_last_complete("month", date(2026, 12, 1)) == (date(2026, 11, 1), date(2026, 11, 30))
    assert period_last_complete("month", date(2026, 1, 15)) == (date(2025, 12, 1), date(2025, 12, 31))


def test_the_weekly_report_adds_up_the_days_and_counts_gifts_for_who_gave_them(constructed_day, make_player):
    from campaigns.services.gifts import gift_record
    from crm.workplace.reports import period_report

    li, _wang = constructed_day
    gift_record(player=make_player(), kind="item", item="月饼", value=Decimal("88"), actor=li, on=DAY)
    gift_record(
        player=make_player(), kind="item", item="月饼", value=Decimal("88"), actor=li, on=DAY + timedelta(days=9)
    )
    daily = service_work_report(start=DAY, end=DAY)
    weekly = period_report(period="week", day=DAY)
    assert (weekly.start, weekly.end) == (date(2026, 11, 16), date(2026, 11, 22))
    mine = next(r for r in weekly.rows if r.user_id == li.pk)
    assert (mine.gifts, mine.gifts_value) == (1, Decimal("88"))  # the gift of the next week is not in it
    # the week holds the day before and the day after too
    assert (daily.total.contacts, weekly.total.contacts) == (4, 6)
    assert weekly.total.cases_resolved == daily.total.cases_resolved == 2
    monthly = period_report(period="month", day=DAY)
    assert monthly.total.gifts == 2 and monthly.total.gifts_value == Decimal("176")


def test_the_monthly_report_reaches_the_supervisors_by_mail(constructed_day, make_staff, mailoutbox, settings):
    from django.core.management import call_command

    settings.LANGUAGE_CODE = "zh-hans"
    settings.CRM_SITE_URL = "https://crm.example.com/"
    boss = make_staff("boss", "Supervisor", email="boss@example.com")
    make_staff("quiet_boss", "Supervisor")  # no address: not mailed
    make_staff("li_manager", "VIP manager", email="li@example.com")  # a manager gets no team report
    call_command("send_work_reports", "month", "--date", "2026-12-01")
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == [boss.email]
    assert message.subject == "月报 2026-11-01 – 2026-11-30"
    assert "全组 | 6 | 5 | 4 | 2 | 50.0 | 4.5" in message.body.splitlines()[-3]  # the team's line
    assert (
        message.body.splitlines()[-1]
        == "报表及图表：https://crm.example.com/admin/players/case/report/month/?day=2026-11-01"
    )
    names = [name for name, _content, _type in message.attachments]
    assert names == ["work-report-2026-11-01-2026-11-30.csv", "work-report-2026-11-01-2026-11-30.xlsx"]
    csv_text = message.attachments[0][1]
    assert csv_text.splitlines()[-1].split(",")[1] == "全组"


def test_the_mail_task_sends_last_week(constructed_day, make_staff, mailoutbox, time_machine):
    from crm.tasks import work_report_mail_task

    make_staff("boss", "Supervisor", email="boss@example.com")
    time_machine.move_to(datetime(2026, 11, 23, 1, 0, tzinfo=UTC))  # Monday morning in Shanghai
    assert work_report_mail_task("week") == {"period": "week", "start": "2026-11-16", "end": "2026-11-22", "to": 1}
    assert mailoutbox[0].subject == "Weekly work report 2026-11-16 – 2026-11-22"
