from datetime import date

import pytest

from crm.calendar import (
    Festival,
    birthday_key,
    birthday_keys_on,
    festival_date,
    festivals_between,
    lunar_month_length,
    lunar_of,
    lunar_to_solar,
    yearly_dates,
)

# Reference table: the official Chinese calendar (State Council holiday notices and
# the Purple Mountain Observatory almanac), typed in by hand, not computed.
REFERENCE = {
    2024: {
        Festival.SPRING_FESTIVAL: date(2024, 2, 10),
        Festival.LANTERN: date(2024, 2, 24),
        Festival.DRAGON_BOAT: date(2024, 6, 10),
        Festival.QIXI: date(2024, 8, 10),
        Festival.MID_AUTUMN: date(2024, 9, 17),
        Festival.DOUBLE_NINTH: date(2024, 10, 11),
    },
    2025: {
        Festival.SPRING_FESTIVAL: date(2025, 1, 29),
        Festival.LANTERN: date(2025, 2, 12),
        Festival.DRAGON_BOAT: date(2025, 5, 31),
        Festival.QIXI: date(2025, 8, 29),
        Festival.MID_AUTUMN: date(2025, 10, 6),
        Festival.DOUBLE_NINTH: date(2025, 10, 29),
    },
    2026: {
        Festival.SPRING_FESTIVAL: date(2026, 2, 17),
        Festival.LANTERN: date(2026, 3, 3),
        Festival.DRAGON_BOAT: date(2026, 6, 19),
        Festival.QIXI: date(2026, 8, 19),
        Festival.MID_AUTUMN: date(2026, 9, 25),
        Festival.DOUBLE_NINTH: date(2026, 10, 18),
    },
    2027: {
        Festival.SPRING_FESTIVAL: date(2027, 2, 6),
        Festival.LANTERN: date(2027, 2, 20),
        Festival.DRAGON_BOAT: date(2027, 6, 9),
        Festival.QIXI: date(2027, 8, 8),
        Festival.MID_AUTUMN: date(2027, 9, 15),
        Festival.DOUBLE_NINTH: date(2027, 10, 8),
    },
    2028: {
        Festival.SPRING_FESTIVAL: date(2028, 1, 26),
        Festival.LANTERN: date(2028, 2, 9),
        Festival.DRAGON_BOAT: date(2028, 5, 28),
        Festival.QIXI: date(2028, 8, 26),
        Festival.MID_AUTUMN: date(2028, 10, 3),
        Festival.DOUBLE_NINTH: date(2028, 10, 26),
    },
}


@pytest.mark.parametrize(
    ("year", "festival", "expected"),
    [(year, festival, day) for year, table in REFERENCE.items() for festival, day in table.items()],
)
def test_lunar_festivals_match_the_reference_table(year, festival, expected):
    assert festival_date(festival, year) == expected


@pytest.mark.parametrize("year", [2024, 2025, 2026, 2027, 2028])
def test_solar_festivals_are_fixed_dates(year):
    assert festival_date(Festival.NEW_YEAR, year) == date(year, 1, 1)
    assert festival_date(Festival.LABOUR_DAY, year) == date(year, 5, 1)
    assert festival_date(Festival.NATIONAL_DAY, year) == date(year, 10, 1)


def test_the_issue_examples():
    assert festival_date(Festival.SPRING_FESTIVAL, 2027) == date(2027, 2, 6)
    assert festival_date(Festival.MID_AUTUMN, 2026) == date(2026, 9, 25)


def test_festivals_between_lists_each_in_date_order():
    # given the autumn of 2026
    found = festivals_between(date(2026, 9, 1), date(2026, 10, 31))

    # then Mid-Autumn, National Day and Double Ninth, in that order
    assert found == [
        (date(2026, 9, 25), Festival.MID_AUTUMN),
        (date(2026, 10, 1), Festival.NATIONAL_DAY),
        (date(2026, 10, 18), Festival.DOUBLE_NINTH),
    ]


