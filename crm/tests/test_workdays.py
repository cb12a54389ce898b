"""The working-days calendar (crm.workdays): statutory holidays and make-up working days
from the `holidays` package, the company's days off, working hours, and arithmetic on
working time. Expected values are typed in from the State Council's notices."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings

from crm.workdays import (
    Clock,
    DayKind,
    clock_add,
    company_day_off_save,
    day_info,
    days_between,
    statutory_day_info,
    working_add,
    working_hours_parse,
    working_seconds_between,
)

SH = ZoneInfo("Asia/Shanghai")


def at(*args):
    return datetime(*args, tzinfo=SH)


@pytest.mark.django_db
def test_2026_spring_festival_holidays_and_make_up_days():
    # State Council 2026: 2-15 .. 2-23 off; Saturday 2-14 and Saturday 2-28 are worked.
    kinds = {d.day: d.kind for d in days_between(date(2026, 2, 13), date(2026, 3, 2))}
    assert kinds[date(2026, 2, 13)] == DayKind.WORKDAY
    assert kinds[date(2026, 2, 14)] == DayKind.MAKE_UP
    assert kinds[date(2026, 2, 17)] == DayKind.HOLIDAY
    assert kinds[date(2026, 2, 23)] == DayKind.HOLIDAY
    assert kinds[date(2026, 2, 24)] == DayKind.WORKDAY
    assert kinds[date(2026, 2, 28)] == DayKind.MAKE_UP
    assert kinds[date(2026, 3, 1)] == DayKind.WEEKEND
    # the weekend inside the break is part of the holiday (放假 02-15 .. 02-23), not a weekend
    assert kinds[date(2026, 2, 15)] == kinds[date(2026, 2, 21)] == DayKind.HOLIDAY


@pytest.mark.django_db
@override_settings(CRM_WORKING_HOURS="09:00-18:00")
def test_a_case_opened_on_the_eve_of_spring_festival_2027_waits_for_the_holiday():
    # 2027-02-04 (Thu) 17:00: one working hour left that day; 2-05 .. 2-10 are holidays
    # (the package's estimate for 2027); 2-11 (Thu) is the next working day.
    assert not day_info(date(2027, 2, 5)).working
    assert working_add(at(2027, 2, 4, 17), hours=3) == at(2027, 2, 11, 11)
    assert working_seconds_between(at(2027, 2, 4, 17), at(2027, 2, 11, 11)) == 3 * 3600
    # round the clock the same three hours end the same evening
    assert clock_add(Clock.ROUND_THE_CLOCK, at(2027, 2, 4, 17), hours=3) == at(2027, 2, 4, 20)


@pytest.mark.django_db
@override_settings(CRM_WORKING_HOURS="09:00-12:00,13:30-18:00")
def test_lunch_break_weekend_and_outside_hours():
    # Friday 2026-03-06 11:00 + 2 h: 1 h before lunch, 1 h after -> 14:30
    assert working_add(at(2026, 3, 6, 11), hours=2) == at(2026, 3, 6, 14, 30)
    # Friday 17:00 + 2 h -> Monday 10:00; from Saturday night -> Monday 11:00
    assert working_add(at(2026, 3, 6, 17), hours=2) == at(2026, 3, 9, 10)
    assert working_add(at(2026, 3, 7, 23), hours=2) == at(2026, 3, 9, 11)
    # backwards, and the count between agrees
    assert working_add(at(2026, 3, 9, 10), hours=-2) == at(2026, 3, 6, 17)
    assert working_seconds_between(at(2026, 3, 6, 17), at(2026, 3, 9, 10)) == 7200
    assert working_seconds_between(at(2026, 3, 9, 10), at(2026, 3, 6, 17)) == -7200


@pytest.mark.django_db
@override_settings(CRM_WORKING_HOURS="09:00-18:00")
def test_a_make_up_saturday_counts_and_a_company_day_off_does_not(supervisor):
    # Friday 2026-02-13 17:00 + 2 h: Saturday 2-14 is a make-up working day -> 10:00 there
    assert working_add(at(2026, 2, 13, 17), hours=2) == at(2026, 2, 14, 10)
    # the company takes Monday 2026-03-09 off: Friday 17:00 + 2 h -> Tuesday 10:00
    company_day_off_save(day=date(2026, 3, 9), reason="公司团建", actor=supervisor)
    assert day_info(date(2026, 3, 9)).kind == DayKind.COMPANY_OFF
    assert day_info(date(2026, 3, 9)).name == "公司团建"
    assert statutory_day_info(date(2026, 3, 9)).kind == DayKind.WORKDAY
    assert working_add(at(2026, 3, 6, 17), hours=2) == at(2026, 3, 10, 10)


@pytest.mark.django_db
def test_a_company_day_off_is_declared_once(supervisor):
    company_day_off_save(day=date(2026, 3, 9), reason="a", actor=supervisor)
    with pytest.raises(ValidationError) as refused:
        company_day_off_save(day=date(2026, 3, 9), reason="b", actor=supervisor)
    assert "day" in refused.value.message_dict


@pytest.mark.parametrize("text", ["", "9-18", "18:00-09:00", "09:00-12:00,11:00-18:00", "25:00-26:00", "09:00-18:00;x"])
def test_bad_working_hours_are_refused(text):
    with pytest.raises(ValueError):
        working_hours_parse(text)


def test_working_hours_parse():
    assert [(a.hour, b.hour) for a, b in working_hours_parse("08:00-12:00, 13:00-17:00")] == [(8, 12), (13, 17)]


@pytest.mark.django_db
def test_the_company_days_off_list_pays_no_query_per_row(superuser):
    from datetime import timedelta

    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    client = Client()
    client.force_login(superuser)
    url = reverse("admin:crm_companydayoff_changelist")
    for n in range(2):
        company_day_off_save(day=date(2026, 3, 2) + timedelta(days=n), reason=f"r{n}", actor=superuser)
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    for n in range(2, 8):
        company_day_off_save(day=date(2026, 3, 2) + timedelta(days=n), reason=f"r{n}", actor=superuser)
    with CaptureQueriesContext(connection) as many:
        assert client.get(url).status_code == 200
    assert len(many) == len(few)


# --- statutory holidays' breaks (for the no-sending rules) ---------------------------------
def test_a_statutory_break_runs_over_its_holidays_调休_days_off_and_weekends():
    from crm.workdays import StatutoryHoliday, statutory_break, statutory_break_days

    # Spring Festival 2026 (State Council): 02-15 (Sun) .. 02-23 (Mon), nine days; the
    # make-up Saturdays 02-14 and 02-28 are not in it
    spring = statutory_break_days(date(2026, 2, 1), date(2026, 3, 1), holiday=StatutoryHoliday.SPRING_FESTIVAL)
    assert spring == [date(2026, 2, 15 + n) for n in range(9)]
    # 2023: Mid-Autumn and National Day made one break, 09-29 .. 10-06
    assert statutory_break(date(2023, 10, 3)) == {StatutoryHoliday.MID_AUTUMN, StatutoryHoliday.NATIONAL_DAY}
    assert statutory_break_days(date(2023, 9, 25), date(2023, 10, 10)) == [
        date(2023, 9, 29) + timedelta(days=n) for n in range(8)
    ]
    # an ordinary weekend and a working day are no break
    assert statutory_break(date(2026, 3, 7)) == frozenset() and statutory_break(date(2026, 3, 9)) == frozenset()
    # a one-off holiday the list does not name still makes a break (2015-09-03 .. 09-05)
    assert statutory_break(date(2015, 9, 4)) == {"other"}


@pytest.mark.django_db
def test_a_company_day_off_is_no_statutory_break(supervisor):
    from crm.workdays import statutory_break

    company_day_off_save(day=date(2026, 3, 9), reason="公司年会", actor=supervisor)
    assert not day_info(date(2026, 3, 9)).working and statutory_break(date(2026, 3, 9)) == frozenset()
