from datetime import UTC, date, datetime, timedelta

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# The range of every time a game reports (payments, logins, registration), whatever the
# door (API, imports, admin forms). Outside it a value is a client bug, and one far in the
# future cannot even be shown in local time (9999-12-31 in UTC overflows at +08:00).
GAME_TIME_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
GAME_TIME_MAX_FUTURE = timedelta(hours=24)
BIRTHDAY_EARLIEST = date(1900, 1, 1)


def validate_game_time(value, *, now: datetime | None = None) -> None:
    """An event or profile time from a game (`occurred_at`, `registered_at`,
    `last_login_at`): aware, not before 2000-01-01, not more than 24 h after `now`
    (default: the server's clock). None passes (the field's own `null` decides)."""
    if value is None:
        return
    if not isinstance(value, datetime) or timezone.is_naive(value):
        raise ValidationError(_("Must be a date and time with a UTC offset."), code="naive_datetime")
    try:
        in_utc = value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise ValidationError(_("Must be between 2000-01-01 and 24 hours from now."), code="out_of_range") from None
    if in_utc < GAME_TIME_EARLIEST:
        raise ValidationError(_("Must not be before 2000-01-01."), code="too_early")
    if in_utc > (now or timezone.now()) + GAME_TIME_MAX_FUTURE:
        raise ValidationError(_("More than 24 hours in the future."), code="future_datetime")


def validate_not_future(value):
    if value and value > timezone.localdate():
        raise ValidationError(_("This date is in the future."), code="future_date")


def validate_birthday(value) -> None:
    """A date of birth: not before 1900-01-01, not after today."""
    if value is None:
        return
    if value < BIRTHDAY_EARLIEST:
        raise ValidationError(_("Must not be before 1900-01-01."), code="too_early")
    validate_not_future(value)
