"""The working-days calendar: which days and hours the team works, and arithmetic on
working time. One place for it: SLAs on working hours, "no marketing on these days"
rules and the dashboard's week ask here.

A day is a working day when

* the company has not declared it a day off (`CompanyDayOff`, edited by supervisors in
  the admin), and
* it is not a statutory holiday of mainland China and is a weekday, or it is a make-up
  working day (调休, a weekend day the State Council moved work onto) — both from the
  `holidays` package (`holidays.China`: its `is_working_day` knows the published
  schedules; for years the State Council has not yet published it estimates the
  holidays from the lunar calendar).

The working hours of a working day are `CRM_WORKING_HOURS` (local time, `TIME_ZONE`),
e.g. ``09:00-18:00`` or ``09:00-12:00,13:30-18:00`` for a lunch break.

A statutory holiday's *break* (放假) is the run of consecutive days off by the statutory
calendar around it: the holidays, the 调休 days off and the weekend days between or beside
them (Spring Festival 2026: 02-15 .. 02-23, nine days). `statutory_break(day)` names the
holidays whose break holds a day; the "no marketing on these days" rules
(`campaigns.NoSendDay`) ask it, so a holiday needs no second copy as a list of dates.

`working_add(moment, seconds=...)` moves a moment by working time (negative: back);
`working_seconds_between(a, b)` counts the working time between two moments. Both
accept any moment, inside working hours or not: 2 working hours from Friday 17:00
with 09:00–18:00 hours is Monday 10:00 (if Monday works).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import holidays
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import models, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

DEFAULT_WORKING_HOURS = "09:00-18:00"
# A working-time sum never looks further than this many days (a guard against a
# calendar without any working day, e.g. every day declared off).
HORIZON_DAYS = 3 * 366

_SPAN = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


class DayKind:
    WORKDAY = "workday"
    WEEKEND = "weekend"
    HOLIDAY = "holiday"
    MAKE_UP = "make_up"  # 调休: a weekend day worked
    COMPANY_OFF = "company_off"

    LABELS = {
        WORKDAY: gettext_lazy("Working day"),
        WEEKEND: gettext_lazy("Weekend"),
        HOLIDAY: gettext_lazy("Statutory holiday"),
        MAKE_UP: gettext_lazy("Make-up working day"),
        COMPANY_OFF: gettext_lazy("Company day off"),
    }


@dataclass(frozen=True)
class Day:
    day: date
    kind: str
    name: str = ""  # the holiday's or the company day off's name, in the reader's language

    @property
    def working(self) -> bool:
        return self.kind in (DayKind.WORKDAY, DayKind.MAKE_UP)

    @property
    def label(self) -> str:
        return str(DayKind.LABELS[self.kind])


def working_hours_parse(text: str) -> tuple[tuple[time, time], ...]:
    """ "09:00-12:00,13:30-18:00" -> ((09:00, 12:00), (13:30, 18:00)); spans in order,
    not overlapping, each at least a minute. Raises ValueError naming the bad span."""
    spans = []
    for part in (text or "").split(","):
        match = _SPAN.match(part)
        if not match:
            raise ValueError(f"not a span like 09:00-18:00: {part.strip()!r}")
        h1, m1, h2, m2 = (int(x) for x in match.groups())
        if h2 == 24 and m2 == 0:
            h2, m2 = 23, 59  # "-24:00": to the end of the day
        try:
            start, end = time(h1, m1), time(h2, m2)
        except ValueError:
            raise ValueError(f"not a time of day: {part.strip()!r}") from None
        if end <= start:
            raise ValueError(f"the span ends before it starts: {part.strip()!r}")
        if spans and start < spans[-1][1]:
            raise ValueError(f"spans overlap or are out of order: {part.strip()!r}")
        spans.append((start, end))
    return tuple(spans)


@functools.lru_cache(maxsize=8)
def _hours_from(text: str) -> tuple[tuple[time, time], ...]:
    try:
        return working_hours_parse(text)
    except ValueError as exc:
        raise ImproperlyConfigured(f"CRM_WORKING_HOURS: {exc}") from None


def working_hours() -> tuple[tuple[time, time], ...]:
    return _hours_from(getattr(settings, "CRM_WORKING_HOURS", DEFAULT_WORKING_HOURS) or DEFAULT_WORKING_HOURS)


def working_hours_text() -> str:
    return ", ".join(f"{a:%H:%M}–{b:%H:%M}" for a, b in working_hours())


@functools.lru_cache(maxsize=64)
def _statutory(year: int, language: str) -> holidays.HolidayBase:
    return holidays.China(years=year, language=language)


def _holiday_language() -> str:
    return "zh_CN" if (translation.get_language() or "").lower().startswith("zh") else "en_US"


class _Calendar:
    """One computation's view of the calendar: the company's days off are read once per
    year touched (one query each)."""

    def __init__(self):
        self._company: dict[int, dict[date, str]] = {}

    def company_days_off(self, year: int) -> dict[date, str]:
        if year not in self._company:
            from .models import CompanyDayOff

            self._company[year] = dict(
                CompanyDayOff.objects.filter(day__year=year).values_list("day", "reason").order_by("day")
            )
        return self._company[year]

    def day(self, day: date, *, company_days_off: bool = True) -> Day:
        company = self.company_days_off(day.year) if company_days_off else {}
        if day in company:
            return Day(day, DayKind.COMPANY_OFF, company[day] or str(DayKind.LABELS[DayKind.COMPANY_OFF]))
        statutory = _statutory(day.year, _holiday_language())
        if day in statutory:
            return Day(day, DayKind.HOLIDAY, statutory.get(day))
        if day.weekday() >= 5:
            if statutory.is_working_day(day):
                return Day(day, DayKind.MAKE_UP)
            holidays = statutory_break(day)
            if holidays:  # a weekend inside a holiday's break (放假) is part of the holiday
                names = [str(StatutoryHoliday(h).label) for h in sorted(holidays) if h in StatutoryHoliday.values]
                return Day(day, DayKind.HOLIDAY, " · ".join(names))
            return Day(day, DayKind.WEEKEND)
        return Day(day, DayKind.WORKDAY)

    def spans(self, day: date) -> list[tuple[datetime, datetime]]:
        if not self.day(day).working:
            return []
        zone = timezone.get_default_timezone()
        return [
            (datetime.combine(day, a, tzinfo=zone), datetime.combine(day, b, tzinfo=zone)) for a, b in working_hours()
        ]


def day_info(day: date) -> Day:
    return _Calendar().day(day)


def statutory_day_info(day: date) -> Day:
    """The day as the statutory calendar has it, whatever the company declared."""
    return _Calendar().day(day, company_days_off=False)


def days_between(first: date, last: date) -> list[Day]:
    calendar = _Calendar()
    return [calendar.day(first + timedelta(days=n)) for n in range((last - first).days + 1)]


def is_working_day(day: date) -> bool:
    return day_info(day).working


def _local_date(moment: datetime) -> date:
    return timezone.localtime(moment).date()


def working_add(moment: datetime, *, seconds: float = 0, hours: float = 0) -> datetime:
    """The moment `hours` + `seconds` of working time after `moment` (before it when
    negative)."""
    remaining = float(seconds) + float(hours) * 3600
    if remaining == 0:
        return moment
    calendar = _Calendar()
    day = _local_date(moment)
    step = 1 if remaining > 0 else -1
    remaining = abs(remaining)
    for _n in range(HORIZON_DAYS):
        spans = calendar.spans(day)
        for start, end in spans if step > 0 else reversed(spans):
            if step > 0:
                start = max(start, moment)
                if end <= start:
                    continue
                length = (end - start).total_seconds()
                if remaining <= length:
                    return start + timedelta(seconds=remaining)
            else:
                end = min(end, moment)
                if end <= start:
                    continue
                length = (end - start).total_seconds()
                if remaining <= length:
                    return end - timedelta(seconds=remaining)
            remaining -= length
        day += timedelta(days=step)
    raise ValidationError(_("No working time within three years: check the company days off."))


def working_seconds_between(start: datetime, end: datetime) -> int:
    """Working seconds from `start` to `end` (negative when `end` comes first)."""
    if end < start:
        return -working_seconds_between(end, start)
    calendar = _Calendar()
    total = 0.0
    day, last = _local_date(start), _local_date(end)
    while day <= last:
        for a, b in calendar.spans(day):
            a, b = max(a, start), min(b, end)
            if b > a:
                total += (b - a).total_seconds()
        day += timedelta(days=1)
    return int(total)


# --- statutory holidays and their breaks ------------------------------------------------------
class StatutoryHoliday(models.TextChoices):
    """The holidays of the State Council's schedule (全国年节及纪念日放假办法)."""

    NEW_YEAR = "new_year", gettext_lazy("New Year's Day")
    SPRING_FESTIVAL = "spring_festival", gettext_lazy("Spring Festival")
    QINGMING = "qingming", gettext_lazy("Qingming Festival")
    LABOUR_DAY = "labour_day", gettext_lazy("Labour Day")
    DRAGON_BOAT = "dragon_boat", gettext_lazy("Dragon Boat Festival")
    MID_AUTUMN = "mid_autumn", gettext_lazy("Mid-Autumn Festival")
    NATIONAL_DAY = "national_day", gettext_lazy("National Day")


