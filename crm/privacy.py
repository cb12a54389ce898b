"""Masking of personal data for staff without players.view_personal_data."""

import re

PERSONAL_DATA_PERMISSION = "players.view_personal_data"


def can_view_personal_data(user) -> bool:
    return bool(user and user.has_perm(PERSONAL_DATA_PERMISSION))


def personal_fields(model) -> tuple[str, ...]:
    """The fields of `model` that hold personal data or are computed from it: a model
    declares them as PERSONAL_FIELDS (shown masked) and PERSONAL_DERIVED_FIELDS (never
    shown, e.g. the birthday's MMDD index key)."""
    return (*getattr(model, "PERSONAL_FIELDS", ()), *getattr(model, "PERSONAL_DERIVED_FIELDS", ()))


def lookup_reaches_personal_data(model, lookup: str) -> bool:
    """Whether a queryset lookup such as "phone__startswith", "player__birthday__year" or
    "-player__qq" (ordering) on `model` compares or orders by a personal field, directly or
    through relations. Unknown names end the walk (Django ignores or refuses them)."""
    from django.core.exceptions import FieldDoesNotExist

    for part in lookup.lstrip("-").split("__"):
        try:
            field = model._meta.get_field(part)
        except FieldDoesNotExist:
            return False
        if part in personal_fields(model) or field.name in personal_fields(model):
            return True
        if not field.is_relation or field.related_model is None:
            return False
        model = field.related_model
    return False


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


# Free text (case descriptions, contact summaries, feedback) may carry personal data
# that staff typed in: phone numbers, ID-card or QQ numbers, e-mail addresses.
_LONG_NUMBER_RE = re.compile(r"(?<!\d)(?:\+\d{1,3}[\s-]?)?\d(?:[\s-]?\d){6,}[Xx]?(?![\dXx])")
_EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


_DATE_RE = re.compile(r"\d{4}-\d{1,2}-\d{1,2}")


def _mask_number(match) -> str:
    text = match.group(0)
    if _DATE_RE.fullmatch(text):  # a date, not a number
        return text
    digits = "".join(ch for ch in text if ch.isdigit() or ch in "Xx")
    if digits.startswith("86") and len(digits) == 13 and text.lstrip().startswith("+"):
        digits = digits[2:]
    if len(digits) >= 11:
        return f"{digits[:3]}{'*' * (len(digits) - 7)}{digits[-4:]}"
    return f"{digits[:2]}{'*' * (len(digits) - 4)}{digits[-2:]}"


def mask_free_text(text: str) -> str:
    """Hide numbers of seven or more digits (phones, ID cards, QQ) and e-mail addresses
    inside free text: '电话13812345678' -> '电话138****5678'."""
    if not text:
        return ""
    text = _EMAIL_RE.sub(lambda m: mask_email(m.group(0)), str(text))
    return _LONG_NUMBER_RE.sub(_mask_number, text)


def free_text_for(user, text: str) -> str:
    """Free text as this user may see it in a list."""
    return str(text or "") if can_view_personal_data(user) else mask_free_text(text)


def viewer_attach(obj, user):
    """Say who looks at `obj`, so that its label (`label_text`) is in clear for a viewer
    who may see personal data. The admin does it for the object of a change, delete or
    history page."""
    if obj is not None:
        obj._viewer = user
    return obj


def label_text(obj, text: str) -> str:
    """Free text in a record's label (its __str__): in clear only for a viewer attached with
    `viewer_attach` who may see personal data, masked everywhere else (page titles,
    breadcrumbs, checkbox labels, choices, raw-id labels, autocomplete answers, delete
    confirmations, messages, e-mails), whoever reads it."""
    return free_text_for(getattr(obj, "_viewer", None), text)
