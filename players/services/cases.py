"""Writes for support cases (工单): open, move through the workflow, assign, compensate,
record satisfaction, escalate when overdue. Each leaves a CaseEvent in the same
transaction; e-mail leaves through transaction.on_commit.

The SLA clock is documented in `players.models.service_records`."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.formatting import when
from crm.privacy import mask_free_text

from ..models import (
    CASE_TRANSITIONS,
    CLOCK_RUNNING,
    Case,
    CaseEvent,
    CaseEventType,
    CaseSeverity,
    CaseStatus,
    ContactChannel,
    Player,
    SlaPolicy,
)
from ..models.service_records import DEFAULT_SLA_HOURS
from ..selectors import sees_all_players

logger = logging.getLogger(__name__)

RECEIVE_ESCALATIONS = "players.receive_escalations"
EMAIL_MAX_LINES = 200  # an escalation e-mail lists at most this many cases, then says how many more
EDITABLE_FIELDS = ("category", "severity", "channel", "subject", "description")
_UNSET = object()


# --- who may handle a case -----------------------------------------------------------
def case_can_handle(user, case: Case) -> bool:
    """Supervisors (players.view_all_players) handle every case; a manager the cases of
    the players they manage and the cases they own."""
    if user is None:
        return True  # the system: scheduler, imports, other services
    if sees_all_players(user):
        return True
    manager_id = Player.objects.filter(pk=case.player_id).values_list("manager_id", flat=True).first()
    return user.pk in (manager_id, case.owner_id)


def _check_handler(actor, case: Case) -> None:
    if not case_can_handle(actor, case):
        raise PermissionDenied(_("You may only handle cases of your own players."))


# --- the SLA ---------------------------------------------------------------------------
def sla_default_hours() -> int:
    return int(getattr(settings, "CRM_CASE_SLA_HOURS", DEFAULT_SLA_HOURS))


def sla_hours_for(*, category: str, severity: str) -> int:
    """The most specific SlaPolicy: category and severity, category, severity, default."""
    found = {
        (category_, severity_): hours
        for category_, severity_, hours in SlaPolicy.objects.filter(
            category__in=[category, ""], severity__in=[severity, ""]
        ).values_list("category", "severity", "hours")
    }
    for key in ((category, severity), (category, ""), ("", severity), ("", "")):
        if key in found:
            return found[key]
    return sla_default_hours()


def _event(case: Case, type_: str, actor, at: datetime, **parameters) -> CaseEvent:
    return CaseEvent.objects.create(case=case, type=type_, actor=actor, at=at, parameters=parameters)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _user_ref(user) -> dict | None:
    return {"id": user.pk, "name": user.get_username()} if user else None


# --- opening and editing ---------------------------------------------------------------
@transaction.atomic
def case_open(
    *,
    player: Player,
    category: str,
    subject: str,
    actor=None,
    severity: str = CaseSeverity.NORMAL,
    channel: str = ContactChannel.PHONE,
    description: str = "",
    owner=_UNSET,
    opened_at: datetime | None = None,
) -> Case:
    """Open a case. The owner defaults to the player's VIP manager, else the actor."""
    if owner is _UNSET:
        owner = player.manager or actor
    opened_at = opened_at or timezone.now()
    case = Case(
        player=player,
        category=category,
        severity=severity,
        channel=channel,
        subject=subject.strip(),
        description=description,
        owner=owner,
        opened_at=opened_at,
        opened_by=actor,
        sla_hours=0,
        sla_due_at=opened_at,
    )
    if category in dict(Case._meta.get_field("category").choices) and severity:
        case.sla_hours = sla_hours_for(category=category, severity=severity)
        case.sla_due_at = opened_at + timedelta(hours=case.sla_hours)
    case.full_clean()
    _check_handler(actor, case)
    case.save()
    _event(
        case,
        CaseEventType.OPENED,
        actor,
        opened_at,
        category=category,
        severity=severity,
        owner=_user_ref(owner),
        sla_hours=case.sla_hours,
        due=_iso(case.sla_due_at),
    )
    return case


def _locked(case: Case) -> Case:
    return Case.objects.select_for_update().get(pk=case.pk)


