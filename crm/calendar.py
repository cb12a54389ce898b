"""The greeting calendar, computed rather than typed in.

One source for the Chinese calendar: `sxtwl` (寿星天文历, Xu Jianwei's astronomical
calendar: true new moons and true solar terms, reckoned in China time, months and leap
months by the rules of GB/T 33661-2017 《农历的编算和颁行》; on the Beijing meridian
before 1929 as the calendars of the time were). `crm/tests/test_calendar_reference.py`
checks every day from 1900-01-31 to 2100-12-31 against an independent astronomical
computation and lists the documented disagreements between published tables. Nothing
else in the CRM converts dates: everything goes through the functions here.

Festivals are lunar dates (春节, 元宵, 腊八, 小年...), the last day of the lunar year
(除夕), fixed solar dates (元旦...) or one of the 24 solar terms (清明, 冬至...).
Birthdays are found through a month-day *key* stored on the player
(`Player.birthday_md`, MMDD as an integer) so that "whose birthday is today" is an
index lookup, never a scan in Python:

* a solar birthday's key is its month and day: 1990-03-07 -> 307;
* a lunar birthday's key is the lunar month and day of the date of birth:
  1990-03-07 is lunar 2/11 -> 211.

For a given day, `birthday_keys_on(day)` answers which keys are greeted. The rules,
documented here and tested in `crm/tests/test_calendar.py`:

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
import math
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

import sxtwl
from django.db import models
from django.utils.translation import gettext_lazy as _

# The range the calendar is checked for (lunar 1900/1/1 .. the end of 2100); outside
# it the functions return nothing rather than an unchecked date.
FIRST_DAY = date(1900, 1, 31)
LAST_DAY = date(2100, 12, 31)
LUNAR_MIN_YEAR = 1900
LUNAR_MAX_YEAR = 2100
_JULIAN_DAY_OF_ORDINAL_0 = 1721424.5  # date.fromordinal(1) is Julian day 1721425.5


class Festival(models.TextChoices):
    """The days a Chinese VIP team greets on. The labels are the names a player reads
    in a greeting ("祝您{occasion}快乐"); `FESTIVAL_CHOICES` tells rules apart in forms."""

    SPRING_FESTIVAL = "spring_festival", _("Spring Festival")
    LANTERN = "lantern", _("Lantern Festival")
    DRAGON_BOAT = "dragon_boat", _("Dragon Boat Festival")
    QIXI = "qixi", _("Qixi Festival")
    MID_AUTUMN = "mid_autumn", _("Mid-Autumn Festival")
    DOUBLE_NINTH = "double_ninth", _("Double Ninth Festival")
    NEW_YEAR = "new_year", _("New Year's Day")
    LABOUR_DAY = "labour_day", _("Labour Day")
    NATIONAL_DAY = "national_day", _("National Day")
    NEW_YEARS_EVE = "chuxi", _("Chinese New Year's Eve")
    LABA = "laba", _("Laba Festival")
    XIAONIAN_NORTH = "xiaonian_north", _("Little New Year")
    XIAONIAN_SOUTH = "xiaonian_south", _("Little New Year")
    # The 24 solar terms (二十四节气), in the order of the solar year from 立春.
    LICHUN = "lichun", _("Start of Spring")
    YUSHUI = "yushui", _("Rain Water")
    JINGZHE = "jingzhe", _("Awakening of Insects")
    CHUNFEN = "chunfen", _("Spring Equinox")
    QINGMING = "qingming", _("Qingming Festival")
    GUYU = "guyu", _("Grain Rain")
    LIXIA = "lixia", _("Start of Summer")
    XIAOMAN = "xiaoman", _("Grain Buds")
    MANGZHONG = "mangzhong", _("Grain in Ear")
    XIAZHI = "xiazhi", _("Summer Solstice")
    XIAOSHU = "xiaoshu", _("Minor Heat")
    DASHU = "dashu", _("Major Heat")
    LIQIU = "liqiu", _("Start of Autumn")
    CHUSHU = "chushu", _("End of Heat")
    BAILU = "bailu", _("White Dew")
    QIUFEN = "qiufen", _("Autumn Equinox")
    HANLU = "hanlu", _("Cold Dew")
    SHUANGJIANG = "shuangjiang", _("Frost's Descent")
    LIDONG = "lidong", _("Start of Winter")
    XIAOXUE = "xiaoxue", _("Minor Snow")
    DAXUE = "daxue", _("Major Snow")
    DONGZHI = "dongzhi", _("Winter Solstice")
    XIAOHAN = "xiaohan", _("Minor Cold")
    DAHAN = "dahan", _("Major Cold")


# The solar terms by sxtwl's index: 0 is 冬至 (the sun at 270°), each next one 15° on.
SOLAR_TERMS: tuple[str, ...] = (
    Festival.DONGZHI,
    Festival.XIAOHAN,
    Festival.DAHAN,
    Festival.LICHUN,
    Festival.YUSHUI,
    Festival.JINGZHE,
    Festival.CHUNFEN,
    Festival.QINGMING,
    Festival.GUYU,
    Festival.LIXIA,
    Festival.XIAOMAN,
    Festival.MANGZHONG,
    Festival.XIAZHI,
    Festival.XIAOSHU,
    Festival.DASHU,
    Festival.LIQIU,
    Festival.CHUSHU,
    Festival.BAILU,
    Festival.QIUFEN,
    Festival.HANLU,
    Festival.SHUANGJIANG,
    Festival.LIDONG,
    Festival.XIAOXUE,
    Festival.DAXUE,
)
_TERM_INDEX = {term: index for index, term in enumerate(SOLAR_TERMS)}

# How each festival falls: ("lunar", month, day), ("solar", month, day),
# ("year_end",) for the last day of the lunar year, ("term", sxtwl index).
FESTIVAL_RULES: dict[str, tuple] = {
    Festival.SPRING_FESTIVAL: ("lunar", 1, 1),
    Festival.LANTERN: ("lunar", 1, 15),
    Festival.DRAGON_BOAT: ("lunar", 5, 5),
    Festival.QIXI: ("lunar", 7, 7),
    Festival.MID_AUTUMN: ("lunar", 8, 15),
    Festival.DOUBLE_NINTH: ("lunar", 9, 9),
    Festival.NEW_YEAR: ("solar", 1, 1),
    Festival.LABOUR_DAY: ("solar", 5, 1),
    Festival.NATIONAL_DAY: ("solar", 10, 1),
    Festival.NEW_YEARS_EVE: ("year_end",),
    Festival.LABA: ("lunar", 12, 8),
    Festival.XIAONIAN_NORTH: ("lunar", 12, 23),
    Festival.XIAONIAN_SOUTH: ("lunar", 12, 24),
    **{term: ("term", index) for index, term in enumerate(SOLAR_TERMS)},
}

# Festivals shown on a manager's week: all but the solar terms that are not festivals (清明 and
# 冬至 are); the others show when an active greeting rule greets on them.
TRADITIONAL_FESTIVALS: tuple[str, ...] = tuple(
    f for f in Festival.values if f not in SOLAR_TERMS or f in (Festival.QINGMING, Festival.DONGZHI)
)


def festival_choice_label(festival: str):
    """A festival's name where rules are told apart (forms, the manager's week)."""
    if festival == Festival.XIAONIAN_NORTH:
        return _("Little New Year (north: 23rd of the 12th month)")
    if festival == Festival.XIAONIAN_SOUTH:
        return _("Little New Year (south: 24th of the 12th month)")
    return Festival(festival).label


# The festival field's choices in forms: the festivals, then the solar terms.
FESTIVAL_CHOICES = [
    (_("Festivals"), [(f, festival_choice_label(f)) for f in Festival.values if f not in SOLAR_TERMS]),
    (_("The 24 solar terms"), [(f, Festival(f).label) for f in Festival.values if f in SOLAR_TERMS]),
]


@dataclass(frozen=True)
class LunarDay:
    year: int
    month: int
    day: int
    is_leap_month: bool


def _in_range(day: date) -> bool:
    return FIRST_DAY <= day <= LAST_DAY


def lunar_of(day: date) -> LunarDay | None:
    """The lunar date of a solar date (None outside the checked range)."""
    if not _in_range(day):
        return None
    found = sxtwl.fromSolar(day.year, day.month, day.day)
    return LunarDay(found.getLunarYear(), found.getLunarMonth(), found.getLunarDay(), bool(found.isLunarLeap()))


def leap_month_of(year: int) -> int:
    """The number of the leap month of a lunar year (0 when it has none)."""
    return sxtwl.getRunMonth(year) if LUNAR_MIN_YEAR <= year <= LUNAR_MAX_YEAR else 0


def lunar_month_length(year: int, month: int, *, leap: bool = False) -> int:
    """29 or 30: the number of days of a lunar month."""
    return sxtwl.getLunarMonthNum(year, month, leap)


def lunar_date(year: int, month: int, day: int, *, leap: bool = False) -> date | None:
    """The solar date of an exact lunar date; None when it does not exist (a day 30 of
    a 29-day month, a leap month the year lacks) or lies outside the checked range."""
    if not (LUNAR_MIN_YEAR <= year <= LUNAR_MAX_YEAR and 1 <= month <= 12 and 1 <= day <= 30):
        return None
    if (leap and leap_month_of(year) != month) or day > lunar_month_length(year, month, leap=leap):
        return None
    found = sxtwl.fromLunar(year, month, day, leap)
    solar = date(found.getSolarYear(), found.getSolarMonth(), found.getSolarDay())
    return solar if _in_range(solar) else None


def lunar_to_solar(year: int, month: int, day: int) -> date | None:
    """The solar date of lunar (year, month, day) in the regular month; a day 30 the
    month lacks becomes its last day (rule 4). None outside the checked range."""
    if not (LUNAR_MIN_YEAR <= year <= LUNAR_MAX_YEAR and 1 <= month <= 12 and 1 <= day <= 30):
        return None
    return lunar_date(year, month, min(day, lunar_month_length(year, month)))


def lunar_new_years_eve(year: int) -> date | None:
    """除夕 of lunar year `year`: the day before the next lunar new year (the 29th or
    the 30th of the twelfth month, whichever is the last)."""
    new_year = lunar_date(year + 1, 1, 1)
    return new_year - timedelta(days=1) if new_year else None


def _date_of_julian_day(jd: float) -> date:
    return date.fromordinal(math.floor(jd - _JULIAN_DAY_OF_ORDINAL_0))


@lru_cache(maxsize=256)
def _term_table(year: int) -> tuple[tuple[str, date], ...]:
    """sxtwl's solar terms from 立春 of `year` to 立春 of the next year."""
    return tuple((SOLAR_TERMS[t.jqIndex], _date_of_julian_day(t.jd)) for t in sxtwl.getJieQiByYear(year))


