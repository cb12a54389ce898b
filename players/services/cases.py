"""Writes for support cases (工单): open, move through the workflow, assign, compensate,
record satisfaction, escalate when overdue. Each leaves a CaseEvent in the same
transaction; e-mail leaves through transaction.on_commit.

The SLA clock is documented in `players.models.service_records`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
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
from crm.workdays import Clock, clock_add, clock_seconds_between

from ..models import (
    CASE_CHECKLISTS,
    CASE_TRANSITIONS,
    CLOCK_RUNNING,
    OPEN_STATUSES,
    Case,
    CaseEvent,
    CaseEventType,
    CaseSeverity,
    CaseStatus,
    CompensationApprovalRule,
    CompensationProposal,
    ContactChannel,
    EscalationLevel,
    Player,
    ProposalStatus,
    SlaPolicy,
)
from ..models.service_records import DEFAULT_FIRST_RESPONSE_HOURS, DEFAULT_HEAD_AFTER_HOURS, DEFAULT_SLA_HOURS
from ..selectors import sees_all_players
from ..selectors.persons import person_of
from ..templating import unresolved_check

logger = logging.getLogger(__name__)

RECEIVE_ESCALATIONS = "players.receive_escalations"
RECEIVE_HEAD_ESCALATIONS = "players.receive_head_escalations"
APPROVE_COMPENSATION = "players.approve_compensation"
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


@dataclass(frozen=True)
class SlaTerms:
    """What a case is held to: its clock, hours to resolve, hours to the first answer,
    and the hours the supervisors have before the head of service is told (None: never)."""

    clock: str
    hours: int
    first_response_hours: int
    head_after_hours: int | None


def sla_terms_for(*, category: str, severity: str) -> SlaTerms:
    """The most specific SlaPolicy: category and severity, category, severity, default."""
    found = {
        (policy.category, policy.severity): policy
        for policy in SlaPolicy.objects.filter(category__in=[category, ""], severity__in=[severity, ""])
    }
    for key in ((category, severity), (category, ""), ("", severity), ("", "")):
        if key in found:
            policy = found[key]
            return SlaTerms(policy.clock, policy.hours, policy.first_response_hours, policy.head_after_hours)
    return SlaTerms(
        Clock.ROUND_THE_CLOCK,
        sla_default_hours(),
        int(getattr(settings, "CRM_CASE_FIRST_RESPONSE_HOURS", DEFAULT_FIRST_RESPONSE_HOURS)),
        DEFAULT_HEAD_AFTER_HOURS,
    )


def sla_hours_for(*, category: str, severity: str) -> int:
    return sla_terms_for(category=category, severity=severity).hours


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
    """Open a case with the player's VIP person (opened on a linked account, it lands on the
    person's main account). The owner defaults to the player's VIP manager, else the actor."""
    player = person_of(player)
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
        terms = sla_terms_for(category=category, severity=severity)
        case.sla_clock = terms.clock
        case.sla_hours = terms.hours
        case.sla_due_at = clock_add(terms.clock, opened_at, hours=terms.hours)
        case.first_response_hours = terms.first_response_hours
        case.first_response_due_at = clock_add(terms.clock, opened_at, hours=terms.first_response_hours)
        case.head_after_hours = terms.head_after_hours
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
        clock=case.sla_clock,
        first_response_due=_iso(case.first_response_due_at),
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
            # the new allowance, counted on the clock the case was opened with
            terms = sla_terms_for(category=case.category, severity=case.severity)
            if terms.hours != case.sla_hours:
                case.sla_due_at = clock_add(case.sla_clock, case.sla_due_at, hours=terms.hours - case.sla_hours)
                parameters.update(sla_hours=terms.hours, due=_iso(case.sla_due_at))
                case.sla_hours = terms.hours
            case.head_after_hours = terms.head_after_hours
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
        case.sla_due_at = _carried_over(case, case.sla_due_at, now)
        if case.head_escalation_at:
            case.head_escalation_at = _carried_over(case, case.head_escalation_at, now)
        case.sla_paused_at = None
        parameters.update(paused_seconds=paused, due=_iso(case.sla_due_at))
    if to_status == CaseStatus.WAITING:
        case.sla_paused_at = now
    if to_status in (CaseStatus.WAITING, CaseStatus.RESOLVED):
        _first_response(case, now)  # asking the player, or the answer itself
    if to_status == CaseStatus.RESOLVED:
        missing = case_checklist_missing(case)
        if missing:
            raise ValidationError(
                {"checklist": [_("Finish the checklist first: %(steps)s.") % {"steps": "; ".join(missing)}]}
            )
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
        case.escalation_level = EscalationLevel.MANAGER
        case.head_escalation_at = None
        case.sla_paused_at = None
        case.sla_due_at = clock_add(case.sla_clock, now, hours=case.sla_hours)
        parameters["due"] = _iso(case.sla_due_at)
    case.status = to_status
    case.full_clean()
    case.save()
    _event(case, CaseEventType.REOPENED if reopening else CaseEventType.STATUS, actor, now, **parameters)
    if to_status == CaseStatus.RESOLVED:
        for listener in _RESOLVED_LISTENERS:  # e.g. the satisfaction survey: does the player accept it?
            listener(case=case, now=now)
    return case


# Who hears of a resolution (surveys hand theirs in at PlayersConfig.ready: they record the
# answer through this module, so this module does not import them).
_RESOLVED_LISTENERS: list = []


def case_resolved_listener_add(listener) -> None:
    """`listener(*, case, now)` runs in the resolving transaction."""
    if listener not in _RESOLVED_LISTENERS:
        _RESOLVED_LISTENERS.append(listener)


def _carried_over(case: Case, due: datetime, now: datetime) -> datetime:
    """Leaving a pause: the time that was left when it began, counted on from now on the
    case's clock (round the clock: the due time moves by the pause's length)."""
    left = clock_seconds_between(case.sla_clock, case.sla_paused_at, due)
    return clock_add(case.sla_clock, now, seconds=left)


def _first_response(case: Case, now: datetime) -> None:
    if case.first_responded_at is None:
        case.first_responded_at = now
        if case.first_response_due_at is not None:
            case.first_response_met = now <= case.first_response_due_at


@transaction.atomic
def case_reply(*, case: Case, text: str, actor, now: datetime | None = None) -> CaseEvent:
    """What staff told the player (on the phone, in chat, by mail), kept on the case. The
    first one answers the case: the first-response clock stops; a new case moves to
    in progress."""
    case = _locked(case)
    _check_handler(actor, case)
    now = now or timezone.now()
    text = (text or "").strip()
    if not text:
        raise ValidationError({"text": [_("This field is required.")]})
    unresolved_check(text, field="text")
    if case.status in (CaseStatus.RESOLVED, CaseStatus.CLOSED):
        raise ValidationError({"text": [_("The case is resolved: reopen it to reply.")]})
    if case.status == CaseStatus.NEW:
        case = case_transition(case=case, to_status=CaseStatus.IN_PROGRESS, actor=actor, now=now)
    first = case.first_responded_at is None
    _first_response(case, now)
    case.save(update_fields=["first_responded_at", "first_response_met", "updated_at"])
    return _event(case, CaseEventType.REPLIED, actor, now, text=text, first=first)


def case_checklist_missing(case: Case) -> list[str]:
    """The steps of the case's checklist (CASE_CHECKLISTS) not ticked yet, in words."""
    return [str(label) for step, label in CASE_CHECKLISTS.get(case.category, []) if step not in (case.checklist or {})]


