from datetime import date, timedelta

import pytest

from crm.calendar import (
    SOLAR_TERMS,
    Festival,
    LunarDay,
    birthday_key,
    birthday_keys_on,
    festival_date,
    festival_dates,
    festivals_between,
    lunar_date,
    lunar_month_day_label,
    lunar_month_length,
    lunar_of,
    lunar_to_solar,
    solar_terms_in,
    yearly_dates,
)

# Reference table: the official Chinese calendar (State Council holiday notices and
# the Purple Mountain Observatory almanac), typed in by hand, not computed. 除夕 is the
# 29th of the twelfth month in 2025 and 2026 (a 29-day month), the 30th in 2024.
REFERENCE = {
    2024: {
        Festival.SPRING_FESTIVAL: date(2024, 2, 10),
        Festival.LANTERN: date(2024, 2, 24),
        Festival.DRAGON_BOAT: date(2024, 6, 10),
        Festival.QIXI: date(2024, 8, 10),
        Festival.MID_AUTUMN: date(2024, 9, 17),
        Festival.DOUBLE_NINTH: date(2024, 10, 11),
        Festival.NEW_YEARS_EVE: date(2024, 2, 9),
        Festival.LABA: date(2024, 1, 18),
        Festival.XIAONIAN_NORTH: date(2024, 2, 2),
        Festival.XIAONIAN_SOUTH: date(2024, 2, 3),
        Festival.QINGMING: date(2024, 4, 4),
        Festival.DONGZHI: date(2024, 12, 21),
    },
    2025: {
        Festival.SPRING_FESTIVAL: date(2025, 1, 29),
        Festival.LANTERN: date(2025, 2, 12),
        Festival.DRAGON_BOAT: date(2025, 5, 31),
        Festival.QIXI: date(2025, 8, 29),
        Festival.MID_AUTUMN: date(2025, 10, 6),
        Festival.DOUBLE_NINTH: date(2025, 10, 29),
        Festival.NEW_YEARS_EVE: date(2025, 1, 28),
        Festival.LABA: date(2025, 1, 7),
        Festival.XIAONIAN_NORTH: date(2025, 1, 22),
        Festival.XIAONIAN_SOUTH: date(2025, 1, 23),
        Festival.QINGMING: date(2025, 4, 4),
        Festival.DONGZHI: date(2025, 12, 21),
    },
    2026: {
        Festival.SPRING_FESTIVAL: date(2026, 2, 17),
        Festival.LANTERN: date(2026, 3, 3),
        Festival.DRAGON_BOAT: date(2026, 6, 19),
        Festival.QIXI: date(2026, 8, 19),
        Festival.MID_AUTUMN: date(2026, 9, 25),
        Festival.DOUBLE_NINTH: date(2026, 10, 18),
        Festival.NEW_YEARS_EVE: date(2026, 2, 16),
        Festival.LABA: date(2026, 1, 26),
        Festival.XIAONIAN_NORTH: date(2026, 2, 10),
        Festival.XIAONIAN_SOUTH: date(2026, 2, 11),
        Festival.QINGMING: date(2026, 4, 5),
        Festival.DONGZHI: date(2026, 12, 22),
        Festival.LICHUN: date(2026, 2, 4),
        Festival.XIAZHI: date(2026, 6, 21),
    },
    2027: {
        Festival.SPRING_FESTIVAL: date(2027, 2, 6),
        Festival.LANTERN: date(2027, 2, 20),
        Festival.DRAGON_BOAT: date(2027, 6, 9),
        Festival.QIXI: date(2027, 8, 8),
        Festival.MID_AUTUMN: date(2027, 9, 15),
        Festival.DOUBLE_NINTH: date(2027, 10, 8),
        Festival.NEW_YEARS_EVE: date(2027, 2, 5),
        Festival.QINGMING: date(2027, 4, 5),
        Festival.DONGZHI: date(2027, 12, 22),
    },
    2028: {
        Festival.SPRING_FESTIVAL: date(2028, 1, 26),
        Festival.LANTERN: date(2028, 2, 9),
        Festival.DRAGON_BOAT: date(2028, 5, 28),
        Festival.QIXI: date(2028, 8, 26),
        Festival.MID_AUTUMN: date(2028, 10, 3),
        Festival.DOUBLE_NINTH: date(2028, 10, 26),
        Festival.NEW_YEARS_EVE: date(2028, 1, 25),
        Festival.QINGMING: date(2028, 4, 4),
        Festival.DONGZHI: date(2028, 12, 21),
    },
}


