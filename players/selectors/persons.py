"""Reads about VIP people: which accounts make one person.

A person is their main account (`person_account` empty) and the accounts linked to it.
Almost every account is a person of one account, so each read asks the partial index
`player_person_linked` first and returns nothing for them."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from django.conf import settings
from django.db.models import F, Q

from ..models import Player

BASIS_PERSON, BASIS_ACCOUNT = "person", "account"


def person_basis() -> str:
    """Whose ledger the tier scheme and payer status count: the VIP person's (every
    linked account, the default) or each account's alone (setting CRM_VIP_TIER_BASIS)."""
    basis = getattr(settings, "CRM_VIP_TIER_BASIS", BASIS_PERSON)
    return BASIS_ACCOUNT if basis == BASIS_ACCOUNT else BASIS_PERSON


def persons_only_q(path: str = "") -> Q:
    """Rows counted once per VIP person when statuses count per person (every account
    of a person carries the person's payer status): the main accounts. Per account:
    every account. `path` leads to the player (e.g. "player__")."""
    if person_basis() == BASIS_ACCOUNT:
        return Q()
    return Q(**{f"{path}person_account__isnull": True})


def person_of(player: Player) -> Player:
    """The person's main account (the player itself when it is one): where the writers of
    what belongs to the person (contacts, cases, consents, tasks, gifts) put a record
    made on any of the person's accounts."""
    if player.person_account_id:
        return Player.objects.get(pk=player.person_account_id)
    return player


def persons_main(player_ids: Iterable[int]) -> dict[int, int]:
    """{linked account: its person's main account} for those of these accounts that are
    linked (one query over the primary key; accounts alone and main accounts are left
    out). What belongs to the person is written there: `person_of` for one."""
    ids = sorted({int(pk) for pk in player_ids})
    found: dict[int, int] = {}
    for start in range(0, len(ids), 5000):
        found.update(
            Player.objects.filter(pk__in=ids[start : start + 5000], person_account__isnull=False).values_list(
                "pk", "person_account_id"
            )
        )
    return found


def person_alone(player: Player) -> bool:
    """Whether the player is known, as it was read, to be a person of one account: no
    main account of its own (`person_account_id`) and none linked to it (`person_linked`,
    which the projection's recount reads with the player: `ledger_engines.totals_recompute`).
    False when that was not read: ask `person_accounts`."""
    return getattr(player, "person_linked", None) is False and player.person_account_id is None


def person_accounts(player_ids: Iterable[int]) -> dict[int, tuple[int, ...]]:
    """For each of these accounts that belongs to a person of several accounts: every
    account of that person, the main account first. Accounts alone are left out (two
    three index probes, the last only when a person was found)."""
    ids = sorted({int(pk) for pk in player_ids})
    if not ids:
        return {}
    # Two probes, not one OR: each uses its index (the primary key; player_person_linked).
    mains = set(
        Player.objects.filter(pk__in=ids, person_account__isnull=False).values_list("person_account_id", flat=True)
    )
    mains |= set(Player.objects.filter(person_account__in=ids).values_list("person_account_id", flat=True))
    if not mains:
        return {}
    members: dict[int, list[int]] = defaultdict(list)
    # No ORDER BY: with statistics from before accounts were linked, PostgreSQL would walk
    # the primary key in order over every player (1.5 s at 1M) rather than the partial index.
    for pk, main in Player.objects.filter(person_account__in=sorted(mains)).values_list("pk", "person_account_id"):
        members[main].append(pk)
    groups = {main: (main, *sorted(linked)) for main, linked in members.items()}
    wanted = set(ids)
    return {pk: group for group in groups.values() for pk in group if pk in wanted}


def person_accounts_of(player: Player) -> list[Player]:
    """Every account of the player's person (main first), the player's alone when it has none linked."""
    main_id = player.person_account_id or player.pk
    return list(
        Player.objects.filter(Q(pk=main_id) | Q(person_account=main_id))
        .select_related("tier")
        .order_by(F("person_account_id").asc(nulls_first=True), "pk")
    )