@transaction.atomic
def case_checklist_set(*, case: Case, done: list[str], actor, now: datetime | None = None) -> Case:
    """Tick (and untick) steps of the case's checklist: who and when per step, and one
    event in the timeline. A minor's refund cannot be resolved before every step is done."""
    case = _locked(case)
    _check_handler(actor, case)
    steps = [step for step, _label in CASE_CHECKLISTS.get(case.category, [])]
    if not steps:
        raise ValidationError({"checklist": [_("This category has no checklist.")]})
    unknown = sorted(set(done) - set(steps))
    if unknown:
        raise ValidationError({"checklist": [_("Unknown step: %(steps)s.") % {"steps": ", ".join(unknown)}]})
    now = now or timezone.now()
    checklist = dict(case.checklist or {})
    ticked = [step for step in steps if step in done and step not in checklist]
    unticked = [step for step in steps if step not in done and step in checklist]
    if not ticked and not unticked:
        return case
    for step in ticked:
        checklist[step] = {"by": _user_ref(actor), "at": _iso(now)}
    for step in unticked:
        del checklist[step]
    case.checklist = checklist
    case.save(update_fields=["checklist", "updated_at"])
    _event(case, CaseEventType.CHECKLIST, actor, now, category=case.category, ticked=ticked, unticked=unticked)
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
    if compensation_item:  # proposed; given at once unless it needs a supervisor's approval
        try:
            compensation_propose(
                case=case,
                item=compensation_item,
                value=compensation_value,
                reason=note or resolution,
                actor=actor,
                now=now,
            )
        except ValidationError as exc:
            names = {"item": "compensation_item", "value": "compensation_value", "reason": "note"}
            raise ValidationError({names.get(k, k): v for k, v in exc.message_dict.items()})
        case.refresh_from_db()
    return case


