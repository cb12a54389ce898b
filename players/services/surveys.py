"""Writes for satisfaction surveys (see players.models.surveys): send one after a
resolution or a return visit, remind once, take the answer once (through the signed
link or the game API), and open a follow-up for a supervisor on a low score.

Apps depend one way: the message that carries the survey and the supervisor's follow-up
task belong to campaigns, which hands its writers in at start-up
(`survey_delivery_set`, `survey_follow_up_set` in `CampaignsConfig.ready`). Without them
the survey is still recorded and answerable through its link."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from ..models import (
    Case,
    CaseStatus,
    ContactDirection,
    ContactLog,
    ContactOutcome,
    SatisfactionSurvey,
    SurveyExpiry,
    SurveyKind,
    SurveyStatus,
    SurveyVia,
    player_is_erased,
    players_erased_locked,
)
from ..models.surveys import RETURN_VISIT
from ..selectors.surveys import survey_is_low
from .cases import case_record_satisfaction

log = logging.getLogger(__name__)
SALT = "players.survey"
REASON_MAX = 500

_DELIVERY: list = []
_FOLLOW_UP: list = []


def survey_delivery_set(deliver) -> None:
    """`deliver(*, survey, link, reminder: bool)` sends the survey to the player."""
    _DELIVERY[:] = [deliver]


def survey_follow_up_set(follow_up) -> None:
    """`follow_up(*, survey)` opens a follow-up for a supervisor after a low score."""
    _FOLLOW_UP[:] = [follow_up]


# --- the signed link ------------------------------------------------------------------------
def survey_token(survey: SatisfactionSurvey) -> str:
    return signing.dumps(survey.pk, salt=SALT, compress=False)


def survey_link(survey: SatisfactionSurvey) -> str:
    base = getattr(settings, "CRM_PUBLIC_BASE_URL", "").rstrip("/")
    return f"{base}{reverse('survey', args=[survey_token(survey)])}"


def survey_from_token(token: str) -> SatisfactionSurvey | None:
    """The survey a link names, or None for a forged, mangled or expired link."""
    max_age = timedelta(days=int(getattr(settings, "CRM_SURVEY_VALID_DAYS", 14)))
    try:
        pk = signing.loads(token or "", salt=SALT, max_age=max_age)
    except signing.BadSignature:  # SignatureExpired is one
        return None
    if not isinstance(pk, int):
        return None
    return SatisfactionSurvey.objects.select_related("player", "case").filter(pk=pk).first()


# --- sending --------------------------------------------------------------------------------
def _channel_for(player) -> str:
    preferred = player.preferred_channel
    return preferred if preferred in ("in_game", "sms", "email") else "in_game"


def _create(**fields) -> SatisfactionSurvey | None:
    # Erased on request: no longer asked anything. The row is read under a lock: an erasure
    # committing meanwhile is seen, or waits for this survey and then expires it.
    if players_erased_locked([fields["player"].pk]):
        return None
    try:
        with transaction.atomic():
            survey = SatisfactionSurvey.objects.create(**fields)
    except IntegrityError:  # one survey per case and per contact
        return None
    transaction.on_commit(lambda: survey_deliver(survey_id=survey.pk), robust=True)
    return survey


def survey_for_case(*, case: Case, now: datetime | None = None) -> SatisfactionSurvey | None:
    """Called when a case is resolved (CRM_SURVEY_ON_RESOLUTION)."""
    if not getattr(settings, "CRM_SURVEY_ON_RESOLUTION", True):
        return None
    if SatisfactionSurvey.objects.filter(case=case).exists():
        return None  # a reopened and again resolved case is asked once
    player = case.player
    return _create(
        player=player,
        kind=SurveyKind.CASE,
        case=case,
        manager_id=case.owner_id,
        category=case.category,
        channel=_channel_for(player),
        sent_at=now or timezone.now(),
    )


def survey_for_contact(*, contact: ContactLog) -> SatisfactionSurvey | None:
    """Called after a contact is logged: a return visit (an outbound contact that reached
    the player, CRM_SURVEY_AFTER_RETURN_VISIT) is followed by a survey."""
    if not getattr(settings, "CRM_SURVEY_AFTER_RETURN_VISIT", True):
        return None
    if contact.direction != ContactDirection.OUTBOUND or contact.outcome != ContactOutcome.REACHED:
        return None
    if contact.staff_id is None:
        return None
    return _create(
        player=contact.player,
        kind=SurveyKind.RETURN_VISIT,
        contact=contact,
        manager_id=contact.staff_id,
        category=RETURN_VISIT,
        channel=_channel_for(contact.player),
        sent_at=contact.contacted_at,
    )


def survey_deliver(*, survey_id: int, reminder: bool = False) -> bool:
    survey = SatisfactionSurvey.objects.select_related("player").filter(pk=survey_id).first()
    if survey is None or not _DELIVERY or player_is_erased(survey.player):  # a reminder after an erasure: none
        return False
    _DELIVERY[0](survey=survey, link=survey_link(survey), reminder=reminder)
    return True


def surveys_expire_erased(*, player, now: datetime | None = None) -> int:
    """The player's personal data was erased on request (players.services.privacy): the
    surveys still waiting for their answer expire (no reminder, no answer taken), saying why."""
    return SatisfactionSurvey.objects.filter(player=player, status=SurveyStatus.SENT).update(
        status=SurveyStatus.EXPIRED, expiry_reason=SurveyExpiry.ERASED, expired_at=now or timezone.now()
    )


def surveys_remind(*, now: datetime | None = None) -> int:
    """One reminder, CRM_SURVEY_REMIND_AFTER_HOURS after sending, for surveys still
    unanswered; surveys past their link's validity expire."""
    now = now or timezone.now()
    valid = timedelta(days=int(getattr(settings, "CRM_SURVEY_VALID_DAYS", 14)))
    # Expired when its link stopped working: CRM_SURVEY_VALID_DAYS after sending.
    SatisfactionSurvey.objects.filter(status=SurveyStatus.SENT, sent_at__lt=now - valid).update(
        status=SurveyStatus.EXPIRED, expiry_reason=SurveyExpiry.NO_ANSWER, expired_at=F("sent_at") + valid
    )
    after = timedelta(hours=int(getattr(settings, "CRM_SURVEY_REMIND_AFTER_HOURS", 48)))
    due = list(
        SatisfactionSurvey.objects.filter(
            status=SurveyStatus.SENT, reminded_at__isnull=True, sent_at__lt=now - after
        ).values_list("pk", flat=True)[:5000]
    )
    claimed = SatisfactionSurvey.objects.filter(pk__in=due, reminded_at__isnull=True).update(reminded_at=now)
    for pk in due:
        transaction.on_commit(lambda pk=pk: survey_deliver(survey_id=pk, reminder=True), robust=True)
    return claimed


