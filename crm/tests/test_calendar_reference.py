"""The calendar source (`sxtwl`, through crm.calendar) checked against an independent
astronomical computation over its whole range, day by day, in one pass.

The reference is PyEphem (libastro: VSOP87 for the sun, ELP 2000-82 for the moon),
which shares no code or tables with 寿星天文历, and the rules of GB/T 33661-2017 applied
to it here:

* a month begins on the day (China time) of a new moon;
* the month holding the winter solstice is the eleventh;
* when thirteen months run from one eleventh month to the next, the first of them
  without a principal term (中气: the sun at a multiple of 30°) is the leap month and
  repeats the number before it;
* days are reckoned in China time, UTC+8 (the 120°E meridian), for the whole range.

Every day from lunar 1900/1/1 (1900-01-31) to 2100-12-31 and every solar term of 1900..2100
must agree, except the disagreements listed below with their reason; the list is exact (a
new disagreement, or a listed one gone, fails the test). The documented disagreements
between *published tables* are listed too, each with the date our calendar gives and why.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pytest

from crm.calendar import FIRST_DAY, LAST_DAY, SOLAR_TERMS, Festival, LunarDay, days, lunar_of, solar_terms_in

ephem = pytest.importorskip("ephem", reason="PyEphem (requirements-dev.txt) computes the astronomical reference")

CHINA_TIME = timedelta(hours=8)
TROPICAL_YEAR = 365.2422


def _local(moment: float) -> datetime:
    return ephem.Date(moment).datetime() + CHINA_TIME


def _sun_longitude(moment: float) -> float:
    """The sun's apparent geocentric ecliptic longitude of date, in degrees."""
    sun = ephem.Sun()
    sun.compute(moment, epoch=moment)
    return math.degrees(ephem.Ecliptic(ephem.Equatorial(sun.g_ra, sun.g_dec, epoch=moment), epoch=moment).lon)


def _term_moment(longitude: float, guess: float) -> float:
    moment = guess
    for _ in range(20):
        miss = (longitude - _sun_longitude(moment) + 180) % 360 - 180
        moment += miss * TROPICAL_YEAR / 360
        if abs(miss) < 1e-6:
            break
    return moment


@dataclass
class Reference:
    new_moons: list[datetime]  # local time
    terms: dict[date, int]  # local day -> sxtwl index (0 = 冬至, the sun at 270°)
    months: list[tuple[date, int, int, bool]]  # (first day, lunar year, month, leap)

    def __post_init__(self):
        self.month_starts = [start for start, *_rest in self.months]

    def lunar_of(self, day: date) -> LunarDay:
        i = bisect.bisect_right(self.month_starts, day) - 1
        start, year, month, leap = self.months[i]
        return LunarDay(year, month, (day - start).days + 1, leap)


@pytest.fixture(scope="module")
def reference() -> Reference:
    new_moons, moment = [], ephem.Date(datetime(1899, 10, 1))
    while moment < ephem.Date(datetime(2101, 3, 1)):
        moment = ephem.next_new_moon(moment)
        new_moons.append(_local(moment))
        moment = ephem.Date(moment + 1)
    terms = {}
    for year in range(1899, 2102):
        spring = float(ephem.Date(datetime(year, 3, 20)))
        for k in range(24):  # the sun at 270° + 15k
            longitude = (270 + 15 * k) % 360
            moment = _term_moment(longitude, spring + (longitude % 360) * TROPICAL_YEAR / 360)
            terms[_local(moment).date()] = k
    starts = [moon.date() for moon in new_moons]
    principal_days = sorted(d for d, k in terms.items() if k % 2 == 0)

    def has_principal_term(i: int) -> bool:
        j = bisect.bisect_left(principal_days, starts[i])
        return j < len(principal_days) and principal_days[j] < starts[i + 1]

    solstices = sorted(d for d, k in terms.items() if k == 0)
    months = []
    for this, following in zip(solstices, solstices[1:], strict=False):
        first = bisect.bisect_right(starts, this) - 1  # the eleventh month
        last = bisect.bisect_right(starts, following) - 1  # the next eleventh month
        leap_pending = last - first == 13
        year, month = this.year, 11
        months.append((starts[first], year, month, False))
        for i in range(first + 1, last):
            if leap_pending and not has_principal_term(i):
                leap_pending = False
                months.append((starts[i], year, month, True))
                continue
            month = month % 12 + 1
            year = this.year + (1 if month < 11 else 0)
            months.append((starts[i], year, month, False))
    return Reference(new_moons, terms, months)