def case_close(*, case: Case, actor, note: str = "", now=None) -> Case:
    return case_transition(case=case, to_status=CaseStatus.CLOSED, actor=actor, note=note, now=now)


def cases_close_erased(*, player: Player, now: datetime) -> int:
    """The player's personal data was erased on request (players.services.privacy): their open
    cases are closed, outside the workflow, since nobody can be answered any more. The SLA
    does not count them (neither met nor missed), and each case's history says why."""
    closed = 0
    for case in Case.objects.select_for_update().filter(player=player, status__in=OPEN_STATUSES).order_by("pk"):
        from_status = case.status
        case.status = CaseStatus.CLOSED
        case.closed_at = now
        case.sla_paused_at = None
        case.sla_met = None
        case.save(update_fields=["status", "closed_at", "sla_paused_at", "sla_met", "updated_at"])
        _event(case, CaseEventType.STATUS, None, now, **{"from": from_status, "to": CaseStatus.CLOSED, "erased": True})
        closed += 1
    return closed


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


# --- compensation approval ---------------------------------------------------------------
def compensation_threshold_for(player: Player) -> Decimal | None:
    """Above which value a compensation for this player needs approval: the rule of the
    player's tier, else the rule for any tier, else None (no approval needed)."""
    rules = dict(
        CompensationApprovalRule.objects.filter(Q(tier_id=player.tier_id) | Q(tier__isnull=True)).values_list(
            "tier_id", "above"
        )
    )
    if player.tier_id in rules:
        return rules[player.tier_id]
    return rules.get(None)


def compensation_needs_approval(*, player: Player, value: Decimal | None) -> bool:
    threshold = compensation_threshold_for(player)
    return threshold is not None and (value or Decimal(0)) > threshold


def compensation_may_approve(user) -> bool:
    return user is not None and user.is_active and user.has_perm(APPROVE_COMPENSATION)


@transaction.atomic
def compensation_propose(
    *, case: Case, item: str, value: Decimal | None, reason: str, actor, now: datetime | None = None
) -> CompensationProposal:
    """Propose what to give the player for this case. At or below the threshold of the
    player's tier it is given at once (case_compensate: the gift budget applies); above
    it, it waits for a supervisor (`compensation_approve` / `compensation_refuse`)."""
    case = _locked(case)
    _check_handler(actor, case)
    now = now or timezone.now()
    proposal = CompensationProposal(
        case=case,
        item=(item or "").strip(),
        value=value,
        reason=(reason or "").strip(),
        proposed_by=actor,
        proposed_at=now,
    )
    errors = {}
    if not proposal.item:
        errors["item"] = [_("Say what was given.")]
    if value is not None and (not isinstance(value, Decimal) or value < 0):
        errors["value"] = [_("A value of 0 or more.")]
    if not proposal.reason:
        errors["reason"] = [_("Say why the player is compensated.")]
    if errors:
        raise ValidationError(errors)
    proposal.full_clean(exclude=["case"])
    player = Player.objects.only("pk", "tier_id").get(pk=case.player_id)
    proposal.threshold = compensation_threshold_for(player)
    waits = proposal.threshold is not None and (value or Decimal(0)) > proposal.threshold
    proposal.status = ProposalStatus.PENDING if waits else ProposalStatus.GIVEN
    proposal.save()
    _event(
        case,
        CaseEventType.PROPOSED,
        actor,
        now,
        proposal=proposal.pk,
        item=proposal.item,
        value=str(value) if value is not None else None,
        reason=proposal.reason,
        waits=waits,
        threshold=str(proposal.threshold) if proposal.threshold is not None else None,
    )
    if not waits:
        try:
            case_compensate(case=case, item=proposal.item, value=value, actor=actor, note=proposal.reason, now=now)
        except ValidationError as exc:
            raise _on_proposal_fields(exc)
    return proposal


