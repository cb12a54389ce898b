"""The range of a game's times, the one rule every door (API, imports, admin) calls."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from players.validators import validate_birthday, validate_game_time

NOW = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "value",
    [
        datetime(2000, 1, 1, tzinfo=UTC),
        datetime(2000, 1, 1, 8, 0, tzinfo=timezone.get_fixed_timezone(480)),
        NOW,
        NOW + timedelta(hours=24),
        None,
    ],
)
def test_times_between_2000_and_a_day_ahead_pass(value):
    validate_game_time(value, now=NOW)


@pytest.mark.parametrize(
    ("value", "code"),
    [
        (datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC), "future_datetime"),
        (datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone.get_fixed_timezone(-720)), "out_of_range"),
        (NOW + timedelta(hours=24, seconds=1), "future_datetime"),
        (datetime(1999, 12, 31, 23, 59, 59, tzinfo=UTC), "too_early"),
        (datetime(2000, 1, 1, 7, 59, tzinfo=timezone.get_fixed_timezone(480)), "too_early"),
        (datetime(1, 1, 1, tzinfo=UTC), "too_early"),
        (datetime(2026, 11, 22), "naive_datetime"),
        (date(2026, 11, 22), "naive_datetime"),
    ],
)
def test_times_outside_the_range_are_refused_with_a_reason(value, code):
    with pytest.raises(ValidationError) as refused:
        validate_game_time(value, now=NOW)

    assert refused.value.code == code and refused.value.messages[0]


def test_the_future_is_measured_from_the_servers_clock_by_default():
    validate_game_time(timezone.now() + timedelta(hours=23))
    with pytest.raises(ValidationError):
        validate_game_time(timezone.now() + timedelta(hours=25))


@pytest.mark.parametrize("value", [date(1899, 12, 31), timezone.localdate() + timedelta(days=1), date(9999, 12, 31)])
def test_birthdays_before_1900_or_after_today_are_refused(value):
    with pytest.raises(ValidationError):
        validate_birthday(value)


def test_a_birthday_in_range_passes():
    validate_birthday(date(1900, 1, 1))
    validate_birthday(timezone.localdate())