def solar_terms_in(year: int) -> dict[str, date]:
    """The 24 solar terms of a solar year: {term: the day (China time) it begins}."""
    if not LUNAR_MIN_YEAR <= year <= LUNAR_MAX_YEAR:
        return {}
    return {term: when for table in (year - 1, year) for term, when in _term_table(table) if when.year == year}


def solar_term_on(day: date) -> str | None:
    """The solar term that begins on `day`, if one does."""
    for term, when in solar_terms_in(day.year).items():
        if when == day:
            return term
    return None


_CN_DIGITS = "〇一二三四五六七八九十"


def _cn_number(n: int) -> str:
    """1..30 in Chinese numerals (十一, 二十, 三十)."""
    tens, ones = divmod(n, 10)
    if tens == 0:
        return _CN_DIGITS[ones]
    return ("" if tens == 1 else _CN_DIGITS[tens]) + "十" + (_CN_DIGITS[ones] if ones else "")


def _ordinal(n: int) -> str:
    suffix = "th" if 11 <= n % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def lunar_month_day_label(month: int, day: int, *, leap: bool = False) -> str:
    """A lunar month and day as a person writes it: 农历八月十三, 农历闰四月十五, 农历正月初七
    in Chinese; "lunar 8th month, 13th day" (leap 4th month) in other languages."""
    from django.utils.translation import get_language

    if (get_language() or "").startswith("zh"):
        if day <= 10:
            day_text = "初" + _cn_number(day)
        elif day < 20:
            day_text = _cn_number(day)
        elif day == 20:
            day_text = "二十"
        elif day < 30:
            day_text = "廿" + _CN_DIGITS[day - 20]
        else:
            day_text = "三十"
        month_text = "正" if month == 1 else _cn_number(month)
        return f"农历{'闰' if leap else ''}{month_text}月{day_text}"
    return f"lunar {'leap ' if leap else ''}{_ordinal(month)} month, {_ordinal(day)} day"


