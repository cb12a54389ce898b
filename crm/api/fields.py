from datetime import UTC, datetime

from crm.formatting import local_time


def text_is_clean(value: str) -> bool:
    """No NUL and no lone surrogates: what a database or an encoder would choke on."""
    return "\x00" not in value and not any("\ud800" <= ch <= "\udfff" for ch in value)


def api_datetime(value: datetime | None) -> str | None:
    """ISO 8601 in the CRM's time zone, or in UTC where that zone's offset then had
    seconds (local mean time before standard time): always valid RFC 3339."""
    if value is None:
        return None
    local = local_time(value)
    offset = local.utcoffset()
    if offset is None or offset.total_seconds() % 60:
        local = value.astimezone(UTC)
    text = local.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text
