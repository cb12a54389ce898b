"""Writes to a player's profile: what the game knows (`player_upsert`: the API and imports)
and what staff edit (`player_update`: the admin)."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from ..models import Player
from .birthdays import birthday_key_apply
from .privacy import PlayerErased, erased_players_find
from .servers import server_current

# What an erasure blanked on the player: staff may not write it again.
ERASED_FIELDS = (*Player.PERSONAL_FIELDS, "nickname", "notes")

# Fields the game owns: the API and imports may set them. Staff-owned fields
# (manager, tags, notes, contact preferences) are not in this list.
# A VIP person's contact preferences: set on any of their accounts, they are set on all of
# them (messages go to the person's main account, and each account's page shows them).
PERSON_PREFERENCES = ("preferred_channel", "timezone")

GAME_FIELDS = ("nickname", "server", "registered_at", "channel", "level", "last_login_at", "phone", "birthday")


@transaction.atomic
def player_upsert(*, account_id: str, data: dict, actor=None) -> tuple[Player, bool]:
    """Create or update the profile the game knows. Only GAME_FIELDS are written;
    staff-owned fields are never touched. Returns (player, created)."""
    unknown = set(data) - set(GAME_FIELDS)
    if unknown:
        raise ValidationError({name: [_("This field cannot be set here.")] for name in sorted(unknown)})
    player = Player.objects.select_for_update().filter(account_id=account_id).first()
    if player is None and erased_players_find([account_id]):
        raise PlayerErased(account_id)  # the game's profile of an erased player is not stored again
    created = player is None
    if created:
        player = Player(account_id=account_id)
    if isinstance(data.get("server"), str) and data["server"] != player.server:
        data = {**data, "server": server_current(data["server"])}  # an id merged away (合服) names its new server
    for name, value in data.items():
        setattr(player, name, value)
    # An existing player's other fields are not this request's to judge: a value stored
    # before today's rules (say a login in 9999) must not block every later update.
    unchecked = set() if created else {field.name for field in Player._meta.fields} - set(data)
    if "last_login_at" in data and not created:
        previous = Player.objects.filter(pk=player.pk).values_list("last_login_at", flat=True).first()
        if previous and (value := data["last_login_at"]) and value < previous:
            player.last_login_at = previous  # logins only move forward
            unchecked.add("last_login_at")
    player.full_clean(exclude=["tier", *unchecked], validate_unique=created)
    birthday_key_apply(player)
    player._history_user = actor
    player.save()
    return player, created


@transaction.atomic
def player_update(*, player: Player, data: dict, actor) -> Player:
    """Staff edit of any profile field (the admin's player page, the demo). A new player is
    checked whole; an existing one on the fields written (a value stored before today's
    rules is not this edit's to judge). An erased player's personal data stays erased."""
    if player.pk is not None and player.erased_at:
        refused = sorted(name for name, value in data.items() if name in ERASED_FIELDS and value not in ("", None))
        if refused:
            raise ValidationError(
                {
                    name: [_("This player's personal data was erased on request; it is not stored again.")]
                    for name in refused
                }
            )
    for name, value in data.items():
        setattr(player, name, value)
    if player.pk is None:
        player.full_clean()
    else:
        player.full_clean(exclude=[f.name for f in Player._meta.fields if f.name not in data], validate_unique=False)
    birthday_key_apply(player)
    player._history_user = actor
    with transaction.atomic():
        player.save()
        _person_preferences_share(player, [name for name in PERSON_PREFERENCES if name in data], actor)
    return player


def _person_preferences_share(player: Player, names: list[str], actor) -> None:
    """The person's other accounts take the preferences just written (one history row each)."""
    if not names or not (player.person_account_id or Player.objects.filter(person_account=player.pk).exists()):
        return
    main_id = player.person_account_id or player.pk
    values = {name: getattr(player, name) for name in names}
    for other in Player.objects.filter(Q(pk=main_id) | Q(person_account=main_id)).exclude(pk=player.pk):
        if any(getattr(other, name) != value for name, value in values.items()):
            for name, value in values.items():
                setattr(other, name, value)
            other._history_user = actor
            other.save(update_fields=[*names, "updated_at"])


# --- VIP managers ---------------------------------------------------------------
# A player's manager is written only by vip's assignment service (one ManagerAssignment row
# per move, with its permission rule). vip hands it in at VipConfig.ready, as it hands the
# ledger its tier step; doors of this app that move players (imports) call it from here.
_MANAGER_ASSIGNER: list = []


def manager_assigner_set(*, assign, allowed) -> None:
    """`assign(*, players, manager, actor, note) -> int` moves players (a queryset) to a
    manager; `allowed(actor) -> bool` says whether the actor may."""
    _MANAGER_ASSIGNER[:] = [(assign, allowed)]


def _manager_assigner():
    if not _MANAGER_ASSIGNER:
        raise ImproperlyConfigured("No manager assignment service: the vip app is not installed.")
    return _MANAGER_ASSIGNER[0]


def manager_assign_allowed(actor) -> bool:
    """Whether `actor` may move players between VIP managers (vip's rule)."""
    return _manager_assigner()[1](actor)


def players_assign_manager(*, players, manager, actor, note: str = "") -> int:
    """Move `players` to `manager` through vip's assignment service."""
    return _manager_assigner()[0](players=players, manager=manager, actor=actor, note=note)
