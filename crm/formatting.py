"""How money and times look to people."""

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


def when(value) -> str:
    if value is None:
        return "-"
    return date_format(timezone.localtime(value), "Y-m-d H:i")
