"""Masking of personal data for staff without players.view_personal_data."""

PERSONAL_DATA_PERMISSION = "players.view_personal_data"


def can_view_personal_data(user) -> bool:
    return bool(user and user.has_perm(PERSONAL_DATA_PERMISSION))


def mask_phone(value) -> str:
    """+8613812345678 -> 138****5678 (national number, middle four hidden)."""
    if not value:
        return ""
    national = str(getattr(value, "national_number", "") or value)
    digits = "".join(ch for ch in national if ch.isdigit())
    if len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    if len(digits) < 7:
        return "*" * len(digits)
    return f"{digits[:3]}****{digits[-4:]}"


def mask_name(value: str) -> str:
    """张三丰 -> 张**; Alice -> A****."""
    if not value:
        return ""
    return value[0] + "*" * max(len(value) - 1, 1)


def mask_email(value: str) -> str:
    if not value:
        return ""
    local, _, domain = value.partition("@")
    return f"{local[:1]}***@{domain}" if domain else mask_name(value)


def mask_generic(value) -> str:
    """QQ, WeChat id: keep the first and last character."""
    text = str(value or "")
    if not text:
        return ""
    if len(text) <= 2:
        return "*" * len(text)
    return f"{text[0]}{'*' * (len(text) - 2)}{text[-1]}"


def mask_date(value) -> str:
    return "****-**-**" if value else ""


MASKERS = {
    "real_name": mask_name,
    "phone": mask_phone,
    "qq": mask_generic,
    "wechat": mask_generic,
    "email": mask_email,
    "birthday": mask_date,
}


def masked(field: str, value) -> str:
    return MASKERS[field](value)