# --- the answer -----------------------------------------------------------------------------
def survey_answer_clean(*, score, reason) -> tuple[int, str]:
    errors = {}
    if isinstance(score, bool) or not isinstance(score, int | str):
        errors["score"] = [_("A whole number from 1 to 5.")]
    else:
        try:
            score = int(str(score).strip())
        except ValueError:
            errors["score"] = [_("A whole number from 1 to 5.")]
        else:
            if not 1 <= score <= 5:
                errors["score"] = [_("A whole number from 1 to 5.")]
    if reason is not None and not isinstance(reason, str):
        errors["reason"] = [_("Text, at most %(max)d characters.") % {"max": REASON_MAX}]
    reason = (reason or "").strip() if isinstance(reason, str) else ""
    if len(reason) > REASON_MAX:
        errors["reason"] = [_("Text, at most %(max)d characters.") % {"max": REASON_MAX}]
    if "\x00" in reason:
        errors["reason"] = [_("The text contains characters that are not allowed.")]
    if errors:
        raise ValidationError(errors)
    return score, reason


@transaction.atomic
def survey_answer(
    *, survey: SatisfactionSurvey, score, reason: str = "", via: str, now: datetime | None = None
) -> SatisfactionSurvey:
    """The player's answer, once. A case's score lands on the case; a low score opens a
    follow-up task for a supervisor."""
    score, reason = survey_answer_clean(score=score, reason=reason)
    now = now or timezone.now()
    survey = SatisfactionSurvey.objects.select_for_update().get(pk=survey.pk)
    if survey.status == SurveyStatus.ANSWERED:
        raise ValidationError({"survey": [_("This survey was already answered. Thank you!")]})
    if survey.status == SurveyStatus.EXPIRED:
        raise ValidationError({"survey": [_("This survey has expired.")]})
    survey.status = SurveyStatus.ANSWERED
    survey.score, survey.reason, survey.answered_at, survey.answered_via = score, reason, now, SurveyVia(via)
    survey.full_clean()
    survey.save(update_fields=["status", "score", "reason", "answered_at", "answered_via"])
    if survey.case_id:
        case = Case.objects.get(pk=survey.case_id)
        if case.status in (CaseStatus.RESOLVED, CaseStatus.CLOSED):
            case_record_satisfaction(case=case, score=score, note=reason, actor=None, now=now)
    if (
        survey_is_low(score) and _FOLLOW_UP and not player_is_erased(survey.player)
    ):  # an erased player is not called back
        _FOLLOW_UP[0](survey=survey)
    return survey
