"""VIP people: link game accounts to one person, merge two people, undo a merge.

A person is their main account; linked accounts point at it (`Player.person_account`,
one level). What belongs to the person lives on the main account: its profile values
(`PERSON_FIELDS`), its tags and manager, and the rows of the tables registered here
(`person_table_register`: contacts, cases, feedback, surveys, consents here; manager
history from vip; tasks, messages and gifts from campaigns). The ledger, the tier and
payer-status history and whatever else is not registered stay with their account.

`persons_merge` is the one writer of a person: a supervisor's merge in the admin, a
link through the game API (a merge of a person of one account) and the duplicate
finder's pairs all come here. It keeps the winner's profile values, fills its empty ones
from the person merged in (or takes the values the supervisor chose), moves every
registered row to the winner (a row whose unique key the winner already holds stays where
it is: nothing is deleted), links every account of the person merged in to the winner,
gives them the person's manager (through vip's assignment service, one history row
each), has the projection recompute their tiers and payer status, and records all of it in a
`PersonMerge`, so that `person_merge_undo` restores both people as they were.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, models, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from ..models import PersonLinkRequest, PersonMerge, PersonMergeKind, Player, player_erased_error
from ..selectors import players_visible_to
from .birthdays import birthdays_refresh
from .consents import consents_take_later, consents_take_later_undo
from .ledger_engines import PLAYER_STATE_FIELDS
from .profile import players_assign_manager
from .projection import REBUILD, players_project

MERGE_PERMISSION = "players.merge_people"


class LinkConflict(ValidationError):
    """A link or unlink the accounts' present state does not allow (the API's 409)."""


# The person's own profile values (the manager and the tags are the person's too, and
# move through their own writers). The game's values (nickname, server, level, logins)
# stay per account.
PERSON_FIELDS = (
    "real_name",
    "phone",
    "qq",
    "wechat",
    "email",
    "birthday",
    "notes",
    "preferred_channel",
    "timezone",
)
# Chosen together with another value: a lunar flag goes with its birthday.
_FOLLOWS = {"birthday": ("birthday_is_lunar",)}


@dataclass(frozen=True)
class PersonTable:
    """A table whose rows belong to the person: `field` is its foreign key to Player."""

    model: type[models.Model]
    field: str = "player"

    @property
    def label(self) -> str:
        return self.model._meta.label


PERSON_TABLES: dict[str, PersonTable] = {}


def person_table_register(model: type[models.Model], field: str = "player") -> None:
    """Rows of `model` belong to the VIP person: a merge moves them (apps built on players
    register theirs at start-up)."""
    table = PersonTable(model, field)
    PERSON_TABLES[table.label] = table


def _register_own_tables() -> None:
    from ..models import Case, Consent, ConsentEvent, ContactLog, FeedbackReport, SatisfactionSurvey

    for model in (ContactLog, Case, FeedbackReport, SatisfactionSurvey, ConsentEvent, Consent):
        person_table_register(model)


_register_own_tables()


def merge_allowed(actor) -> bool:
    """Who may merge people and undo merges: supervisors (players.merge_people), and the
    system (no actor: a game server's link through the API)."""
    return actor is None or actor.has_perm(MERGE_PERMISSION)


def merge_undo_days() -> int:
    return int(getattr(settings, "CRM_PERSON_MERGE_UNDO_DAYS", 30))


def _is_empty(value) -> bool:
    return value is None or value == "" or value is False


def _json(value):
    if isinstance(value, date | datetime):
        return value.isoformat()
    return None if value is None else str(value) if not isinstance(value, bool | int) else value


def _profile(player: Player) -> dict:
    names = [*PERSON_FIELDS, *(f for follows in _FOLLOWS.values() for f in follows)]
    return {name: _json(getattr(player, name)) for name in names}


def _profile_restore(player: Player, values: dict) -> list[str]:
    """Set the snapshot's values back on `player`; the names written."""
    written = []
    for name, value in values.items():
        field = Player._meta.get_field(name)
        if isinstance(field, models.DateField) and value:
            value = date.fromisoformat(value)
        elif value is None and not field.null:
            value = ""
        setattr(player, name, value)
        written.append(name)
    return written


def _accounts(main_ids) -> list[Player]:
    """Every account of these people, locked, in id order (the main accounts included)."""
    return list(
        Player.objects.select_for_update()
        .filter(Q(pk__in=main_ids) | Q(person_account__in=main_ids))
        .order_by("pk")
        .only("pk", "person_account_id", "manager_id", "erased_at")
    )


def _check(actor, players: list[Player]) -> None:
    if not merge_allowed(actor):
        raise PermissionDenied(_("You may not merge people."))
    if actor is not None and players_visible_to(actor).filter(pk__in=[p.pk for p in players]).count() != len(
        {p.pk for p in players}
    ):
        raise PermissionDenied(_("You may not merge people."))


def _move(table: PersonTable, from_ids: list[int], to_id: int) -> dict[str, list[int]]:
    """Move the rows of `from_ids` to `to_id`, except those whose unique key `to_id` (or an
    earlier row moved now) already holds: they stay. {from id: [row ids]}."""
    model, field = table.model, table.field
    rows = model._default_manager.filter(**{f"{field}__in": from_ids})
    keys = [
        [name for name in constraint.fields if name != field]
        for constraint in model._meta.constraints
        if isinstance(constraint, models.UniqueConstraint) and field in constraint.fields
    ]
    if model._meta.get_field(field).unique:  # one row per player (a one-to-one): the winner's stays
        keys.append([])
    for key in keys:
        held = model._default_manager.filter(**{field: to_id}, **{name: OuterRef(name) for name in key})
        rows = rows.exclude(Exists(held))
    moved: dict[str, list[int]] = defaultdict(list)
    seen: set[tuple] = set()
    columns = [f"{name}_id" if model._meta.get_field(name).is_relation else name for name in sum(keys, [])]
    for pk, owner, *values in rows.order_by("pk").values_list("pk", field, *columns):
        if keys:
            if tuple(values) in seen:
                continue
            seen.add(tuple(values))
        moved[str(owner)].append(pk)
    ids = [pk for pks in moved.values() for pk in pks]
    for start in range(0, len(ids), 1000):
        model._default_manager.filter(pk__in=ids[start : start + 1000]).update(**{field: to_id})
    return dict(moved)


def _project(player_ids: list[int], actor, now) -> None:
    """The projection recomputes the tier and payer status of these accounts (the one rule:
    per person or per account, as the tier scheme says)."""
    players = list(Player.objects.filter(pk__in=player_ids).only(*PLAYER_STATE_FIELDS))
    players_project(players=players, reason=REBUILD, trigger="refresh", actor=actor, now=now)


@transaction.atomic
def persons_merge(
    *,
    winner: Player,
    loser: Player,
    actor,
    take_from_loser=(),
    note: str = "",
    kind: str = PersonMergeKind.MERGE,
    request_id: str = "",
    now: datetime | None = None,
) -> PersonMerge:
    """Merge the person of `loser` into the person of `winner` (see the module). `take_from_loser`
    names the PERSON_FIELDS (and "manager") whose value the supervisor chose from the person
    merged in; every other empty value of the winner is filled from it."""
    now = now or timezone.now()
    take = set(take_from_loser)
    unknown = take - {*PERSON_FIELDS, "manager"}
    if unknown:
        raise ValidationError(
            {"take_from_loser": [_("Unknown values: %(names)s.") % {"names": ", ".join(sorted(unknown))}]}
        )
    person = dict(Player.objects.filter(pk__in=[winner.pk, loser.pk]).values_list("pk", "person_account_id"))
    if len(person) != len({winner.pk, loser.pk}):
        raise ValidationError({"loser": [_("This account no longer exists.")]})
    main_w = person[winner.pk] or winner.pk
    main_l = person[loser.pk] or loser.pk
    accounts = _accounts([main_w, main_l])
    by_pk = {p.pk: p for p in accounts}
    if main_w not in by_pk or main_l not in by_pk:
        raise ValidationError({"loser": [_("This account no longer exists.")]})
    if by_pk[main_w].person_account_id or by_pk[main_l].person_account_id:  # merged meanwhile (read before the lock)
        raise ValidationError({"loser": [_("These people changed meanwhile: open the merge again.")]})
    _check(actor, accounts)
    if main_w == main_l:
        raise ValidationError({"loser": [_("These accounts are already one person.")]})
    if any(p.erased_at for p in accounts):
        raise player_erased_error()
    w = Player.objects.get(pk=main_w)
    lo = Player.objects.get(pk=main_l)
    losers = [p.pk for p in accounts if p.pk == main_l or p.person_account_id == main_l]
    everyone = [p.pk for p in accounts]

    before = {
        "winner": _profile(w),
        "loser": _profile(lo),
        "accounts": {str(p.pk): [p.person_account_id, p.manager_id] for p in accounts},
    }
    # The profile: the winner's values, its empty ones filled from the person merged in,
    # and the values the supervisor chose from it.
    taken = []
    for name in PERSON_FIELDS:
        mine, theirs = getattr(w, name), getattr(lo, name)
        if (name in take or _is_empty(mine)) and not _is_empty(theirs) and mine != theirs:
            setattr(w, name, theirs)
            for follower in _FOLLOWS.get(name, ()):
                setattr(w, follower, getattr(lo, follower))
            taken.append(name)
    manager_id = w.manager_id
    if lo.manager_id and ("manager" in take or not manager_id):
        manager_id = lo.manager_id
        if manager_id != w.manager_id:
            taken.append("manager")
    if any(name in PERSON_FIELDS for name in taken):
        w._change_reason = _("merged with another person")
        w.save(update_fields=[*(n for n in taken if n != "manager"), *_followers(taken), "updated_at"])
        birthdays_refresh(player_ids=[w.pk])

    added_tags = sorted(set(lo.tags.values_list("pk", flat=True)) - set(w.tags.values_list("pk", flat=True)))
    if added_tags:
        w.tags.add(*added_tags)
    before["tags_added"] = added_tags

    # The rows that are the person's: the later consent in force first (it overwrites the
    # winner's row of the same key), then every registered table.
    before["consents"] = consents_take_later(from_ids=losers, to_id=w.pk)
    moves = {label: _move(table, losers, w.pk) for label, table in PERSON_TABLES.items()}
    moves = {label: rows for label, rows in moves.items() if rows}

    Player.objects.filter(pk__in=losers).update(person_account=w.pk, updated_at=now)
    if any(p.manager_id != manager_id for p in accounts):  # the manager's own rule (and permission) decides
        players_assign_manager(
            players=Player.objects.filter(pk__in=everyone),
            manager=get_user_model().objects.filter(pk=manager_id).first() if manager_id else None,
            actor=actor,
            note=_("merge of people"),
        )
    _project(everyone, actor, now)
    return PersonMerge.objects.create(
        kind=kind,
        winner=w,
        loser=lo,
        kept_from_loser=taken,
        before=before,
        moves=moves,
        rows_moved=sum(len(ids) for rows in moves.values() for ids in rows.values()),
        note=note,
        merged_by=actor,
        merged_at=now,
        request_id=request_id,
    )


def _followers(names) -> list[str]:
    return [f for name in names for f in _FOLLOWS.get(name, ())]


def merge_undo_refusal(merge: PersonMerge, *, now: datetime | None = None) -> str:
    """Why this merge cannot be undone now ("" when it can)."""
    now = now or timezone.now()
    if merge.undone_at:
        return _("This merge was already undone.")
    if not merge.before:  # its record was erased with a person's personal data
        return _("The personal data of one of these people was erased: the merge cannot be undone.")
    if merge.kind not in (PersonMergeKind.MERGE, PersonMergeKind.LINK):
        return _("Only a merge or a link can be undone.")
    if now - merge.merged_at > timedelta(days=merge_undo_days()):
        return _("A merge can be undone within %(days)d days.") % {"days": merge_undo_days()}
    people = [merge.winner_id, merge.loser_id]
    later = PersonMerge.objects.filter(
        Q(winner__in=people) | Q(loser__in=people),
        pk__gt=merge.pk,
        kind__in=[PersonMergeKind.MERGE, PersonMergeKind.LINK],
        undone_at__isnull=True,
    )
    if later.exists():
        return _("A later merge of these people must be undone first.")
    return ""


@transaction.atomic
def person_merge_undo(*, merge: PersonMerge, actor, now: datetime | None = None) -> PersonMerge:
    """Put both people back as they were before `merge`: the accounts' person and manager,
    the winner's profile values and tags, every row moved and the consent it overwrote.
    What was recorded since stays (a contact logged after the merge stays with the winner)."""
    now = now or timezone.now()
    merge = PersonMerge.objects.select_for_update().get(pk=merge.pk)
    before = merge.before
    account_ids = sorted(int(pk) for pk in before["accounts"])
    accounts = _accounts(account_ids)
    _check(actor, accounts)
    refusal = merge_undo_refusal(merge, now=now)
    if refusal:
        raise ValidationError(refusal)

    for label, rows in merge.moves.items():
        table = PERSON_TABLES[label]
        for owner, ids in rows.items():
            for start in range(0, len(ids), 1000):
                table.model._default_manager.filter(
                    pk__in=ids[start : start + 1000], **{table.field: merge.winner_id}
                ).update(**{table.field: int(owner)})
    consents_take_later_undo(before.get("consents", []))

    w = Player.objects.get(pk=merge.winner_id)
    changed = _profile_restore(w, {k: v for k, v in before["winner"].items() if _profile(w).get(k) != v})
    if changed:
        w._change_reason = _("merge of people undone")
        w.save(update_fields=[*changed, "updated_at"])
        birthdays_refresh(player_ids=[w.pk])
    if before.get("tags_added"):
        w.tags.remove(*before["tags_added"])

    for pk, (person_id, _manager_id) in before["accounts"].items():
        Player.objects.filter(pk=int(pk)).update(person_account=person_id, updated_at=now)
    by_manager: dict[int | None, list[int]] = defaultdict(list)
    for pk, (_person_id, manager_id) in before["accounts"].items():
        by_manager[manager_id].append(int(pk))
    User = get_user_model()
    now_managed = dict(Player.objects.filter(pk__in=account_ids).values_list("pk", "manager_id"))
    for manager_id, ids in by_manager.items():
        if all(now_managed.get(pk) == manager_id for pk in ids):
            continue
        players_assign_manager(
            players=Player.objects.filter(pk__in=ids),
            manager=User.objects.filter(pk=manager_id).first() if manager_id else None,
            actor=actor,
            note=_("merge of people undone"),
        )
    _project(account_ids, actor, now)
    merge.undone_at, merge.undone_by = now, actor
    merge.save(update_fields=["undone_at", "undone_by"])
    return merge


@transaction.atomic
def account_link(*, person: Player, account: Player, actor, request_id: str = "", now=None) -> PersonMerge | None:
    """Link `account` to the VIP person of `person` (a game server's 绑定账号): a merge of the
    account's person into `person`'s, keeping the person's values. None when it is already linked."""
    person.refresh_from_db(fields=["person_account"])
    account = Player.objects.select_for_update().get(pk=account.pk)
    main = person.person_account_id or person.pk
    if (account.person_account_id or account.pk) == main:
        return None
    if account.linked_accounts.exists():
        raise LinkConflict(
            {"account_id": [_("This account is the main account of another person: merge the two people instead.")]}
        )
    if account.person_account_id:
        raise LinkConflict({"account_id": [_("This account is linked to another person: unlink it first.")]})
    return persons_merge(
        winner=person, loser=account, actor=actor, kind=PersonMergeKind.LINK, request_id=request_id, now=now
    )


@transaction.atomic
def account_unlink(*, account: Player, actor, request_id: str = "", now=None) -> PersonMerge | None:
    """Take a linked account out of its person: it becomes a person of its own, with the
    same manager; what belongs to the person stays with the person. None when it is linked to nobody."""
    now = now or timezone.now()
    if not merge_allowed(actor):
        raise PermissionDenied(_("You may not merge people."))
    account = Player.objects.select_for_update().get(pk=account.pk)
    if not account.person_account_id:
        if account.linked_accounts.exists():
            raise LinkConflict({"account_id": [_("This is the person's main account: unlink the others.")]})
        return None
    main_id = account.person_account_id
    Player.objects.filter(pk=account.pk).update(person_account=None, updated_at=now)
    _project(
        [main_id, *Player.objects.filter(person_account=main_id).values_list("pk", flat=True), account.pk], actor, now
    )
    return PersonMerge.objects.create(
        kind=PersonMergeKind.UNLINK,
        winner_id=main_id,
        loser=account,
        before={"accounts": {str(account.pk): [main_id, account.manager_id]}},
        merged_by=actor,
        merged_at=now,
        request_id=request_id,
    )


# --- the game API: link and unlink, once per request id ----------------------------------
LINK, UNLINK = "link", "unlink"


def _fingerprint(action: str, account_id: str, person_account_id: str | None) -> str:
    raw = json.dumps([action, account_id, person_account_id], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(raw.encode()).hexdigest()


def person_accounts_answer(player: Player, *, server: str = "") -> dict:
    """The person of `player` as the API tells it: the main account's id and every account's
    id (only those of `server` for a client bound to one server)."""
    main_id = Player.objects.filter(pk=player.pk).values_list("person_account_id", flat=True).get() or player.pk
    accounts = Player.objects.filter(Q(pk=main_id) | Q(person_account=main_id))
    if server:
        accounts = accounts.filter(server=server)
    main = Player.objects.filter(pk=main_id).values_list("account_id", flat=True).get()
    return {"person_account_id": main, "accounts": list(accounts.order_by("pk").values_list("account_id", flat=True))}


@transaction.atomic
def account_link_request(
    *,
    client,
    request_id: str,
    action: str,
    account: Player,
    person: Player | None = None,
    now: datetime | None = None,
) -> tuple[str, dict]:
    """A game server links `account` to the person of `person` (LINK) or takes it out of its
    person (UNLINK), exactly once per (client, request id): ("linked" | "unlinked" |
    "unchanged", the answer) the first time; ("duplicate", the first answer) for a retry
    with the same body; ("conflict", {}) for the same request id with another body, and
    nothing changes. A refusal (ValidationError) keeps nothing, the request id included."""
    now = now or timezone.now()
    fingerprint = _fingerprint(action, account.account_id, person.account_id if person else None)
    try:
        with transaction.atomic():  # concurrent copies wait here on the unique key, then read the first
            request = PersonLinkRequest.objects.create(
                client=client, request_id=request_id, fingerprint=fingerprint, received_at=now
            )
    except IntegrityError:
        stored = PersonLinkRequest.objects.get(client=client, request_id=request_id)
        if stored.fingerprint != fingerprint:
            return "conflict", {}
        return "duplicate", stored.result
    if action == LINK:
        merge = account_link(person=person, account=account, actor=None, request_id=request_id, now=now)
        outcome = "linked" if merge else "unchanged"
    else:
        merge = account_unlink(account=account, actor=None, request_id=request_id, now=now)
        outcome = "unlinked" if merge else "unchanged"
    if merge:
        merge.note = f"api:{client.name}"[:500]
        merge.save(update_fields=["note"])
    result = {"status": outcome, "request_id": request_id, "account_id": account.account_id}
    result.update(person_accounts_answer(account, server=client.server))
    request.result, request.merge = result, merge
    request.save(update_fields=["result", "merge"])
    return outcome, result