@transaction.atomic
def case_update(*, case: Case, data: dict, actor, now: datetime | None = None) -> Case:
    """Edit what the case is about. A new category or severity re-reads the SLA policy
    and moves the due time by the difference."""
    unknown = set(data) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationError({name: [_("This field cannot be changed here.")] for name in sorted(unknown)})
    case = _locked(case)
    _check_handler(actor, case)
    changed = [name for name, value in data.items() if getattr(case, name) != value]
    if not changed:
        return case
    before = {"category": case.category, "severity": case.severity}
    for name in changed:
        setattr(case, name, data[name])
    parameters = {"fields": changed}
    if {"category", "severity"} & set(changed):
        parameters.update(before=before, after={"category": case.category, "severity": case.severity})
        if case.is_open:
            hours = sla_hours_for(category=case.category, severity=case.severity)
            if hours != case.sla_hours:
                case.sla_due_at += timedelta(hours=hours - case.sla_hours)
                parameters.update(sla_hours=hours, due=_iso(case.sla_due_at))
                case.sla_hours = hours
    case.full_clean()
    case.save()
    _event(case, CaseEventType.EDITED, actor, now or timezone.now(), **parameters)
    return case


@transaction.atomic
def case_assign(*, case: Case, owner, actor, note: str = "", now: datetime | None = None) -> Case:
    case = _locked(case)
    _check_handler(actor, case)
    if owner is not None and not owner.is_active:
        raise ValidationError({"owner": [_("This user is not active.")]})
    if case.owner_id == (owner.pk if owner else None):
        return case
    previous = case.owner
    case.owner = owner
    case.save(update_fields=["owner", "updated_at"])
    _event(
        case,
        CaseEventType.ASSIGNED,
        actor,
        now or timezone.now(),
        **{"from": _user_ref(previous), "to": _user_ref(owner), "note": note},
    )
    return case


@transaction.atomic
def case_add_note(*, case: Case, text: str, actor, now: datetime | None = None) -> CaseEvent:
    _check_handler(actor, case)
    if not text.strip():
        raise ValidationError({"note": [_("This field is required.")]})
    return _event(case, CaseEventType.NOTE, actor, now or timezone.now(), text=text.strip())


# --- the workflow ------------------------------------------------------------------------
@transaction.atomic
def case_transition(
    *,
    case: Case,
    to_status: str,
    actor,
    note: str = "",
    resolution: str | None = None,
    now: datetime | None = None,
) -> Case:
    """Move a case along the workflow (`CASE_TRANSITIONS`); anything else is refused
    with a ValidationError on `status`. Resolving needs a resolution text; moving a
    resolved or closed case back to in progress is a reopening and needs a reason."""
    case = _locked(case)
    _check_handler(actor, case)
    now = now or timezone.now()
    from_status = CaseStatus(case.status)
    try:
        to_status = CaseStatus(to_status)
    except ValueError:
        raise ValidationError({"status": [_("Unknown status: %(status)s.") % {"status": to_status}]})
    if to_status not in CASE_TRANSITIONS[from_status]:
        raise ValidationError(
            {
                "status": [
                    _("A case cannot go from “%(from)s” to “%(to)s”.")
                    % {"from": from_status.label, "to": to_status.label}
                ]
            }
        )
    reopening = from_status in (CaseStatus.RESOLVED, CaseStatus.CLOSED) and to_status == CaseStatus.IN_PROGRESS
    parameters = {"from": from_status.value, "to": to_status.value}
    if note:
        parameters["note"] = note

    if from_status == CaseStatus.WAITING and case.sla_paused_at:
        paused = max(int((now - case.sla_paused_at).total_seconds()), 0)
        case.sla_paused_seconds += paused
        case.sla_due_at += timedelta(seconds=paused)
        case.sla_paused_at = None
        parameters.update(paused_seconds=paused, due=_iso(case.sla_due_at))
    if to_status == CaseStatus.WAITING:
        case.sla_paused_at = now
    if to_status == CaseStatus.RESOLVED:
        text = (resolution if resolution is not None else case.resolution).strip()
        if not text:
            raise ValidationError({"resolution": [_("Say how the case was resolved.")]})
        case.resolution = text
        case.resolved_at = now
        case.sla_met = now <= case.sla_due_at
        parameters["sla_met"] = case.sla_met
    if to_status == CaseStatus.CLOSED:
        case.closed_at = now
    if reopening:
        if not note.strip():
            raise ValidationError({"note": [_("Say why the case is reopened.")]})
        case.resolved_at = None
        case.closed_at = None
        case.sla_met = None
        case.satisfaction = None
        case.satisfaction_note = ""
        case.escalated_at = None
        case.sla_paused_at = None
        case.sla_due_at = now + timedelta(hours=case.sla_hours)
        parameters["due"] = _iso(case.sla_due_at)
    case.status = to_status
    case.full_clean()
    case.save()
    _event(case, CaseEventType.REOPENED if reopening else CaseEventType.STATUS, actor, now, **parameters)
    return case