# The `holidays` package's English names (" (observed)" removed); a holiday it names
# otherwise (a one-off such as 2015-09-03) still makes a break, of no listed holiday.
_HOLIDAY_OF_NAME = {
    "New Year's Day": StatutoryHoliday.NEW_YEAR,
    "Chinese New Year's Eve": StatutoryHoliday.SPRING_FESTIVAL,
    "Chinese New Year (Spring Festival)": StatutoryHoliday.SPRING_FESTIVAL,
    "Chinese New Year Extended Holiday": StatutoryHoliday.SPRING_FESTIVAL,
    "Tomb-Sweeping Day": StatutoryHoliday.QINGMING,
    "Labor Day": StatutoryHoliday.LABOUR_DAY,
    "Dragon Boat Festival": StatutoryHoliday.DRAGON_BOAT,
    "Mid-Autumn Festival": StatutoryHoliday.MID_AUTUMN,
    "National Day": StatutoryHoliday.NATIONAL_DAY,
}
OTHER_HOLIDAY = "other"
_LONGEST_BREAK = 15  # days; the longest ever was 10 (Spring Festival 2020 was extended)


def _statutory_off(day: date) -> bool:
    statutory = _statutory(day.year, "en_US")
    return day in statutory or (day.weekday() >= 5 and not statutory.is_working_day(day))


