"""Quick actions on the player page: one registered entry per action, shown when the
user may take it. Areas that land later (cases, ...) add theirs here."""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from campaigns.models import TaskKind

from .registry import admin_url


@dataclass
class QuickAction:
    key: str
    label: str
    url: str


def quick_actions(*, player, user) -> list[QuickAction]:
    actions = []
    if user.has_perm("players.add_contactlog"):
        actions.append(QuickAction("contact", _("Log contact"), "#log-contact"))
    if user.has_perm("campaigns.add_outreachtask"):
        actions.append(
            QuickAction(
                "task",
                _("Create task"),
                admin_url(
                    "campaigns_outreachtask_add",
                    player=player.pk,
                    assignee=user.pk,
                    kind=TaskKind.FOLLOW_UP,
                    due_date=timezone.localdate().isoformat(),
                ),
            )
        )
    if user.has_perm("players.change_player"):
        actions.append(QuickAction("pin", _("Pin tier"), reverse("workplace:pin_tier", args=[player.pk])))
    if user.has_perm("players.add_case"):
        actions.append(QuickAction("case", _("Open a case"), admin_url("players_case_add", player=player.pk)))
    if user.has_perm("players.add_feedbackreport"):
        actions.append(
            QuickAction("feedback", _("Record feedback"), admin_url("players_feedbackreport_add", player=player.pk))
        )
    return actions