def _on_proposal_fields(exc: ValidationError) -> ValidationError:
    errors = exc.message_dict if hasattr(exc, "error_dict") else {"value": exc.messages}
    names = {"compensation_value": "value", "compensation_item": "item"}
    return ValidationError({names.get(name, name): msgs for name, msgs in errors.items()})


def _pending(proposal: CompensationProposal, actor) -> CompensationProposal:
    proposal = CompensationProposal.objects.select_for_update().select_related("case").get(pk=proposal.pk)
    if not compensation_may_approve(actor):
        raise PermissionDenied(_("Only a supervisor may approve or refuse a compensation."))
    if proposal.status != ProposalStatus.PENDING:
        raise ValidationError(
            {
                "status": [
                    _("This proposal was already decided: %(status)s.") % {"status": proposal.get_status_display()}
                ]
            }
        )
    if proposal.proposed_by_id == actor.pk and not actor.is_superuser:
        raise PermissionDenied(_("Another supervisor decides on your own proposal."))
    return proposal


@transaction.atomic
def compensation_approve(*, proposal: CompensationProposal, actor, note: str = "", now=None) -> CompensationProposal:
    """A supervisor approves: the compensation is given (case_compensate; a gift that
    would overspend the tier's budget is refused and the proposal stays waiting)."""
    proposal = _pending(proposal, actor)
    now = now or timezone.now()
    try:
        case_compensate(
            case=proposal.case,
            item=proposal.item,
            value=proposal.value,
            actor=actor,
            note=proposal.reason,
            now=now,
        )
    except ValidationError as exc:
        raise _on_proposal_fields(exc)
    proposal.status = ProposalStatus.APPROVED
    proposal.decided_by, proposal.decided_at, proposal.decision_note = actor, now, (note or "").strip()
    proposal.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
    _event(
        proposal.case,
        CaseEventType.APPROVED,
        actor,
        now,
        proposal=proposal.pk,
        item=proposal.item,
        value=str(proposal.value) if proposal.value is not None else None,
        note=proposal.decision_note,
    )
    return proposal


@transaction.atomic
def compensation_refuse(*, proposal: CompensationProposal, actor, note: str, now=None) -> CompensationProposal:
    """A supervisor refuses, saying why; nothing is given."""
    proposal = _pending(proposal, actor)
    now = now or timezone.now()
    note = (note or "").strip()
    if not note:
        raise ValidationError({"note": [_("Say why the compensation is refused.")]})
    proposal.status = ProposalStatus.REFUSED
    proposal.decided_by, proposal.decided_at, proposal.decision_note = actor, now, note
    proposal.full_clean(exclude=["case"])
    proposal.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
    _event(
        proposal.case,
        CaseEventType.REFUSED,
        actor,
        now,
        proposal=proposal.pk,
        item=proposal.item,
        value=str(proposal.value) if proposal.value is not None else None,
        note=note,
    )
    return proposal


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


# --- escalation: the ladder manager -> supervisors -> head of service ----------------------
def cases_overdue_q(now: datetime) -> Q:
    """Open with a running clock (not waiting on the player), past due, not yet escalated."""
    return Q(status__in=CLOCK_RUNNING, sla_due_at__lt=now, escalated_at__isnull=True)


def cases_head_due_q(now: datetime) -> Q:
    """Escalated to the supervisors, still running, and their time is up."""
    return Q(status__in=CLOCK_RUNNING, escalation_level=EscalationLevel.SUPERVISOR, head_escalation_at__lt=now)


@dataclass
class Escalations:
    supervisor: list[int]
    head: list[int]


def cases_escalate(*, now: datetime | None = None, batch_size: int = 500) -> Escalations:
    """Climb the ladder for every case whose step is due: overdue cases go to the
    supervisors, cases the supervisors held past `head_after_hours` to the head of service.
    The beat runs it every 15 minutes (`players.escalate_cases`)."""
    now = now or timezone.now()
    supervisor = cases_escalate_overdue(now=now, batch_size=batch_size)
    return Escalations(supervisor=supervisor, head=_escalate_step(_TO_HEAD, now=now, batch_size=batch_size))


def cases_escalate_overdue(*, now: datetime | None = None, batch_size: int = 500) -> list[int]:
    """The ladder's first step: flag every overdue case as escalated, once per
    escalation, and tell the supervisors by e-mail (one message per batch, after the
    commit). Returns the cases escalated."""
    return _escalate_step(_TO_SUPERVISOR, now=now or timezone.now(), batch_size=batch_size)