@pytest.mark.parametrize(
    ("year", "festival", "expected"),
    [(year, festival, day) for year, table in REFERENCE.items() for festival, day in table.items()],
)
def test_festivals_match_the_reference_table(year, festival, expected):
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

    # then Mid-Autumn, National Day and Double Ninth, in that order (solar terms that
    # are not festivals, 白露 to 霜降, are left out)
    assert found == [
        (date(2026, 9, 25), Festival.MID_AUTUMN),
        (date(2026, 10, 1), Festival.NATIONAL_DAY),
        (date(2026, 10, 18), Festival.DOUBLE_NINTH),
    ]
    # and asked for every solar term, the four of the autumn come in too
    every = festivals_between(date(2026, 9, 1), date(2026, 10, 31), Festival.values)
    assert [f for _day, f in every if f in SOLAR_TERMS] == [
        Festival.BAILU,
        Festival.QIUFEN,
        Festival.HANLU,
        Festival.SHUANGJIANG,
    ]


def test_the_end_of_the_lunar_year_is_its_last_day_29th_or_30th():
    # given the lunar year 2025, whose twelfth month has 29 days, and 2023, whose has 30
    assert lunar_month_length(2025, 12) == 29 and lunar_month_length(2023, 12) == 30
    # then 除夕 is 腊月廿九 in 2026 and 腊月三十 in 2024, each the day before Spring Festival
    eve_2026, eve_2024 = festival_date(Festival.NEW_YEARS_EVE, 2026), festival_date(Festival.NEW_YEARS_EVE, 2024)
    assert lunar_of(eve_2026) == LunarDay(2025, 12, 29, False)
    assert lunar_of(eve_2024) == LunarDay(2023, 12, 30, False)
    assert lunar_date(2025, 12, 30) is None  # no 腊月三十 in 2025
    for eve in (eve_2026, eve_2024):
        assert lunar_of(eve + timedelta(days=1)) == LunarDay(eve.year, 1, 1, False)


def test_every_festival_falls_once_a_year_and_every_solar_term_too():
    for year in (1990, 2026, 2033, 2057, 2100):
        for festival in Festival.values:
            found = festival_dates(festival, date(year, 1, 1), date(year, 12, 31))
            # a lunar festival late in the lunar year may fall twice in a solar year, or
            # (除夕, 腊八, 小年) once in January and once in December
            assert 1 <= len(found) <= 2, (year, festival, found)
        assert len(solar_terms_in(year)) == 24


def test_the_1978_lunar_birthday_the_old_tables_had_wrong():
    # given a player born 1978-09-15: the new moon of 1978-09-03 00:07 China time starts
    # the eighth month on 09-03 (older tables, reckoned on the Beijing meridian, on 09-02)
    assert lunar_of(date(1978, 9, 15)) == LunarDay(1978, 8, 13, False)
    assert birthday_key(date(1978, 9, 15), True) == 813
    # and Mid-Autumn 1978 was 09-17 on the mainland
    assert festival_date(Festival.MID_AUTUMN, 1978) == date(1978, 9, 17)


def test_lunar_dates_read_as_people_write_them():
    from django.utils import translation

    with translation.override("zh-hans"):
        assert lunar_month_day_label(8, 13) == "农历八月十三"
        assert lunar_month_day_label(1, 7) == "农历正月初七"
        assert lunar_month_day_label(4, 21, leap=True) == "农历闰四月廿一"
        assert lunar_month_day_label(12, 30) == "农历十二月三十"
    with translation.override("en"):
        assert lunar_month_day_label(8, 13) == "lunar 8th month, 13th day"
        assert lunar_month_day_label(11, 1) == "lunar 11th month, 1st day"
        assert lunar_month_day_label(4, 22, leap=True) == "lunar leap 4th month, 22nd day"


def test_outside_the_checked_range_nothing_is_invented():
    assert lunar_of(date(1900, 1, 30)) is None and lunar_of(date(2101, 1, 1)) is None
    assert lunar_to_solar(1899, 1, 1) is None and lunar_to_solar(2100, 12, 2) is None  # 12/1 is 2100-12-31
    assert lunar_date(2026, 13, 1) is None and lunar_date(2026, 6, 1, leap=True) is None
    assert birthday_key(date(1899, 5, 6), True) == 506  # greeted on the solar date instead


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