def lunar_day_label(lunar: LunarDay) -> str:
    """A lunar date as a person writes it (see `lunar_month_day_label`)."""
    return lunar_month_day_label(lunar.month, lunar.day, leap=lunar.is_leap_month)


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
    if lunar is None:  # outside 1900..2100: greet on the solar date instead
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


def lunar_birthday_dates(birthday: date, year: int) -> tuple[LunarDay | None, list[date]]:
    """A lunar birthday's lunar date of birth and the solar dates on which it is
    greeted in solar year `year` (once, or twice for a date late in the lunar year)."""
    born = lunar_of(birthday)
    if born is None:
        return None, []
    found = yearly_dates(is_lunar=True, month=born.month, day=born.day, start=date(year, 1, 1), end=date(year, 12, 31))
    return born, found


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


def festival_dates(festival: str, start: date, end: date) -> list[date]:
    """Every date in [start, end] on which a festival falls."""
    rule = FESTIVAL_RULES[Festival(festival)]
    if rule[0] == "term":
        term = SOLAR_TERMS[rule[1]]
        found = (solar_terms_in(year).get(term) for year in range(start.year, end.year + 1))
        return sorted(when for when in found if when is not None and start <= when <= end)
    if rule[0] == "year_end":
        found = (lunar_new_years_eve(year) for year in range(start.year - 1, end.year + 1))
        return sorted(when for when in found if when is not None and start <= when <= end)
    kind, month, day = rule
    return yearly_dates(is_lunar=kind == "lunar", month=month, day=day, start=start, end=end)


