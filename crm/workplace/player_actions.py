"""Quick actions on the player page: one registered function per action, returning the
action or None when the user may not take it. Areas add theirs in their panel module."""

from __future__ import annotations

from collections.abc import Callable
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


_ACTIONS: dict[str, tuple[int, Callable]] = {}


def quick_action(key: str, *, order: int = 100):
    """Decorator: register `build(player, user) -> QuickAction | None`."""

    def register(build):
        _ACTIONS[key] = (order, build)
        return build

    return register


def quick_actions(*, player, user) -> list[QuickAction]:
    from . import panels as _load  # noqa: F401  (panel modules register their actions)

    if player.erased_at:  # erased on request (PIPL Art. 47): kept, no longer worked on
        return []

    built = (build(player, user) for _order, build in sorted(_ACTIONS.values(), key=lambda item: item[0]))
    return [action for action in built if action is not None]


@quick_action("contact", order=10)
def log_contact(player, user):
    if user.has_perm("players.add_contactlog"):
        return QuickAction("contact", _("Log contact"), "#log-contact")
    return None


@quick_action("task", order=30)
def create_task(player, user):
    if not user.has_perm("campaigns.add_outreachtask"):
        return None
    url = admin_url(
        "campaigns_outreachtask_add",
        player=player.pk,
        assignee=user.pk,
        kind=TaskKind.FOLLOW_UP,
        due_date=timezone.localdate().isoformat(),
    )
    return QuickAction("task", _("Create task"), url)


@quick_action("pin", order=40)
def pin_tier(player, user):
    if user.has_perm("players.change_player"):
        return QuickAction("pin", _("Pin tier"), reverse("workplace:pin_tier", args=[player.pk]))
    return None
