"""Server merges (合服): the one writer of `ServerMerge` and of the re-key of accounts.

`server_merge(game=, old_servers=, new_server=, actor=, note=)` moves every account of the
old servers to the new server id in one transaction, set-based (three statements whatever
the number of accounts):

- each moved account gets a row in its change history (who, when, old -> new server, its
  tags as they were), written by INSERT ... SELECT;
- the accounts are re-keyed (and `updated_at` moves, so the API's `updated_since` lists
  them) by `profile_engine().servers_rekey`: one UPDATE, or on PostgreSQL, when the merge
  moves at least a fifth of all accounts, one rewrite of the table under an exclusive lock
  (1M accounts: see bench/bench_servers.py; meanwhile every page and API call that reads a
  player waits for the merge to commit);
- the API clients bound to an old server are bound to the new one
  (`crm.services.api_clients_rebind_server`), and the steps other apps add
  (`server_merge_step_add`: campaigns moves its greeting rules) move what they key by server.

What is not touched: the payment ledger (append-only: a payment keeps the server it was made
on, its event id and its fingerprint, so a game's retry of an old event after the merge is
still a duplicate, never a second payment), tiers, totals and payer status (a server is not
part of spend), and every other history row.

Collisions: an account is keyed by its account id alone (the API addresses a player by it,
API.md), so re-keying the server never makes two accounts one. Two accounts that now share a
server (the same person's, or two roles whose names clash: 合服改名) stay two accounts with
their own ledgers; the game sends a renamed role's new nickname with its next profile.

After a merge, the game may still name an old id (a backend not yet updated, a retry):
`server_current` maps it to the server it was merged into wherever the CRM writes a player's
server (new accounts, profiles) and where a client bound to the new server is checked
(players/api/views.py). Run a merge while the game's servers are down for it, as 合服 is:
an account created on an old id in the same instant as the merge can stay there.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Count, Max
from django.utils import timezone
from django.utils.translation import gettext as _

from ..models import Player
from ..models.servers import ServerMerge, ServerMergeSource
from .profile_engines import profile_engine

MAX_OLD_SERVERS = 100
SERVER_ID = re.compile(r"^[^\s\x00-\x1f\x7f,;]{1,32}$")

# What apps above players key by server (campaigns: greeting rules). Each step is
# `step(*, old_servers, new_server, game, actor, now) -> int` (rows moved).
_MERGE_STEPS: list[Callable[..., int]] = []


def server_merge_step_add(step: Callable[..., int]) -> None:
    if step not in _MERGE_STEPS:
        _MERGE_STEPS.append(step)


@dataclass(frozen=True)
class ServerMergePlan:
    """What a merge will do (the admin's confirmation page, the command's --dry-run)."""

    game: str
    old_servers: tuple[str, ...]
    new_server: str
    accounts: dict[str, int]  # per old server
    rewrite: bool = False  # the players table is rewritten: every read of a player waits for the merge

    @property
    def total(self) -> int:
        return sum(self.accounts.values())


def server_current(server: str) -> str:
    """The server an id now names: itself, or the server it was merged into (following
    later merges of that one). A query only for an id that was merged away."""
    if not isinstance(server, str) or not SERVER_ID.match(server):
        return server  # never an old id (they all match), and no NUL byte reaches the database
    seen = set()
    while server and server not in seen:
        seen.add(server)
        target = ServerMergeSource.objects.filter(server=server).values_list("merge__new_server", flat=True).first()
        if target is None:
            return server
        server = target
    return server


def servers_current(servers: Iterable[str]) -> dict[str, str]:
    """{id: server it now names} for the ids that were merged away (one query when none was)."""
    wanted = {s for s in servers if isinstance(s, str) and SERVER_ID.match(s)}
    if not wanted:
        return {}
    merged = set(ServerMergeSource.objects.filter(server__in=wanted).values_list("server", flat=True))
    return {s: server_current(s) for s in merged}


def _server_id_clean(value, field: str, errors: dict) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not SERVER_ID.match(text):
        errors.setdefault(field, []).append(
            _("A server id is 1 to 32 characters without spaces, commas or control characters: %(value)s")
            % {"value": repr(value)[:40]}
        )
        return ""
    return text


def server_merge_plan(*, game: str = "", old_servers: Iterable[str], new_server: str) -> ServerMergePlan:
    """Check a merge and count what it moves; ValidationError naming the field otherwise."""
    errors: dict[str, list] = {}
    game = (game or "").strip() if isinstance(game, str) else ""
    if len(game) > 64 or any(ord(c) < 32 for c in game):
        errors.setdefault("game", []).append(_("A game is at most 64 characters, without control characters."))
    new = _server_id_clean(new_server, "new_server", errors)
    olds: list[str] = []
    for raw in old_servers:
        old = _server_id_clean(raw, "old_servers", errors)
        if old and old not in olds:
            olds.append(old)
    if not olds and "old_servers" not in errors:
        errors["old_servers"] = [_("Name at least one old server.")]
    if len(olds) > MAX_OLD_SERVERS:
        errors["old_servers"] = [_("At most %(n)d old servers in one merge.") % {"n": MAX_OLD_SERVERS}]
    if new and new in olds:
        errors.setdefault("old_servers", []).append(_("The new server cannot be one of the old servers."))
    retired = dict(ServerMergeSource.objects.filter(server__in=[*olds, new]).values_list("server", "merge__new_server"))
    for old in olds:
        if old in retired:
            errors.setdefault("old_servers", []).append(
                _("Server %(old)s was already merged into %(new)s.") % {"old": old, "new": retired[old]}
            )
    if new in retired:
        errors.setdefault("new_server", []).append(
            _("Server %(old)s was merged into %(new)s; merge into that one.") % {"old": new, "new": retired[new]}
        )
    counts = dict(Player.objects.filter(server__in=olds).order_by().values_list("server").annotate(n=Count("id")))
    empty = [old for old in olds if not counts.get(old) and old not in retired]
    if empty:
        errors.setdefault("old_servers", []).append(
            _("No account is on server(s) %(servers)s: check the ids.") % {"servers": ", ".join(empty)}
        )
    if errors:
        raise ValidationError(errors)
    accounts = {o: counts.get(o, 0) for o in olds}
    return ServerMergePlan(
        game=game,
        old_servers=tuple(olds),
        new_server=new,
        accounts=accounts,
        rewrite=profile_engine().servers_rekey_rewrites(sum(accounts.values())),
    )


def server_merge(
    *, game: str = "", old_servers: Iterable[str], new_server: str, actor=None, note: str = "", now=None
) -> ServerMerge:
    """Merge the old servers into the new one (see the module's docstring)."""
    from crm.services import api_clients_rebind_server

    started = time.monotonic()
    now = now or timezone.now()
    with transaction.atomic():
        profile_engine().table_write_lock(ServerMergeSource)  # two at once would judge "already merged" on stale data
        plan = server_merge_plan(game=game, old_servers=old_servers, new_server=new_server)
        merge = ServerMerge.objects.create(
            game=plan.game,
            new_server=plan.new_server,
            note=(note or "").strip()[:2000],
            merged_by=actor,
            merged_at=now,
        )
        ServerMergeSource.objects.bulk_create(
            [ServerMergeSource(merge=merge, server=old, accounts=plan.accounts[old]) for old in plan.old_servers]
        )
        moved = profile_engine().servers_rekey(
            old_servers=plan.old_servers,
            new_server=plan.new_server,
            now=now,
            accounts=plan.total,
            history=lambda: _history_rows(
                old_servers=plan.old_servers, new_server=plan.new_server, actor=actor, now=now
            ),
        )
        merge.accounts = moved
        merge.api_clients = api_clients_rebind_server(
            old_servers=plan.old_servers, new_server=plan.new_server, game=plan.game
        )
        merge.rules = sum(
            step(old_servers=plan.old_servers, new_server=plan.new_server, game=plan.game, actor=actor, now=now)
            for step in _MERGE_STEPS
        )
        merge.duration_ms = int((time.monotonic() - started) * 1000)
        merge.save(update_fields=["accounts", "api_clients", "rules", "duration_ms"])
    return merge


def _history_rows(*, old_servers: tuple[str, ...], new_server: str, actor, now) -> None:
    """One change-history row per moved account (as `player.save()` would write, with the
    new server), and the tags each had, in two INSERT ... SELECT statements."""
    history = Player.history.model
    quote = connection.ops.quote_name
    own = [f.column for f in history._meta.concrete_fields if not f.name.startswith("history_")]
    selected = [f"%s AS {quote(c)}" if c == "server" else f"p.{quote(c)}" for c in own]
    placeholders = ", ".join(["%s"] * len(old_servers))
    before = history.objects.aggregate(m=Max("history_id"))["m"] or 0
    sql = (
        f"INSERT INTO {quote(history._meta.db_table)} "
        f"({', '.join(quote(c) for c in own)}, history_date, history_change_reason, history_type, history_user_id) "
        f"SELECT {', '.join(selected)}, %s, NULL, '~', %s "
        f"FROM {quote(Player._meta.db_table)} p WHERE p.server IN ({placeholders})"
    )
    params = [new_server, now, getattr(actor, "pk", None), *old_servers]
    tags = Player.tags.through._meta.db_table
    tag_history = apps.get_model("players", "HistoricalPlayer_tags")._meta.db_table
    tag_sql = (
        f"INSERT INTO {quote(tag_history)} (id, player_id, tag_id, history_id) "
        f"SELECT t.id, t.player_id, t.tag_id, h.history_id FROM {quote(tags)} t "
        f"JOIN {quote(history._meta.db_table)} h ON h.id = t.player_id "
        f"WHERE h.history_id > %s AND h.history_date = %s AND h.history_type = '~'"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        cursor.execute(tag_sql, [before, now])