@dataclass(frozen=True)
class _LadderStep:
    """One step of the ladder: which cases are due for it (`due`, a Q of now, which also
    says the case has not taken this step yet), in which order, the level reached."""

    level: str
    due: Callable[[datetime], Q]
    order: str
    first: bool  # the first step: the case counts one more escalation and gets its head time


_TO_SUPERVISOR = _LadderStep(EscalationLevel.SUPERVISOR, cases_overdue_q, "sla_due_at", first=True)
_TO_HEAD = _LadderStep(EscalationLevel.HEAD, cases_head_due_q, "head_escalation_at", first=False)


def _escalate_step(step: _LadderStep, *, now: datetime, batch_size: int) -> list[int]:
    """Take `step` for every case due for it, a batch at a time. Safe to run concurrently:
    rows are claimed with SELECT ... FOR UPDATE SKIP LOCKED (PostgreSQL) and the update
    re-checks that the step is still due."""
    escalated: list[int] = []
    while batch := _escalate_batch(step, now=now, batch_size=batch_size):
        escalated += batch
    return escalated


@transaction.atomic
def _escalate_batch(step: _LadderStep, *, now: datetime, batch_size: int) -> list[int]:
    rows = list(
        Case.objects.select_for_update(skip_locked=True)
        .filter(step.due(now))
        .order_by(step.order)
        .values_list("pk", "sla_due_at", "sla_clock", "head_after_hours")[:batch_size]
    )
    if not rows:
        return []
    ids = [pk for pk, *_rest in rows]
    changes = {"escalation_level": step.level}
    head_at = {}
    if step.first:
        changes |= {"escalated_at": now, "escalation_count": F("escalation_count") + 1}
        # the supervisors' time before the head is told, counted from the due time on the case's clock
        head_at = {
            pk: clock_add(clock, due, hours=head_hours) for pk, due, clock, head_hours in rows if head_hours is not None
        }
    Case.objects.filter(step.due(now), pk__in=ids).update(**changes)
    if head_at:
        Case.objects.bulk_update(
            [Case(pk=pk, head_escalation_at=at) for pk, at in head_at.items()], ["head_escalation_at"]
        )
    level = "supervisor" if step.first else "head"
    CaseEvent.objects.bulk_create(
        [
            CaseEvent(
                case_id=pk,
                type=CaseEventType.ESCALATED,
                at=now,
                parameters={
                    "due": _iso(due),
                    "overdue_minutes": int((now - due).total_seconds() // 60),
                    "level": level,
                    **({"head_at": _iso(head_at.get(pk))} if step.first else {}),
                },
            )
            for pk, due, *_rest in rows
        ]
    )
    if getattr(settings, "CRM_CASE_ESCALATION_EMAIL", True):
        head = not step.first
        transaction.on_commit(lambda: case_escalation_notify(case_ids=ids, at=now, head=head), robust=True)
    return ids


def escalation_recipients(permission_name: str = RECEIVE_ESCALATIONS) -> list[str]:
    """Active staff holding the permission (players.receive_escalations: the Supervisor
    role; players.receive_head_escalations: the head of service), with an address."""
    from django.contrib.auth.models import Permission

    app_label, codename = permission_name.split(".")
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


def case_escalation_notify(*, case_ids: list[int], at: datetime, head: bool = False) -> int:
    """One e-mail to the supervisors (or the head of service) listing the cases just
    escalated; a NOTIFIED event on each. Called after the escalation committed; returns
    the number of recipients."""
    recipients = escalation_recipients(RECEIVE_HEAD_ESCALATIONS if head else RECEIVE_ESCALATIONS)
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
    subject = (
        _("%(count)d case(s) overdue and escalated to the head of service")
        if head
        else _("%(count)d case(s) overdue and escalated")
    ) % {"count": len(case_ids)}
    link = reverse("admin:players_case_changelist") + "?escalated=yes"
    body = "\n".join([*lines, "", _("Escalated cases: %(link)s") % {"link": link}])
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients)
    CaseEvent.objects.bulk_create(
        [
            CaseEvent(
                case_id=pk,
                type=CaseEventType.NOTIFIED,
                at=at,
                parameters={"recipients": len(recipients), "level": "head" if head else "supervisor"},
            )
            for pk in case_ids
        ]
    )
    return len(recipients)