def test_solar_birthday_key_is_month_and_day():
    assert birthday_key(date(1990, 3, 7), False) == 307
    assert birthday_key(None, False) is None


def test_lunar_birthday_key_is_the_lunar_month_and_day_of_birth():
    # 1990-03-07 was lunar 1990/2/11
    assert lunar_of(date(1990, 3, 7)).month == 2
    assert birthday_key(date(1990, 3, 7), True) == 211


def test_lunar_birthday_is_greeted_on_this_years_solar_date():
    # given a player born 1990-03-07, lunar 2/11; in 2026 lunar 2/11 is 2026-03-29
    key = birthday_key(date(1990, 3, 7), True)
    assert lunar_to_solar(2026, 2, 11) == date(2026, 3, 29)

    # then the key is greeted on 2026-03-29 and not on 2026-03-07
    assert key in birthday_keys_on(date(2026, 3, 29))[1]
    assert key not in birthday_keys_on(date(2026, 3, 7))[1]


def test_feb_29_is_greeted_on_feb_28_in_common_years():
    key = birthday_key(date(2000, 2, 29), False)
    assert key == 229
    assert key in birthday_keys_on(date(2026, 2, 28))[0]
    assert key not in birthday_keys_on(date(2028, 2, 28))[0]  # 2028 has a Feb 29
    assert key in birthday_keys_on(date(2028, 2, 29))[0]
    assert 228 in birthday_keys_on(date(2026, 2, 28))[0]


def test_a_lunar_30th_missing_this_year_is_greeted_on_the_months_last_day():
    # given someone born on lunar 1990/12/30 (a 30-day month that year)
    born = lunar_to_solar(1990, 12, 30)
    assert lunar_month_length(1990, 12) == 30
    key = birthday_key(born, True)
    assert key == 1230
    # and lunar month 12 of 2025 has only 29 days
    assert lunar_month_length(2025, 12) == 29
    last_day = lunar_to_solar(2025, 12, 29)
    assert last_day == date(2026, 2, 16)

    # then they are greeted on lunar 2025/12/29, the eve of Spring Festival 2026
    assert key in birthday_keys_on(last_day)[1]
    # and in a year whose month has a 30th, on the 30th, not the 29th
    assert lunar_month_length(2029, 12) == 30
    assert key not in birthday_keys_on(lunar_to_solar(2029, 12, 29))[1]
    assert key in birthday_keys_on(lunar_to_solar(2029, 12, 30))[1]


def test_a_leap_month_birthday_is_greeted_in_the_regular_month():
    # given someone born in leap month 6 of 2025 (闰六月初八 = 2025-08-01)
    born = date(2025, 8, 1)
    assert lunar_of(born).is_leap_month and (lunar_of(born).month, lunar_of(born).day) == (6, 8)

    # then the key drops the leap flag
    key = birthday_key(born, True)
    assert key == 608
    # and it is greeted on regular 6/8 (2026-07-21), never on a day of a leap month
    assert key in birthday_keys_on(date(2026, 7, 21))[1]
    assert birthday_keys_on(born)[1] == []  # days inside a leap month greet nobody
    assert key in birthday_keys_on(lunar_to_solar(2025, 6, 8))[1]  # regular 6/8 of 2025


def test_yearly_lunar_dates_can_fall_twice_in_one_solar_year():
    # lunar 11/15 falls in early January and in late December of 2026
    found = yearly_dates(is_lunar=True, month=11, day=15, start=date(2026, 1, 1), end=date(2026, 12, 31))
    assert len(found) == 2
    assert found[0].month == 1 and found[1].month == 12


def test_an_impossible_date_yields_nothing_instead_of_failing():
    assert yearly_dates(is_lunar=False, month=13, day=1, start=date(2026, 1, 1), end=date(2026, 12, 31)) == []
    assert yearly_dates(is_lunar=True, month=13, day=1, start=date(2026, 1, 1), end=date(2026, 12, 31)) == []
    assert yearly_dates(is_lunar=False, month=4, day=31, start=date(2026, 1, 1), end=date(2026, 12, 31)) == []