# Days on which our calendar and the reference disagree, and why: three months before 1929,
# when China's calendars were reckoned on the Beijing meridian (116°25′E, local mean time
# UTC+7:45:40; Reingold & Dershowitz, *Calendrical Calculations*, ch. 19) and a new moon
# in the first 14 minutes after midnight at 120°E was on the evening before there. sxtwl
# follows the calendars issued at the time; the reference applies 120°E to every year.
BEIJING_MERIDIAN_MONTHS = [
    (date(1914, 11, 17), date(1914, 12, 16)),  # sxtwl 10/1..10/30, the reference 9/30, 10/1..
    (date(1916, 2, 3), date(1916, 3, 3)),  # sxtwl 1916/1/1.., the reference 1915/12/30, 1/1..
    (date(1920, 11, 10), date(1920, 12, 9)),  # sxtwl 10/1..10/30, the reference 9/30, 10/1..
]
LUNAR_DISAGREEMENTS = {day for first, last in BEIJING_MERIDIAN_MONTHS for day in days(first, last)}

# Solar terms on which they disagree (term, our day): (the reference's day, why).
TERM_DISAGREEMENTS: dict[tuple[str, date], tuple[date, str]] = {
    (Festival.DONGZHI, date(1951, 12, 23)): (
        date(1951, 12, 22),
        "the solstice is at midnight to a few seconds (00:00:01 by sxtwl, 23:59:57 by PyEphem),"
        " closer than two ephemerides agree; it moves no month",
    ),
}


@dataclass(frozen=True)
class PublishedDisagreement:
    first_day: date  # the first of the 30 days on which published tables differ
    ours: LunarDay  # what our calendar (and the reference) says on that day
    others: str  # which tables say otherwise, and what
    why: str


# Documented disagreements between published tables (the Hong Kong Observatory's
# conversion tables, the almanacs of the time, `lunardate`, `LunarCalendar`, `tyme4py`).
PUBLISHED_DISAGREEMENTS = [
    PublishedDisagreement(
        date(1914, 11, 17),
        LunarDay(1914, 10, 1, False),
        "GB/T 33661's 120°E applied backwards: 9/30",
        "new moon 00:01 on 11-18 at 120°E, 23:47 on 11-17 on the Beijing meridian the calendar then used",
    ),
    PublishedDisagreement(
        date(1916, 2, 3),
        LunarDay(1916, 1, 1, False),
        "GB/T 33661's 120°E applied backwards: 1915/12/30 (Spring Festival a day later)",
        "new moon 00:05 on 02-04 at 120°E, 23:51 on 02-03 on the Beijing meridian",
    ),
    PublishedDisagreement(
        date(1920, 11, 10),
        LunarDay(1920, 10, 1, False),
        "GB/T 33661's 120°E applied backwards: 9/30",
        "new moon 00:05 on 11-11 at 120°E, 23:50 on 11-10 on the Beijing meridian",
    ),
    PublishedDisagreement(
        date(1933, 7, 23),
        LunarDay(1933, 6, 1, False),
        "lunardate: 6/2 (its sixth month begins on 07-22)",
        "new moon 00:03 on 07-23 at 120°E (the standard since 1929); 07-22 only on the old Beijing meridian",
    ),
    PublishedDisagreement(
        date(1954, 11, 25),
        LunarDay(1954, 11, 1, False),
        "lunardate: 10/30",
        "new moon 20:30 on 11-25: an error in lunardate's table, no calendar of the time has it",
    ),
    PublishedDisagreement(
        date(1978, 9, 3),
        LunarDay(1978, 8, 1, False),
        "lunardate and the Hong Kong almanacs of 1978: 8/2 (Mid-Autumn on 09-16 in Hong Kong, 09-17 on the mainland)",
        "new moon 00:07 on 09-03 at 120°E; 23:53 on 09-02 on the Beijing meridian the old almanacs used",
    ),
    PublishedDisagreement(
        date(2057, 9, 28),
        LunarDay(2057, 9, 1, False),
        "Hong Kong Observatory, LunarCalendar, tyme4py: 8/30",
        "new moon at midnight to a minute: 23:59:50 by PyEphem and sxtwl, 00:00:44 on 09-29 by JPL DE440"
        " with the measured ΔT; the Observatory warns the date is uncertain",
    ),
    PublishedDisagreement(
        date(2089, 9, 4),
        LunarDay(2089, 8, 1, False),
        "Hong Kong Observatory, LunarCalendar: 7/30",
        "new moon 23:57 on 09-04 China time; the Observatory warns the date is uncertain",
    ),
    PublishedDisagreement(
        date(2097, 8, 7),
        LunarDay(2097, 7, 1, False),
        "Hong Kong Observatory, LunarCalendar: 6/30",
        "new moon 23:59 on 08-07 China time; the Observatory warns the date is uncertain",
    ),
]


