"""How money and times look to people."""

from datetime import UTC, datetime
from decimal import Decimal

from django.conf import settings
from django.contrib.humanize.templatetags.humanize import intcomma
from django.utils import timezone
from django.utils.formats import date_format

CURRENCY_SYMBOLS = {"CNY": "¥", "USD": "$", "HKD": "HK$", "TWD": "NT$", "EUR": "€", "JPY": "¥", "KRW": "₩"}


def money(amount, currency: str | None = None) -> str:
    if amount is None:
        return "-"
    currency = currency or settings.CRM_BASE_CURRENCY
    symbol = CURRENCY_SYMBOLS.get(currency, currency + " ")
    value = Decimal(amount).quantize(Decimal("0.01"))
    sign = "-" if value < 0 else ""
    return f"{sign}{symbol}{intcomma(f'{abs(value):.2f}', use_l10n=False)}"


# Django's own, kept here so that installing ours in their place cannot recurse.
_django_localtime = getattr(timezone.localtime, "__wrapped__", timezone.localtime)
_django_make_naive = getattr(timezone.make_naive, "__wrapped__", timezone.make_naive)


def local_time(value: datetime | None = None, timezone=None) -> datetime:
    """`timezone.localtime`, except that a time the zone cannot write (a stored value
    within hours of year 1 or 9999, which no door accepts today) is given in UTC instead
    of raising OverflowError: showing a stored value must never fail a page."""
    try:
        return _django_localtime(value, timezone)
    except OverflowError:
        return value.astimezone(UTC)


def naive_local_time(value: datetime, timezone=None) -> datetime:
    """`timezone.make_naive` (what a form field shows), with the same fallback to UTC."""
    try:
        return _django_make_naive(value, timezone)
    except OverflowError:
        return value.astimezone(UTC).replace(tzinfo=None)


local_time.__wrapped__ = _django_localtime
naive_local_time.__wrapped__ = _django_make_naive


def local_time_install() -> None:
    """Put `local_time` and `naive_local_time` in the place of Django's: they are the one
    place every display of a time goes through (templates and the admin's lists and
    read-only fields by template_localtime, form widgets by to_current_timezone, our own
    `when` and the API's `api_datetime`)."""
    timezone.localtime = local_time
    timezone.make_naive = naive_local_time


def when(value) -> str:
    if value is None:
        return "-"
    return date_format(local_time(value), "Y-m-d H:i")


def when_short(value, today=None) -> str:
    """A time as a list cell shows it at laptop width: "12-06 14:43" this year (local
    time, no seconds, no year), "2025-06-07" (the date) in another year; "-" for none.
    The full `when` goes into the cell's tooltip (crm.admin_columns)."""
    if value is None:
        return "-"
    local = local_time(value)
    today = today or timezone.localdate()
    return date_format(local, "m-d H:i" if local.year == today.year else "Y-m-d")


def date_short(value, today=None) -> str:
    """A date in a list cell: "12-06" this year, "2025-12-06" in another; "-" for none."""
    if value is None:
        return "-"
    today = today or timezone.localdate()
    return date_format(value, "m-d" if value.year == today.year else "Y-m-d")
