"""Money: Decimal amounts and conversion to the CRM's base currency."""

from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

CENT = Decimal("0.01")


def currency_rate(currency: str) -> Decimal:
    """Units of base currency for one unit of `currency`; ValidationError if unknown."""
    currency = (currency or "").upper()
    if currency == settings.CRM_BASE_CURRENCY:
        return Decimal(1)
    rate = settings.CRM_CURRENCY_RATES.get(currency)
    if rate is None:
        raise ValidationError(
            {
                "currency": _(
                    "Currency %(code)s is not accepted: it is not the base currency and no rate is configured."
                )
                % {"code": currency or "''"}
            },
            code="unknown_currency",
        )
    return Decimal(str(rate))


def to_base(amount: Decimal, currency: str) -> Decimal:
    return (amount * currency_rate(currency)).quantize(CENT, rounding=ROUND_HALF_UP)