def test_every_day_from_1900_to_2100_agrees_with_the_astronomical_reference(reference):
    # given every day of the range our calendar covers
    disagreements = {}
    for day in days(FIRST_DAY, LAST_DAY):
        ours, theirs = lunar_of(day), reference.lunar_of(day)
        if ours != theirs:
            disagreements[day] = (ours, theirs)

    # then our calendar and the reference agree on every one, except the listed days
    assert set(disagreements) == LUNAR_DISAGREEMENTS, sorted(disagreements.items())[:10]
    assert len(LUNAR_DISAGREEMENTS) == 90 and (LAST_DAY - FIRST_DAY).days + 1 == 73_384


def test_every_solar_term_from_1900_to_2100_agrees_with_the_astronomical_reference(reference):
    theirs_by_year: dict[int, dict[str, date]] = {}
    for day, index in reference.terms.items():
        theirs_by_year.setdefault(day.year, {})[SOLAR_TERMS[index]] = day
    disagreements = {}
    for year in range(1900, 2101):
        ours, theirs = solar_terms_in(year), theirs_by_year[year]
        assert len(ours) == 24
        for term, day in ours.items():
            if theirs.get(term) != day:
                disagreements[(term, day)] = theirs.get(term)
    assert disagreements == {key: day for key, (day, _why) in TERM_DISAGREEMENTS.items()}


@pytest.mark.parametrize("case", PUBLISHED_DISAGREEMENTS, ids=lambda case: case.first_day.isoformat())
def test_documented_disagreements_between_published_tables(case, reference):
    # our calendar gives the GB/T 33661 date (before 1929: on the meridian of its time)
    assert lunar_of(case.first_day) == case.ours
    # and so does the reference, but for the Beijing-meridian months it reckons at 120°E
    assert (reference.lunar_of(case.first_day) == case.ours) == (case.first_day not in LUNAR_DISAGREEMENTS)
    # and each is a new moon within minutes of a midnight, but for lunardate's 1954 error
    moon = min(reference.new_moons, key=lambda m: abs(m - datetime.combine(case.first_day, datetime.min.time())))
    to_midnight = min(
        moon - datetime.combine(moon.date(), datetime.min.time()),
        timedelta(days=1) - (moon - datetime.combine(moon.date(), datetime.min.time())),
    )
    assert (to_midnight < timedelta(minutes=15)) == (case.first_day.year != 1954)
    assert case.others and case.why
