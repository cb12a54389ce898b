"""The kinds of events on the player timeline, one function each.

Every query filters on the player first and orders by the time field descending,
which the per-player indexes (payment_player_recent, contact_player_recent,
tierchange_player_recent, assignment_player_recent, the foreign keys' indexes for
tasks and messages) serve; each returns at most `limit` rows.
"""

from __future__ import annotations

from django.utils.text import Truncator
from django.utils.translation import gettext as _

from campaigns.models import Message, MessageStatus, OutreachTask, TaskStatus
from crm.formatting import money
from crm.names import staff_name
from crm.privacy import free_text_for
from players.case_events import case_event_text
from players.models import (
    CaseEvent,
    CaseEventType,
    CaseStatus,
    ContactLog,
    PayerStatus,
    PayerStatusChange,
    Payment,
    PaymentKind,
)
from players.models.payer_status import ChurnReason
from vip.models import ManagerAssignment, TierChange

from .registry import admin_url
from .timeline import Entry, timeline_source


def _name(user) -> str:
    return staff_name(user)


def _by(user, why: str = "") -> str:
    """Who did it: the person, else the system and what moved it ("System · Nightly scan")."""
    if user:
        return _name(user)
    return " · ".join(x for x in (_("System"), str(why)) if x)


@timeline_source("payment", time_field="occurred_at", permission="players.view_payment")
def payments(older, player, limit, user):
    rows = (
        Payment.objects.filter(older, player=player)
        .select_related("recorded_by")
        .order_by("-occurred_at", "-pk")[:limit]
    )
    entries = []
    for p in rows:
        refund = p.kind == PaymentKind.REFUND
        entries.append(
            Entry(
                at=p.occurred_at,
                source="payment",
                pk=p.pk,
                kind=_("Refund") if refund else _("Payment"),
                title=("−" if refund else "") + money(p.amount, p.currency),
                detail=" · ".join(x for x in (p.product, p.server, p.event_id) if x),
                url=admin_url("players_payment_change", p.pk),
                actor=_name(p.recorded_by) or str(p.get_source_display()),
                tone="bad" if refund else "good",
            )
        )
    return entries


@timeline_source("tier", time_field="changed_at", permission="vip.view_tierchange")
def tier_changes(older, player, limit, user):
    rows = (
        TierChange.objects.filter(older, player=player)
        .select_related("from_tier", "to_tier", "actor")
        .order_by("-changed_at", "-pk")[:limit]
    )
    return [
        Entry(
            at=c.changed_at,
            source="tier",
            pk=c.pk,
            kind=_("Tier"),
            title=f"{c.from_tier or '–'} → {c.to_tier or '–'}",
            detail=" · ".join(x for x in (c.get_reason_display(), c.note) if x),
            url=admin_url("vip_tierchange_change", c.pk),
            actor=_by(c.actor),
            tone="good" if c.is_upgrade else "warn",
        )
        for c in rows
    ]


@timeline_source("assignment", time_field="assigned_at", permission="vip.view_managerassignment")
def assignments(older, player, limit, user):
    rows = (
        ManagerAssignment.objects.filter(older, player=player)
        .select_related("from_manager", "to_manager", "actor")
        .order_by("-assigned_at", "-pk")[:limit]
    )
    return [
        Entry(
            at=a.assigned_at,
            source="assignment",
            pk=a.pk,
            kind=_("Manager"),
            title=f"{_name(a.from_manager) or '–'} → {_name(a.to_manager) or '–'}",
            detail=a.note,
            url=admin_url("vip_managerassignment_change", a.pk),
            actor=_by(a.actor),
        )
        for a in rows
    ]


@timeline_source("contact", time_field="contacted_at", permission="players.view_contactlog")
def contacts(older, player, limit, user):
    rows = (
        ContactLog.objects.filter(older, player=player).select_related("staff").order_by("-contacted_at", "-pk")[:limit]
    )
    entries = []
    for c in rows:
        bits = [c.get_direction_display(), c.get_outcome_display() if c.outcome else ""]
        if c.next_follow_up:
            bits.append(_("follow up on %(date)s") % {"date": c.next_follow_up.isoformat()})
        entries.append(
            Entry(
                at=c.contacted_at,
                source="contact",
                pk=c.pk,
                kind=_("Contact"),
                title=f"{c.get_channel_display()}: {free_text_for(user, c.topic or Truncator(c.summary).chars(60)) or '–'}",
                detail=" · ".join(b for b in bits if b),
                url=admin_url("players_contactlog_change", c.pk),
                actor=_by(c.staff),
            )
        )
    return entries


