"""Writes to the contact log (回访): the one place its rules live, so the quick form on
the player page, the admin's add and change pages, the campaigns' task outcomes and
the messaging service all enforce the same ones. Every edit of a contact leaves a
`ContactLogChange` row (who changed which fields, when, from what to what)."""

from __future__ import annotations

from datetime import date, datetime

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ..models import ContactLog, ContactLogChange, Player
from ..selectors.persons import person_of
from ..selectors.service_records import follow_ups_open
from ..templating import unresolved_errors

# What staff may change on a logged contact (who logged it, its source and when it was
# recorded are facts, not edits).
CONTACT_EDITABLE_FIELDS = (
    "player",
    "channel",
    "direction",
    "contacted_at",
    "duration_minutes",
    "topic",
    "summary",
    "outcome",
    "next_follow_up",
)


def contact_log_check(*, values: dict, changed=None) -> None:
    """The contact rules, on a contact's values ({field: value}); `changed` names the
    fields being written now (None: a new contact, every field is). Raises a
    ValidationError naming the field.

    - a contact says what it was about: a topic, a summary or an outcome;
    - a follow-up date set now comes no earlier than the day of the contact: for a contact
      logged now, it is not in the past (an old date left as it was may be)."""
    errors = {}
    if not any(values.get(name) for name in ("topic", "summary", "outcome")):
        errors["__all__"] = [_("Say what the contact was about: a topic, a summary or an outcome.")]
    follow_up = values.get("next_follow_up")
    if follow_up and (changed is None or "next_follow_up" in changed):
        today = timezone.localdate()
        contacted_at = values.get("contacted_at")
        contact_day = timezone.localdate(contacted_at) if contacted_at else today
        if follow_up < contact_day:
            errors["next_follow_up"] = [
                _("The follow-up date cannot be in the past.")
                if contact_day >= today
                else _("The follow-up date cannot come before the day of the contact.")
            ]
    errors.update(unresolved_errors(values, [n for n in ("topic", "summary") if changed is None or n in changed]))
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def contact_log_create(
    *,
    player: Player,
    staff,
    channel: str,
    contacted_at: datetime | None = None,
    direction: str = "outbound",
    topic: str = "",
    summary: str = "",
    outcome: str = "",
    duration_minutes: int | None = None,
    next_follow_up=None,
    source: str = "",
) -> ContactLog:
    """Log a contact with the player's VIP person: made on a linked account (its page,
    the admin, a task), it lands on the person's main account, where the card reads it."""
    player = person_of(player)
    contact = ContactLog(
        player=player,
        staff=staff,
        channel=channel,
        direction=direction,
        contacted_at=contacted_at or timezone.now(),
        topic=topic,
        summary=summary,
        outcome=outcome,
        duration_minutes=duration_minutes,
        next_follow_up=next_follow_up,
        source=source,
    )
    contact_log_check(values={name: getattr(contact, name) for name in CONTACT_EDITABLE_FIELDS})
    contact.full_clean()
    contact.save()
    from .surveys import survey_for_contact

    survey_for_contact(contact=contact)  # a return visit is followed by a satisfaction survey
    return contact


def _recorded(value):
    """A value as the change history stores it (JSON)."""
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value


@transaction.atomic
def contact_log_update(*, contact: ContactLog, data: dict, actor) -> ContactLog:
    """Staff edit of a logged contact: the contact rules apply to what changes, and one
    `ContactLogChange` row records who changed what, when. Nothing changed, nothing written."""
    unknown = set(data) - set(CONTACT_EDITABLE_FIELDS)
    if unknown:
        raise ValidationError({name: [_("This field cannot be set here.")] for name in sorted(unknown)})
    contact = ContactLog.objects.select_for_update().get(pk=contact.pk)
    if data.get("player") is not None:  # moved to another account: to that account's person
        data = {**data, "player": person_of(data["player"])}
    changes = {}
    for name, value in data.items():
        old = getattr(contact, name)
        if old != value:
            changes[name] = [_recorded(old), _recorded(value)]
            setattr(contact, name, value)
    if not changes:
        return contact
    contact_log_check(values={name: getattr(contact, name) for name in CONTACT_EDITABLE_FIELDS}, changed=changes)
    contact.full_clean()
    contact.save(update_fields=[name for name in CONTACT_EDITABLE_FIELDS if name in changes])
    ContactLogChange.objects.create(contact=contact, changes=changes, actor=actor, changed_at=timezone.now())
    return contact


# The reason an automatic change records beside the fields it changed ({"reason": [None, code]}),
# read in the reader's language by the contact's change history.
CHANGE_REASON_ERASED = "erased"


def contact_follow_ups_close_erased(*, player: Player, now: datetime) -> int:
    """The player's personal data was erased on request (players.services.privacy): their
    open follow-ups leave the worklists (no contact can answer them any more), each change
    recorded with the reason."""
    contacts = list(follow_ups_open(player=player))
    for contact in contacts:
        ContactLog.objects.filter(pk=contact.pk).update(next_follow_up=None)
        ContactLogChange.objects.create(
            contact=contact,
            changes={
                "next_follow_up": [_recorded(contact.next_follow_up), None],
                "reason": [None, CHANGE_REASON_ERASED],
            },
            actor=None,
            changed_at=now,
        )
    return len(contacts)
