"""What a record's `source` reference ("greeting:3:20261207", "case:17:1", "campaign:2",
"task:5", "message:9", "churn:2026-11-03", "top-spender:20261116") means to a person: one place that reads them,
for every list and page that shows where a task, message, gift or contact came from.
Numbers only (rule, campaign and case numbers are what the lists show), so a list page
costs no query per row."""

from __future__ import annotations

from datetime import date

from django.utils.formats import date_format
from django.utils.translation import gettext as _


def _day(text: str) -> str:
    digits = text.replace("-", "")
    try:
        return date_format(date(int(digits[:4]), int(digits[4:6]), int(digits[6:8])), "Y-m-d")
    except (ValueError, IndexError):
        return text


def _greeting(parts):
    text = _("greeting rule #%(rule)s") % {"rule": parts[0]}
    return f"{text} · {_day(parts[1])}" if len(parts) > 1 else text


def _numbered(label):
    return lambda parts: f"{label()} #{parts[0]}"


READERS = {
    "greeting": _greeting,
    "campaign": _numbered(lambda: _("campaign")),
    "case": _numbered(lambda: _("case")),
    "task": _numbered(lambda: _("outreach task")),
    "message": _numbered(lambda: _("message")),
    "churn": lambda parts: _("win-back for the spell since %(day)s") % {"day": _day(parts[0])},
    "top-spender": lambda parts: _("top spenders of the half month from %(day)s") % {"day": _day(parts[0])},
}


def source_text(source: str) -> str:
    """The reference in words; an empty string for none. Unknown prefixes are shown as
    they are (they come from an integration that named them)."""
    if not source:
        return ""
    prefix, _sep, rest = source.partition(":")
    reader = READERS.get(prefix)
    if reader is None or not rest:
        return source
    return reader(rest.split(":"))