@timeline_source("task", time_field="created_at", permission="campaigns.view_outreachtask")
def tasks(older, player, limit, user):
    rows = (
        OutreachTask.objects.filter(older, player=player)
        .select_related("player", "assignee", "created_by", "campaign")
        .order_by("-created_at", "-pk")[:limit]
    )
    entries = []
    for t in rows:
        bits = [t.get_status_display(), _("due %(date)s") % {"date": t.due_date.isoformat()}]
        if t.assignee:
            bits.append(_("for %(name)s") % {"name": _name(t.assignee)})
        if t.outcome:
            bits.append(t.get_outcome_display())
        entries.append(
            Entry(
                at=t.created_at,
                source="task",
                pk=t.pk,
                kind=_("Task"),
                title=t.title_text,
                detail=" · ".join(bits),
                url=admin_url("campaigns_outreachtask_change", t.pk),
                actor=_by(t.created_by, t.campaign.name if t.campaign else ""),
                tone="warn" if t.status == TaskStatus.OPEN else "",
            )
        )
    return entries


@timeline_source("message", time_field="scheduled_for", permission="campaigns.view_message")
def messages(older, player, limit, user):
    rows = (
        Message.objects.filter(older, player=player)
        .select_related("campaign")
        .order_by("-scheduled_for", "-pk")[:limit]
    )
    return [
        Entry(
            at=m.scheduled_for,
            source="message",
            pk=m.pk,
            kind=_("Message"),
            title=f"{m.get_channel_display()}: {free_text_for(user, m.subject or Truncator(m.body).chars(60))}",
            detail=" · ".join(x for x in (m.get_status_display(), m.status_reason_text) if x),
            url=admin_url("campaigns_message_change", m.pk),
            actor=_by(None, m.campaign.name if m.campaign else ""),
            tone="bad" if m.status == MessageStatus.FAILED else "",
        )
        for m in rows
    ]


@timeline_source("case", time_field="at", permission="players.view_case")
def case_events(older, player, limit, user):
    """Every change of the player's cases (players.CaseEvent): the cases' own timelines,
    merged. Free text is masked for users who may not see personal data: case text may
    carry phone numbers and the like."""
    rows = (
        CaseEvent.objects.filter(older, case__player=player)
        .select_related("case", "actor")
        .order_by("-at", "-pk")[:limit]
    )
    entries = []
    for e in rows:
        p = e.parameters or {}
        detail = case_event_text(e)
        bad = e.type == CaseEventType.ESCALATED or (e.type == CaseEventType.STATUS and p.get("sla_met") is False)
        entries.append(
            Entry(
                at=e.at,
                source="case",
                pk=e.pk,
                kind=_("Case"),
                title=f"#{e.case_id} {free_text_for(user, e.case.subject)}: {e.get_type_display()}",
                detail=free_text_for(user, detail),
                url=admin_url("players_case_change", e.case_id),
                actor=_by(e.actor),
                tone="bad" if bad else ("good" if p.get("to") == CaseStatus.RESOLVED else ""),
            )
        )
    return entries


@timeline_source("payer_status", time_field="changed_at", permission="players.view_payerstatuschange")
def payer_status_changes(older, player, limit, user):
    """Every payer-status transition (players.PayerStatusChange), with the reasons that
    held at the change; made by the system (a payment, a login, the nightly scan)."""
    rows = PayerStatusChange.objects.filter(older, player=player).order_by("-changed_at", "-pk")[:limit]
    statuses = dict(PayerStatus.choices)
    reasons = dict(ChurnReason.choices)
    tones = {PayerStatus.ACTIVE: "good", PayerStatus.AT_RISK: "warn", PayerStatus.CHURNED: "bad"}
    entries = []
    for c in rows:
        bits = [str(reasons[code]) for code in c.reasons]
        if (c.days_since_payment or 0) >= 1 and c.to_status in (PayerStatus.AT_RISK, PayerStatus.CHURNED):
            days = int(c.days_since_payment)
            bits.append(_("last purchase %(days)d days before") % {"days": days})
        entries.append(
            Entry(
                at=c.changed_at,
                source="payer_status",
                pk=c.pk,
                kind=_("Payer status"),
                title=f"{statuses.get(c.from_status, c.from_status)} → {statuses.get(c.to_status, c.to_status)}",
                detail=" · ".join(bits),
                url=admin_url("players_payerstatuschange_change", c.pk),
                actor=_by(None, c.get_trigger_display()),
                tone="good" if c.is_recovery else tones.get(c.to_status, ""),
            )
        )
    return entries
