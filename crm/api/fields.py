from datetime import datetime

from rest_framework import serializers

from players.services.events import aware_datetime


class AwareDateTimeField(serializers.DateTimeField):
    """ISO 8601 with a UTC offset; a time without one is refused, not guessed."""

    def to_internal_value(self, value):
        if isinstance(value, datetime):
            value = value.isoformat()
        errors: dict = {}
        parsed = aware_datetime(value, "value", errors)
        if errors:
            raise serializers.ValidationError(errors["value"])
        return parsed


def text_is_clean(value: str) -> bool:
    """No NUL and no lone surrogates: what a database or an encoder would choke on."""
    return "\x00" not in value and not any("\ud800" <= ch <= "\udfff" for ch in value)
