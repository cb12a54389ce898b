"""Writes for the script library (话术库): save a script (its {variables} checked), and
insert one for a player (filled in, counted). Texts that still hold a {variable} when a
contact, a case reply or a task is saved are refused there (`players.templating.
unresolved_check`)."""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.names import staff_name

from ..models import CallScript, Player
from ..selectors import players_visible_to
from ..templating import template_render_partial


@transaction.atomic
def script_save(*, script: CallScript, actor=None) -> CallScript:
    """Create or edit a script; every step's {variables} are checked (unknown ones are
    refused, naming the step)."""
    for field in ("name", "question", "step_verify", "step_introduce", "step_convenient", "step_purpose", "step_close"):
        setattr(script, field, (getattr(script, field) or "").strip())
    script.updated_by = actor
    script.full_clean()
    script.save()
    return script


def script_insert(*, script: CallScript, player: Player, actor, now: datetime | None = None) -> str:
    """The script filled in for this player, to put into a contact, a case reply or a
    task note; counts one use. A variable this player has no value for stays as
    {variable}: the text cannot be saved until staff complete it."""
    if actor is not None and not players_visible_to(actor).filter(pk=player.pk).exists():
        raise PermissionDenied(_("You may only use scripts for your own players."))
    if not script.enabled:
        raise ValidationError({"script": [_("This script is no longer in use.")]})
    now = now or timezone.now()
    player = Player.objects.select_related("tier", "manager").get(pk=player.pk)
    text = template_render_partial(script.text(), player=player, extra={"me": staff_name(actor)}, now=now)
    script_used(script_id=script.pk, now=now)
    return text


def script_used(*, script_id: int, times: int = 1, now: datetime | None = None) -> None:
    """Count uses of a script: one per insertion, one per call task a campaign or a greeting
    rule hands out with it."""
    if times > 0:
        CallScript.objects.filter(pk=script_id).update(
            usage_count=F("usage_count") + times, last_used_at=now or timezone.now()
        )
