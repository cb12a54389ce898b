"""Checking event values in plain Python, fast enough for batches of a thousand.

The API (single events and batches) and imports hand raw values (strings from JSON
or a file, or already typed values) to these cleaners; each returns the typed values
and a dict of errors keyed by the API's field names. `payment_event_clean` is the one
check of a payment's values: the API's single events and batches, imports and
`ledger.payment_record` (typed values) all come through it.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from crm.money import CENT, to_base

from ..models import PaymentKind
from ..validators import validate_game_time

MAX_AMOUNT = Decimal("1000000")
NOT_ALLOWED = re.compile("[\x00\ud800-\udfff]")  # NUL and lone surrogates: PostgreSQL refuses both
PAYMENT_KINDS = frozenset(PaymentKind.values)


def _text(raw: dict, name: str, errors: dict, *, max_length: int, required: bool = False) -> str:
    value = raw.get(name)
    if value is None or value == "":
        if required:
            errors[name] = [_("This field is required.")]
        return ""
    if not isinstance(value, str):
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        else:
            errors[name] = [_("Must be a string.")]
            return ""
    if NOT_ALLOWED.search(value):
        errors[name] = [_("Contains characters that are not allowed.")]
        return ""
    value = value.strip()
    if required and not value:
        errors[name] = [_("This field is required.")]
    elif len(value) > max_length:
        errors[name] = [_("At most %(n)d characters.") % {"n": max_length}]
    return value


def event_id_echo(value) -> str | None:
    """An event id as an error may repeat it to the client: only text that can be
    written back (no NUL, no lone surrogate, at most 128 characters), else None."""
    if isinstance(value, str) and len(value) <= 128 and not NOT_ALLOWED.search(value):
        return value
    return None


def aware_datetime(value, name: str, errors: dict, *, now: datetime | None = None) -> datetime | None:
    """An ISO 8601 string with a UTC offset (or an aware datetime) -> aware datetime,
    within the range of a game's times (`validate_game_time`)."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str) and len(value) <= 64:
        try:
            parsed = parse_datetime(value.strip())
        except ValueError:
            parsed = None
        if parsed is None:
            errors[name] = [_("Must be an ISO 8601 date and time, e.g. 2026-11-22T10:00:00+08:00.")]
            return None
    elif value is None or value == "":
        errors[name] = [_("This field is required.")]
        return None
    else:
        errors[name] = [_("Must be an ISO 8601 date and time, e.g. 2026-11-22T10:00:00+08:00.")]
        return None
    try:
        validate_game_time(parsed, now=now)
    except ValidationError as exc:
        errors[name] = exc.messages
        return None
    return parsed


def _amount(value, errors: dict) -> Decimal | None:
    if value is None or value == "":
        errors["amount"] = [_("This field is required.")]
        return None
    if isinstance(value, bool):
        errors["amount"] = [_("Must be a decimal number.")]
        return None
    if isinstance(value, float):
        value = repr(value)
    if isinstance(value, int):
        value = str(value)
    if isinstance(value, Decimal):
        amount = value
    elif isinstance(value, str) and len(value) <= 32:
        try:
            amount = Decimal(value.strip())
        except InvalidOperation:
            amount = None
    else:
        amount = None
    if amount is None or not amount.is_finite():
        errors["amount"] = [_("Must be a decimal number.")]
        return None
    if amount <= 0:
        errors["amount"] = [_("Must be greater than 0.")]
    elif amount > MAX_AMOUNT:
        errors["amount"] = [_("At most 1,000,000.")]
    elif amount != amount.quantize(CENT):
        errors["amount"] = [_("At most 2 decimal places.")]
    else:
        return amount.quantize(CENT)
    return None


def payment_event_clean(raw, *, now: datetime | None = None) -> tuple[dict | None, dict]:
    """One payment event as the API or an import gives it -> (the keyword arguments
    of `payment_record` less source/actor, errors by field). `type` or `kind` names
    the kind of event."""
    if not isinstance(raw, dict):
        return None, {"non_field_errors": [_("Each event must be a JSON object.")]}
    now = now or timezone.now()
    errors: dict = {}
    event_id = _text(raw, "event_id", errors, max_length=128, required=True)
    account_id = _text(raw, "account_id", errors, max_length=64, required=True)
    server = _text(raw, "server", errors, max_length=32)
    kind = raw.get("type", raw.get("kind"))
    if not isinstance(kind, str) or kind not in PAYMENT_KINDS:
        errors["type"] = [_("Must be 'purchase' or 'refund'.")]
    amount = _amount(raw.get("amount"), errors)
    currency = _text(raw, "currency", errors, max_length=3, required=True).upper()
    occurred_at = aware_datetime(raw.get("occurred_at"), "occurred_at", errors, now=now)
    order_id = _text(raw, "order_id", errors, max_length=128)
    product = _text(raw, "product", errors, max_length=200)
    refund_of = _text(raw, "refund_of", errors, max_length=128)
    amount_base = None
    if amount is not None and "currency" not in errors:
        try:
            amount_base = to_base(amount, currency)
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if errors:
        return None, errors
    return {
        "event_id": event_id,
        "account_id": account_id,
        "server": server,
        "kind": kind,
        "amount": amount,
        "amount_base": amount_base,
        "currency": currency,
        "occurred_at": occurred_at,
        "order_id": order_id,
        "product": product,
        "refund_of": refund_of,
    }, {}


def login_event_clean(raw, *, now: datetime | None = None) -> tuple[dict | None, dict]:
    if not isinstance(raw, dict):
        return None, {"non_field_errors": [_("Each event must be a JSON object.")]}
    now = now or timezone.now()
    errors: dict = {}
    account_id = _text(raw, "account_id", errors, max_length=64, required=True)
    server = _text(raw, "server", errors, max_length=32)
    occurred_at = aware_datetime(raw.get("occurred_at"), "occurred_at", errors, now=now)
    if errors:
        return None, errors
    return {"account_id": account_id, "server": server, "occurred_at": occurred_at}, {}