@functools.lru_cache(maxsize=4096)
def statutory_break(day: date) -> frozenset[str]:
    """The statutory holidays (`StatutoryHoliday` values, `OTHER_HOLIDAY` for one the list
    lacks) whose break holds `day`; empty on a working day or an ordinary weekend.
    Company days off are not statutory and play no part."""
    if not _statutory_off(day):
        return frozenset()
    run = [day]
    for step in (-1, 1):
        other = day + timedelta(days=step)
        while len(run) < _LONGEST_BREAK and _statutory_off(other):
            run.append(other)
            other += timedelta(days=step)
    found = set()
    for other in run:
        statutory = _statutory(other.year, "en_US")
        if other not in statutory:
            continue
        for name in statutory.get_list(other):
            if name.startswith("Day off"):  # a 调休 day off: part of the break, not a holiday of its own
                continue
            found.add(_HOLIDAY_OF_NAME.get(name.removesuffix(" (observed)"), OTHER_HOLIDAY))
    if not found and any(other in _statutory(other.year, "en_US") for other in run):
        found.add(OTHER_HOLIDAY)  # only 调休 days off in sight: a break whose holiday lies beyond the window
    return frozenset(found)


def statutory_break_days(first: date, last: date, *, holiday: str | None = None) -> list[date]:
    """The days in [first, last] in the break of `holiday` (of any statutory holiday: None)."""
    found = []
    for n in range((last - first).days + 1):
        day = first + timedelta(days=n)
        holidays = statutory_break(day)
        if holidays and (holiday is None or holiday in holidays):
            found.append(day)
    return found


# --- the clock of a rule: round the clock or working hours ----------------------------------
class Clock:
    ROUND_THE_CLOCK = "round_the_clock"
    WORKING_HOURS = "working_hours"

    CHOICES = [
        (ROUND_THE_CLOCK, gettext_lazy("Round the clock")),
        (WORKING_HOURS, gettext_lazy("Working hours")),
    ]


def clock_add(clock: str, moment: datetime, *, seconds: float = 0, hours: float = 0) -> datetime:
    if clock == Clock.WORKING_HOURS:
        return working_add(moment, seconds=seconds, hours=hours)
    return moment + timedelta(seconds=float(seconds) + float(hours) * 3600)


def clock_seconds_between(clock: str, start: datetime, end: datetime) -> int:
    if clock == Clock.WORKING_HOURS:
        return working_seconds_between(start, end)
    return int((end - start).total_seconds())


# --- the company's days off: the one writer ----------------------------------------------------
@transaction.atomic
def company_day_off_save(*, day: date, reason: str = "", actor=None, instance=None):
    """Declare (or edit) a company day off. One per date."""
    from .models import CompanyDayOff

    record = instance or CompanyDayOff()
    record.day = day
    record.reason = (reason or "").strip()
    if record.created_by_id is None and actor is not None:
        record.created_by = actor
    record.full_clean()
    record.save()
    return record


@transaction.atomic
def company_day_off_delete(*, record, actor=None) -> None:
    record.delete()