def festival_next(festival: str, on_or_after: date) -> date | None:
    """The festival's first day on or after a day (None past the checked range)."""
    found = festival_dates(festival, on_or_after, on_or_after + timedelta(days=400))
    return found[0] if found else None


def festival_is_lunar(festival: str) -> bool:
    """Whether a festival is kept by the lunar calendar (春节, 除夕...; not 元旦 or 清明)."""
    return festival in Festival.values and FESTIVAL_RULES[Festival(festival)][0] in ("lunar", "year_end")


def festival_date(festival: str, year: int) -> date | None:
    """The solar date of a festival in a solar year (the first, should it fall twice)."""
    found = festival_dates(festival, date(year, 1, 1), date(year, 12, 31))
    return found[0] if found else None


def festivals_between(start: date, end: date, festivals=TRADITIONAL_FESTIVALS) -> list[tuple[date, str]]:
    """(date, festival) for every festival in [start, end], in date order (by default
    the traditional festivals; pass `Festival.values` for every solar term too)."""
    found = []
    for festival in festivals:
        found.extend((when, festival) for when in festival_dates(festival, start, end))
    return sorted(found)


def days(start: date, end: date):
    """Each date from start to end inclusive."""
    current = start
    while current <= end:
        yield current
        current += timedelta(days=1)