def case_start(*, case: Case, actor, note: str = "", now=None) -> Case:
    return case_transition(case=case, to_status=CaseStatus.IN_PROGRESS, actor=actor, note=note, now=now)


def case_wait_on_player(*, case: Case, actor, note: str = "", now=None) -> Case:
    """Pause the SLA clock until the player answers."""
    return case_transition(case=case, to_status=CaseStatus.WAITING, actor=actor, note=note, now=now)


def case_resume(*, case: Case, actor, note: str = "", now=None) -> Case:
    """The player answered: back to in progress, the clock runs again."""
    return case_transition(case=case, to_status=CaseStatus.IN_PROGRESS, actor=actor, note=note, now=now)


@transaction.atomic
def case_resolve(
    *,
    case: Case,
    actor,
    resolution: str,
    compensation_item: str = "",
    compensation_value: Decimal | None = None,
    note: str = "",
    now=None,
) -> Case:
    now = now or timezone.now()
    case = case_transition(
        case=case, to_status=CaseStatus.RESOLVED, actor=actor, resolution=resolution, note=note, now=now
    )
    if compensation_item:
        case = case_compensate(case=case, item=compensation_item, value=compensation_value, actor=actor, now=now)
    return case


def case_close(*, case: Case, actor, note: str = "", now=None) -> Case:
    return case_transition(case=case, to_status=CaseStatus.CLOSED, actor=actor, note=note, now=now)


def case_reopen(*, case: Case, actor, reason: str, now=None) -> Case:
    return case_transition(case=case, to_status=CaseStatus.IN_PROGRESS, actor=actor, note=reason, now=now)


# --- after the resolution ----------------------------------------------------------------
@transaction.atomic
def case_compensate(*, case: Case, item: str, value: Decimal | None = None, actor, note: str = "", now=None) -> Case:
    """Record what the player was given. Several compensations add up on the case; each
    is one event in the timeline (and one row in the gift ledger where it exists)."""
    case = _locked(case)
    _check_handler(actor, case)
    now = now or timezone.now()
    item = item.strip()
    errors = {}
    if not item:
        errors["compensation_item"] = [_("Say what was given.")]
    if value is not None and (not isinstance(value, Decimal) or value < 0):
        errors["compensation_value"] = [_("A value of 0 or more.")]
    if errors:
        raise ValidationError(errors)
    case.compensation_item = f"{case.compensation_item}; {item}" if case.compensation_item else item
    if value is not None:
        case.compensation_value = (case.compensation_value or Decimal(0)) + value
    case.full_clean()
    case.save(update_fields=["compensation_item", "compensation_value", "updated_at"])
    gift = _gift_ledger_record(case=case, item=item, value=value, actor=actor, note=note, at=now)
    _event(
        case,
        CaseEventType.COMPENSATED,
        actor,
        now,
        item=item,
        value=str(value) if value is not None else None,
        note=note,
        gift=gift,
    )
    return case


# Where a compensation is also booked (campaigns' gift ledger, with its monthly budget):
# apps depend one way (players <- campaigns), so campaigns hands its writer in at start-up
# (`CampaignsConfig.ready`). Without one, the case's own fields hold the compensation.
_COMPENSATION_LEDGER: list = []


def case_compensation_ledger_set(record) -> None:
    """`record(*, case, number, item, value, actor, note, at) -> gift id`; it may raise
    ValidationError naming `value` or `item`."""
    _COMPENSATION_LEDGER[:] = [record]


def _gift_ledger_record(*, case: Case, item: str, value, actor, note: str, at) -> int | None:
    """Book the compensation in the gift ledger, if one is set; its errors land on the
    case's compensation fields."""
    if not _COMPENSATION_LEDGER:
        return None
    number = CaseEvent.objects.filter(case=case, type=CaseEventType.COMPENSATED).count() + 1
    try:
        return _COMPENSATION_LEDGER[0](case=case, number=number, item=item, value=value, actor=actor, note=note, at=at)
    except ValidationError as exc:
        errors = exc.message_dict if hasattr(exc, "error_dict") else {"value": exc.messages}
        raise ValidationError(
            {("compensation_value" if name == "value" else "compensation_item"): msgs for name, msgs in errors.items()}
        )


