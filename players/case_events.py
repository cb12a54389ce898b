"""What a case event says to a person: one sentence in their language, with labels
instead of codes and local times instead of ISO strings. The case page and the player
timeline both show it."""

from __future__ import annotations

from datetime import datetime

from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from crm.formatting import money, when
from crm.workdays import Clock

from .models import CaseEvent, CaseEventType
from .models.privacy import ERASED_CLOSE_REASON
from .models.service_records import CASE_CHECKLISTS, Case, CaseCategory, CaseSeverity, CaseStatus


def _time(value) -> str:
    moment = parse_datetime(value) if isinstance(value, str) else value
    return when(moment) if isinstance(moment, datetime) else "-"


def _label(choices, value) -> str:
    return str(dict(choices).get(value, value or "-"))


def _sla(parameters: dict) -> str:
    if parameters.get("due") is None:
        return ""
    text = _("reply due %(due)s (%(hours)s h)") % {
        "due": _time(parameters["due"]),
        "hours": parameters.get("sla_hours", "-"),
    }
    if parameters.get("clock") == Clock.WORKING_HOURS:
        text += " " + _("(working hours)")
    if parameters.get("first_response_due"):
        text += " · " + _("first answer due %(due)s") % {"due": _time(parameters["first_response_due"])}
    return text


def _field_label(name: str) -> str:
    try:
        return str(Case._meta.get_field(name).verbose_name)
    except Exception:  # a field since removed: its name is all we have
        return name


def case_event_text(event: CaseEvent) -> str:
    p = event.parameters or {}
    statuses = CaseStatus.choices
    if event.type == CaseEventType.OPENED:
        parts = [
            _label(CaseCategory.choices, p.get("category")),
            _label(CaseSeverity.choices, p.get("severity")),
            _sla(p),
        ]
        return " · ".join(x for x in parts if x)
    if event.type in (CaseEventType.STATUS, CaseEventType.REOPENED):
        text = f"{_label(statuses, p.get('from'))} → {_label(statuses, p.get('to'))}"
        if p.get("erased"):
            return f"{text}: {ERASED_CLOSE_REASON}"
        return f"{text}: {p['note']}" if p.get("note") else text
    if event.type == CaseEventType.ASSIGNED:
        text = f"{(p.get('from') or {}).get('name', '-')} → {(p.get('to') or {}).get('name', '-')}"
        return f"{text}: {p['note']}" if p.get("note") else text
    if event.type == CaseEventType.EDITED:
        text = _("changed: %(fields)s") % {"fields": "、".join(_field_label(f) for f in p.get("fields", []))}
        if p.get("after"):
            after = p["after"]
            text += " · " + " · ".join(
                (
                    _label(CaseCategory.choices, after.get("category")),
                    _label(CaseSeverity.choices, after.get("severity")),
                )
            )
        sla = _sla(p)
        return f"{text} · {sla}" if sla else text
    if event.type == CaseEventType.ESCALATED:
        minutes = int(p.get("overdue_minutes") or 0)
        hours = minutes // 60
        text = _("was due %(due)s; overdue by %(overdue)s") % {
            "due": _time(p.get("due")),
            "overdue": ngettext("%(n)d hour", "%(n)d hours", hours) % {"n": hours}
            if hours
            else ngettext("%(n)d minute", "%(n)d minutes", minutes) % {"n": minutes},
        }
        if p.get("level") == "head":
            return _("to the head of service") + " · " + text
        if p.get("head_at"):
            text += " · " + _("the head of service is told %(at)s") % {"at": _time(p["head_at"])}
        return text
    if event.type == CaseEventType.NOTIFIED:
        count = int(p.get("recipients") or 0)
        if p.get("level") == "head":
            return ngettext("%(n)d head of service e-mailed", "%(n)d heads of service e-mailed", count) % {"n": count}
        return ngettext("%(n)d supervisor e-mailed", "%(n)d supervisors e-mailed", count) % {"n": count}
    if event.type == CaseEventType.REPLIED:
        return p.get("text", "")
    if event.type in (CaseEventType.PROPOSED, CaseEventType.APPROVED, CaseEventType.REFUSED):
        value = p.get("value")
        what = " ".join(x for x in (p.get("item", ""), money(value) if value not in (None, "") else "") if x)
        if event.type == CaseEventType.PROPOSED:
            if p.get("waits"):
                what += " · " + _("waits for a supervisor's approval (above %(threshold)s)") % {
                    "threshold": money(p.get("threshold"))
                }
            return f"{what}: {p['reason']}" if p.get("reason") else what
        return f"{what}: {p['note']}" if p.get("note") else what
    if event.type == CaseEventType.NOTE:
        return p.get("text", "")
    if event.type == CaseEventType.CHECKLIST:
        steps = dict(CASE_CHECKLISTS.get(p.get("category", ""), []))
        parts = []
        if p.get("ticked"):
            parts.append(_("done: %(steps)s") % {"steps": "; ".join(str(steps.get(s, s)) for s in p["ticked"])})
        if p.get("unticked"):
            parts.append(_("undone: %(steps)s") % {"steps": "; ".join(str(steps.get(s, s)) for s in p["unticked"])})
        return " · ".join(parts)
    if event.type == CaseEventType.SATISFACTION:
        return " ".join(x for x in (f"{p.get('score')}/5", p.get("note", "")) if x)
    if event.type == CaseEventType.COMPENSATED:
        value = p.get("value")
        return " ".join(x for x in (p.get("item", ""), money(value) if value not in (None, "") else "") if x)
    return ""
