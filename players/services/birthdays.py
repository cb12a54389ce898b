"""The birthday greeting key on Player (`birthday_md`), kept current here.

`crm.calendar.birthday_key` defines it. Every path that changes a birthday
keeps it current: `player_upsert`, `player_update` and the admin call
`birthday_key_apply`; bulk paths (imports, demo data, queryset updates) call the
set-based `birthdays_refresh(player_ids=...)` afterwards. The daily greeting job also
refreshes, through a partial index, players whose key is still missing.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from django.db import transaction
from django.db.models import Q
from django.db.models.functions import ExtractDay, ExtractMonth

from crm.calendar import birthday_key

from ..models import Player
from .profile_engines import profile_engine


@lru_cache(maxsize=50_000)
def _lunar_key(birthday) -> int | None:
    return birthday_key(birthday, True)  # ~18,000 distinct dates of birth: convert each once


def birthday_key_cached(birthday, is_lunar: bool) -> int | None:
    """`birthday_key`, remembering lunar conversions (for bulk paths that build rows)."""
    if birthday is None:
        return None
    return _lunar_key(birthday) if is_lunar else birthday_key(birthday, False)


def birthday_key_apply(player: Player) -> None:
    """Set the key on an unsaved or changed instance (the caller saves it)."""
    player.birthday_md = birthday_key(player.birthday, player.birthday_is_lunar)


@transaction.atomic
def birthdays_refresh(*, player_ids: Iterable[int] | None = None, only_stale: bool = False) -> int:
    """Recompute `birthday_md` for these players (all when None), set-based:
    one UPDATE for solar birthdays, one more for lunar ones on PostgreSQL.
    `only_stale` limits it to players with a birthday but no key. Only keys that are
    wrong are written. Returns the number of players whose key changed.

    Call it after any bulk write of `birthday` / `birthday_is_lunar` (imports,
    `QuerySet.update`, `bulk_create`, raw SQL), with the ids written."""
    players = Player.objects.all()
    if player_ids is not None:
        players = players.filter(pk__in=list(player_ids))
    if only_stale:
        players = players.filter(birthday__isnull=False, birthday_md__isnull=True)
    solar_key = ExtractMonth("birthday") * 100 + ExtractDay("birthday")
    changed = players.filter(Q(birthday__isnull=True) & Q(birthday_md__isnull=False)).update(birthday_md=None)
    # Only rows whose key differs are written (an UPDATE rewrites every index of a row).
    changed += (
        players.filter(birthday__isnull=False, birthday_is_lunar=False)
        .exclude(birthday_md=solar_key)
        .update(birthday_md=solar_key)
    )
    changed += _lunar_keys_write(players.filter(birthday__isnull=False, birthday_is_lunar=True))
    return changed


def _lunar_keys_write(lunar_players) -> int:
    """Write the lunar keys of these players (see `profile_engines`: one UPDATE on PostgreSQL)."""
    return profile_engine().lunar_keys_write(lunar_players, _lunar_key)
