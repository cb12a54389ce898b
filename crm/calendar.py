"""The greeting calendar, computed rather than typed in.

Festivals come from the lunar calendar (`lunardate`) or are fixed solar dates.
Birthdays are found through a month-day *key* stored on the player
(`Player.birthday_md`, MMDD as an integer) so that "whose birthday is today" is an
index lookup, never a scan in Python:

* a solar birthday's key is its month and day: 1990-03-07 -> 307;
* a lunar birthday's key is the lunar month and day of the date of birth:
  1990-03-07 is lunar 2/11 -> 211.

For a given day, `birthday_keys_on(day)` answers which keys are greeted. The rules,
documented here and tested in `campaigns/tests/test_calendar.py`:

1. Solar Feb 29 birthdays are greeted on Feb 28 in years without a Feb 29.
2. A lunar birthday is greeted on the solar day whose lunar date has the same month
   and day, i.e. once per lunar year (a lunar date late in the lunar year can fall in
   early January of one solar year and again in late December of the same solar year).
3. A birthday in a leap lunar month (闰月) is greeted in the regular month of the same
   number: its key drops the leap flag, and days inside a leap month greet nobody
   (they were greeted in the regular month, a month earlier).
4. A lunar day 30 that does not exist this year (the month has 29 days) is greeted on
   the month's last day, the 29th.
"""

from __future__ import annotations

import calendar as _stdlib_calendar
from dataclasses import dataclass
from datetime import date, timedelta

from django.db import models
from django.utils.translation import gettext_lazy as _
from lunardate import LunarDate

# LunarDate covers 1900..2099; outside it we return nothing rather than fail.
LUNAR_MIN_YEAR = 1900
LUNAR_MAX_YEAR = 2099


class Festival(models.TextChoices):
    SPRING_FESTIVAL = "spring_festival", _("Spring Festival")
    LANTERN = "lantern", _("Lantern Festival")
    DRAGON_BOAT = "dragon_boat", _("Dragon Boat Festival")
    QIXI = "qixi", _("Qixi Festival")
    MID_AUTUMN = "mid_autumn", _("Mid-Autumn Festival")
    DOUBLE_NINTH = "double_ninth", _("Double Ninth Festival")
    NEW_YEAR = "new_year", _("New Year's Day")
    LABOUR_DAY = "labour_day", _("Labour Day")
    NATIONAL_DAY = "national_day", _("National Day")


# (is_lunar, month, day)
FESTIVAL_RULES: dict[str, tuple[bool, int, int]] = {
    Festival.SPRING_FESTIVAL: (True, 1, 1),
    Festival.LANTERN: (True, 1, 15),
    Festival.DRAGON_BOAT: (True, 5, 5),
    Festival.QIXI: (True, 7, 7),
    Festival.MID_AUTUMN: (True, 8, 15),
    Festival.DOUBLE_NINTH: (True, 9, 9),
    Festival.NEW_YEAR: (False, 1, 1),
    Festival.LABOUR_DAY: (False, 5, 1),
    Festival.NATIONAL_DAY: (False, 10, 1),
}


@dataclass(frozen=True)
class LunarDay:
    year: int
    month: int
    day: int
    is_leap_month: bool


def lunar_of(day: date) -> LunarDay | None:
    """The lunar date of a solar date (None outside the supported range)."""
    try:
        lunar = LunarDate.from_solar_date(day.year, day.month, day.day)
    except ValueError:
        return None
    return LunarDay(lunar.year, lunar.month, lunar.day, lunar.is_leap_month)


_CN_DIGITS = "〇一二三四五六七八九十"


def _cn_number(n: int) -> str:
    """1..30 in Chinese numerals (十一, 二十, 三十)."""
    tens, ones = divmod(n, 10)
    if tens == 0:
        return _CN_DIGITS[ones]
    return ("" if tens == 1 else _CN_DIGITS[tens]) + "十" + (_CN_DIGITS[ones] if ones else "")