@transaction.atomic
def case_record_satisfaction(*, case: Case, score: int, actor, note: str = "", now=None) -> Case:
    """The player's satisfaction (1–5), asked after the resolution."""
    case = _locked(case)
    _check_handler(actor, case)
    if case.status not in (CaseStatus.RESOLVED, CaseStatus.CLOSED):
        raise ValidationError({"satisfaction": [_("Satisfaction is recorded after the case is resolved.")]})
    case.satisfaction = score
    case.satisfaction_note = note
    case.full_clean()
    case.save(update_fields=["satisfaction", "satisfaction_note", "updated_at"])
    _event(case, CaseEventType.SATISFACTION, actor, now or timezone.now(), score=score, note=note)
    return case


# --- escalation ------------------------------------------------------------------------------
def cases_overdue_q(now: datetime) -> Q:
    """Open with a running clock (not waiting on the player), past due, not yet escalated."""
    return Q(status__in=CLOCK_RUNNING, sla_due_at__lt=now, escalated_at__isnull=True)


def cases_escalate_overdue(*, now: datetime | None = None, batch_size: int = 500) -> list[int]:
    """Flag every overdue case as escalated, once per escalation, and tell the
    supervisors by e-mail (one message per batch, after the commit).

    Safe to run concurrently: rows are claimed with SELECT ... FOR UPDATE SKIP LOCKED
    (PostgreSQL) and the update re-checks `escalated_at IS NULL`."""
    now = now or timezone.now()
    escalated: list[int] = []
    while True:
        batch = _escalate_batch(now=now, batch_size=batch_size)
        if not batch:
            return escalated
        escalated += batch


@transaction.atomic
def _escalate_batch(*, now: datetime, batch_size: int) -> list[int]:
    rows = list(
        Case.objects.select_for_update(skip_locked=True)
        .filter(cases_overdue_q(now))
        .order_by("sla_due_at")
        .values_list("pk", "sla_due_at")[:batch_size]
    )
    if not rows:
        return []
    ids = [pk for pk, _due in rows]
    Case.objects.filter(pk__in=ids, escalated_at__isnull=True).update(
        escalated_at=now, escalation_count=F("escalation_count") + 1
    )
    overdue = {pk: int((now - due).total_seconds() // 60) for pk, due in rows}
    CaseEvent.objects.bulk_create(
        [
            CaseEvent(
                case_id=pk,
                type=CaseEventType.ESCALATED,
                at=now,
                parameters={"due": _iso(due), "overdue_minutes": overdue[pk]},
            )
            for pk, due in rows
        ]
    )
    if getattr(settings, "CRM_CASE_ESCALATION_EMAIL", True):
        transaction.on_commit(lambda: case_escalation_notify(case_ids=ids, at=now), robust=True)
    return ids


def escalation_recipients() -> list[str]:
    """Active staff holding players.receive_escalations (the Supervisor role), with an address."""
    from django.contrib.auth.models import Permission

    app_label, codename = RECEIVE_ESCALATIONS.split(".")
    permission = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
    if permission is None:
        return []
    users = (
        get_user_model()
        .objects.filter(is_active=True)
        .exclude(email="")
        .filter(Q(user_permissions=permission) | Q(groups__permissions=permission) | Q(is_superuser=True))
        .distinct()
        .order_by("email")
    )
    return list(users.values_list("email", flat=True))


def case_escalation_notify(*, case_ids: list[int], at: datetime) -> int:
    """One e-mail to the supervisors listing the cases just escalated; a NOTIFIED event
    on each. Called after the escalation committed; returns the number of recipients."""
    recipients = escalation_recipients()
    if not recipients:
        return 0
    cases = (
        Case.objects.filter(pk__in=case_ids)
        .order_by("sla_due_at")
        .values_list("pk", "subject", "player__account_id", "owner__username", "sla_due_at")
    )
    lines = [
        _("#%(id)s %(subject)s — player %(player)s, owner %(owner)s, due %(due)s")
        % {"id": pk, "subject": mask_free_text(subject), "player": account_id, "owner": owner or "-", "due": when(due)}
        for pk, subject, account_id, owner, due in cases[:EMAIL_MAX_LINES]
    ]
    if len(case_ids) > len(lines):
        lines.append(_("… and %(count)d more.") % {"count": len(case_ids) - len(lines)})
    subject = _("%(count)d case(s) overdue and escalated") % {"count": len(case_ids)}
    link = reverse("admin:players_case_changelist") + "?escalated=yes"
    body = "\n".join([*lines, "", _("Escalated cases: %(link)s") % {"link": link}])
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients)
    CaseEvent.objects.bulk_create(
        [
            CaseEvent(case_id=pk, type=CaseEventType.NOTIFIED, at=at, parameters={"recipients": len(recipients)})
            for pk in case_ids
        ]
    )
    return len(recipients)