def lunar_day_label(lunar: LunarDay) -> str:
    """A lunar date as a person writes it: 农历十一月初七 (闰四月十五) in Chinese,
    "lunar 11/7" (leap 4/15) in other languages."""
    from django.utils.translation import get_language

    if (get_language() or "").startswith("zh"):
        if lunar.day <= 10:
            day = "初" + _cn_number(lunar.day)
        elif lunar.day < 20:
            day = _cn_number(lunar.day)
        elif lunar.day == 20:
            day = "二十"
        elif lunar.day < 30:
            day = "廿" + _CN_DIGITS[lunar.day - 20]
        else:
            day = "三十"
        month = "正" if lunar.month == 1 else _cn_number(lunar.month)
        return f"农历{'闰' if lunar.is_leap_month else ''}{month}月{day}"
    return f"lunar {'leap ' if lunar.is_leap_month else ''}{lunar.month}/{lunar.day}"


def lunar_month_length(year: int, month: int, *, leap: bool = False) -> int:
    """29 or 30: the number of days of a lunar month."""
    try:
        LunarDate(year, month, 30, leap).to_solar_date()
    except ValueError:
        return 29
    return 30


def lunar_to_solar(year: int, month: int, day: int) -> date | None:
    """The solar date of lunar (year, month, day) in the regular month; a day 30 the
    month lacks becomes its last day (rule 4). None outside the supported range."""
    if not LUNAR_MIN_YEAR <= year <= LUNAR_MAX_YEAR:
        return None
    day = min(day, lunar_month_length(year, month))
    try:
        return LunarDate(year, month, day).to_solar_date()
    except ValueError:
        return None


def solar_in_year(year: int, month: int, day: int) -> date:
    """A month and day in a given year; Feb 29 becomes Feb 28 in common years (rule 1)."""
    if month == 2 and day == 29 and not _stdlib_calendar.isleap(year):
        day = 28
    return date(year, month, day)


def md_key(month: int, day: int) -> int:
    return month * 100 + day


def birthday_key(birthday: date | None, is_lunar: bool) -> int | None:
    """The indexed key stored on the player (see the module docstring)."""
    if birthday is None:
        return None
    if not is_lunar:
        return md_key(birthday.month, birthday.day)
    lunar = lunar_of(birthday)
    if lunar is None:  # outside 1900..2099: greet on the solar date instead
        return md_key(birthday.month, birthday.day)
    return md_key(lunar.month, lunar.day)  # a leap month folds into the regular one (rule 3)


def solar_keys_on(day: date) -> list[int]:
    """Month-day keys of solar anniversaries that fall on `day` (rule 1)."""
    keys = [md_key(day.month, day.day)]
    if day.month == 2 and day.day == 28 and not _stdlib_calendar.isleap(day.year):
        keys.append(md_key(2, 29))
    return keys


def lunar_keys_on(day: date) -> list[int]:
    """Lunar month-day keys greeted on `day` (rules 2-4)."""
    lunar = lunar_of(day)
    if lunar is None or lunar.is_leap_month:
        return []
    keys = [md_key(lunar.month, lunar.day)]
    if lunar.day == 29 and lunar_month_length(lunar.year, lunar.month) == 29:
        keys.append(md_key(lunar.month, 30))
    return keys


def birthday_keys_on(day: date) -> tuple[list[int], list[int]]:
    """(solar keys, lunar keys) of the birthdays greeted on `day`."""
    return solar_keys_on(day), lunar_keys_on(day)


def festival_date(festival: str, year: int) -> date | None:
    """The solar date of a festival in a (solar) year."""
    is_lunar, month, day = FESTIVAL_RULES[festival]
    if is_lunar:
        return lunar_to_solar(year, month, day)
    return date(year, month, day)


def yearly_dates(*, is_lunar: bool, month: int, day: int, start: date, end: date) -> list[date]:
    """Every date in [start, end] on which a yearly (solar or lunar) month/day falls."""
    found = []
    for year in range(start.year - 1, end.year + 1):
        try:
            when = lunar_to_solar(year, month, day) if is_lunar else solar_in_year(year, month, day)
        except ValueError:  # a month/day no calendar has (rows written around validation)
            continue
        if when is not None and start <= when <= end:
            found.append(when)
    return sorted(set(found))


def festivals_between(start: date, end: date) -> list[tuple[date, str]]:
    """(date, festival) for every festival in [start, end], in date order."""
    found = []
    for festival, (is_lunar, month, day) in FESTIVAL_RULES.items():
        for when in yearly_dates(is_lunar=is_lunar, month=month, day=day, start=start, end=end):
            found.append((when, festival))
    return sorted(found)


def days(start: date, end: date):
    """Each date from start to end inclusive."""
    current = start
    while current <= end:
        yield current
        current += timedelta(days=1)
