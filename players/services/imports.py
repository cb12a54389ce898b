"""Bulk import of player lists and payment history: one service layer for the admin,
the `import_players` command and the Celery tasks.

The player path is set-based so that a million rows take seconds, not hours:

1. the file is streamed (players.tabular) and every row parsed and validated in
   plain Python, in chunks of `CHUNK_SIZE` rows — memory stays flat;
2. per chunk, the stored rows for its account ids come back in ONE query and are
   compared with the file: new, updated, unchanged or invalid;
3. only new and changed rows are written, with one INSERT ... ON CONFLICT (account_id)
   DO UPDATE per batch, naming only the columns the file has (staff-owned fields are
   never touched unless their column is present; an empty cell keeps the stored value
   unless `blank_clears`).

Each chunk is one transaction that also advances `ImportJob.chunks_done`, so a crash
leaves whole chunks and the job resumes after the last one. With the "reject" policy
the whole apply is one transaction, rolled back at the first invalid row.

Payment history goes through `payments_record_batch` (the ledger's only writer,
exactly-once per (source, source_ref, event_id)) a chunk at a time, in file order (a
chunk is cut where a purchase follows a refund, since a batch stores its purchases
before its refunds), all in one transaction.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import connection, transaction
from django.db.models import CharField
from django.db.models.functions import Cast
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import pgettext_lazy

from crm.cells import csv_writer
from crm.channels import CONSENT_CHANNELS

from ..models import (
    Consent,
    ConsentPurpose,
    ConsentSource,
    ConsentStatus,
    ContactChannel,
    ImportJob,
    ImportKind,
    ImportStatus,
    InvalidRowPolicy,
    Payment,
    PaymentKind,
    PaymentSource,
    Player,
    Tag,
)
from ..tabular import (
    PAYMENT_ALIASES,
    PLAYER_ALIASES,
    CellError,
    HeaderMap,
    ImportFileError,
    Table,
    limited,
    map_headers,
    normalise_header,
    parse_bool,
    parse_consent,
    parse_datetime,
    parse_decimal,
    parse_email,
    parse_game_time,
    parse_int,
    parse_not_future_date,
    parse_phone,
    parse_qq,
    parse_tags,
    parse_timezone,
    text,
)
from .birthdays import birthday_key_cached
from .consents import ConsentInput, consents_record
from .events import payment_event_clean
from .exports import derived_headers
from .ledger import payment_fingerprint, payments_record_batch
from .privacy import ERASED_PREFIX, erased_players_find
from .profile import manager_assign_allowed, players_assign_manager
from .servers import server_current

log = logging.getLogger(__name__)

CHUNK_SIZE = 5000
ERRORS_KEPT = 200  # invalid rows kept on the job for the preview page; all go to the report file
PROGRESS_KEY = "players:import-job:{}:progress"
STAGE_TABLE = "players_import_stage"
_HAS_SPACE = re.compile(r"\s").search
REPORT_HEADER = [
    pgettext_lazy("import report", "row"),
    pgettext_lazy("import report", "account id"),
    pgettext_lazy("import report", "column"),
    pgettext_lazy("import report", "reason"),
    pgettext_lazy("import report", "outcome"),
]
OUTCOME_LABELS = {
    "invalid": pgettext_lazy("import outcome", "invalid, not imported"),
    "duplicate": pgettext_lazy("import outcome", "duplicate, skipped"),
}


# --- players: what a column means ------------------------------------------------


def _choice_parser():
    lookup = {}
    for value, label in ContactChannel.choices:
        lookup[value] = value
        for language in ("en", "zh-hans"):
            with translation.override(language):
                lookup[str(label).lower()] = value
    lookup.update({"电话": "phone", "微信": "wechat", "短信": "sms", "邮件": "email", "游戏内": "in_game"})

    def parse(value):
        word = text(value).lower()
        if word not in lookup:
            raise CellError(
                _("Unknown contact channel %(value)s (one of: %(choices)s).")
                % {"value": text(value), "choices": ", ".join(ContactChannel.values)}
            )
        return lookup[word]

    return parse


def _memo(parse: Callable, size: int = 65536) -> Callable:
    """Remember the parse of values that repeat down a column (servers, channels,
    levels, birthdays): a dict lookup instead of a parse. Errors are not remembered."""
    cache: dict = {}

    def parsed(value):
        try:
            return cache[value]
        except KeyError:
            pass
        result = parse(value)
        if len(cache) >= size:
            cache.clear()
        cache[value] = result
        return result

    return parsed


def _player_parsers() -> dict[str, Callable]:
    now = timezone.now()  # the game-time range's "24 h from now", once per file

    def game_time(value):
        return parse_game_time(value, now=now)

    return {
        # an id merged away (合服) names the server it was merged into: one query per server id
        "server": _memo(lambda v: server_current(limited(v, 32))),
        "nickname": lambda v: limited(v, 64),
        "channel": _memo(lambda v: limited(v, 32)),
        "level": _memo(parse_int),
        "registered_at": game_time,
        "last_login_at": game_time,
        "real_name": lambda v: limited(v, 64),
        "phone": parse_phone,
        "qq": parse_qq,
        "wechat": lambda v: limited(v, 64),
        "email": parse_email,
        "birthday": _memo(parse_not_future_date),
        "birthday_is_lunar": _memo(parse_bool),
        "manager": None,  # looked up among staff users, see _ManagerLookup
        "tags": parse_tags,
        "notes": lambda v: limited(v, 10000),
        "preferred_channel": _memo(_choice_parser()),
        **{name: _memo(parse_consent) for name in CONSENT_COLUMNS},
        "marketing_opt_out": _memo(parse_bool),
        "timezone": _memo(parse_timezone),
    }


# The value an empty cell writes when the user asked empty cells to clear values.
EMPTY_VALUES = {
    "level": 0,
    "registered_at": None,
    "last_login_at": None,
    "birthday": None,
    "birthday_is_lunar": False,
    "manager": None,
    "tags": [],
}
# Consent columns: channel of each (marketing consent), recorded through the consent
# ledger's writer after the rows, never on the player row. The former opt-out flag's
# column refuses marketing on every channel when yes, and says nothing when no.
CONSENT_COLUMNS = {f"consent_{channel}": channel for channel in CONSENT_CHANNELS}
CONSENT_INPUTS = frozenset({*CONSENT_COLUMNS, "marketing_opt_out"})
# Model attribute -> database column where they differ.
COLUMN_OF = {"manager": "manager_id"}
BIRTHDAY_INPUTS = frozenset({"birthday", "birthday_is_lunar"})


class _ManagerLookup:
    """Staff users by username (case-insensitive), e-mail or full name, fetched once."""

    def __init__(self):
        self._by_key = None

    def __call__(self, value):
        if self._by_key is None:
            self._by_key = {}
            User = get_user_model()
            for pk, username, email, first, last in User.objects.filter(is_active=True, is_staff=True).values_list(
                "pk", "username", "email", "first_name", "last_name"
            ):
                for key in (username, email, f"{first} {last}".strip(), f"{last}{first}".strip()):
                    if key:
                        self._by_key.setdefault(key.lower(), pk)
        key = text(value).lower()
        if key not in self._by_key:
            raise CellError(_("No active staff user %(value)s.") % {"value": text(value)})
        return self._by_key[key]


# --- the run: counts, report, progress ----------------------------------------------


@dataclass
class ImportCounts:
    total: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    invalid: int = 0

    def add(self, other: ImportCounts) -> None:
        for name in ("total", "new", "updated", "unchanged", "invalid"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class RowProblem:
    row: int
    account_id: str
    column: str
    reason: str
    outcome: str = "invalid"


@dataclass
class ImportRun:
    """What one pass over a file needs, and what it found."""

    kind: str
    path: Path
    name: str
    encoding: str = ""
    dry_run: bool = True
    invalid_rows: str = InvalidRowPolicy.SKIP
    blank_clears: bool = False
    source_ref: str = ""
    actor: object = None
    job: ImportJob | None = None
    chunk_size: int = CHUNK_SIZE
    report: Callable[[RowProblem], None] | None = None  # writes every problem to the report file
    progress: Callable[[int], None] | None = None
    counts: ImportCounts = field(default_factory=ImportCounts)
    problems: list[RowProblem] = field(default_factory=list)  # the first ERRORS_KEPT
    detected_encoding: str = ""
    columns: dict = field(default_factory=dict)
    rejected: bool = False

    def problem(self, problem: RowProblem) -> None:
        if self.report is not None:
            self.report(problem)
        if len(self.problems) < ERRORS_KEPT:
            self.problems.append(problem)


def _chunks(rows: Iterable, size: int) -> Iterator[list]:
    chunk = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class _Rejected(Exception):
    """Raised inside the apply transaction to roll the whole file back."""


def import_file_run(run: ImportRun) -> ImportRun:
    """Preview (`run.dry_run`) or apply one file. Raises ImportFileError when the file
    as a whole cannot be read; row problems are counted and reported instead."""
    with Table(run.path, encoding=run.encoding, name=run.name) as table:
        headers = _headers(run, table)
        rows = table.rows()
        if run.kind == ImportKind.PLAYERS:
            _players_run(run, headers, rows)
        else:
            _payments_run(run, headers, rows)
    return run


def _headers(run: ImportRun, table: Table) -> HeaderMap:
    run.detected_encoding = table.encoding
    aliases = PLAYER_ALIASES if run.kind == ImportKind.PLAYERS else PAYMENT_ALIASES
    required = ("account_id",) if run.kind == ImportKind.PLAYERS else ("account_id", "event_id", "amount")
    headers = map_headers(table.headers, aliases, required=required)
    # Columns an export derives (the minor band, tier, spend) come back in edited exports:
    # never read, and named apart from the columns the import does not know.
    derived = derived_headers() if run.kind == ImportKind.PLAYERS else {}
    run.columns = {
        "used": headers.labels,
        "ignored": [label for label in headers.ignored if normalise_header(label) not in derived],
        "derived": [label for label in headers.ignored if normalise_header(label) in derived],
        "duplicated": headers.duplicated,
        "format": table.format,
    }
    return headers


# --- players ----------------------------------------------------------------------


class _PlayerChunker:
    """Parse, compare and write the rows of a player list, one chunk at a time."""

    def __init__(self, run: ImportRun, headers: HeaderMap):
        self.run = run
        self.headers = headers
        parsers = _player_parsers()
        parsers["manager"] = _ManagerLookup()
        self.fields = [name for name in headers.positions if name != "account_id"]
        self.parsers = [(name, headers.positions[name], parsers[name]) for name in self.fields]
        self.account_position = headers.positions["account_id"]
        self.account_label = headers.labels["account_id"]
        self.has_tags = "tags" in headers.positions
        # A manager column moves players through the one assignment service (with its history
        # row and permission check), after the rows are written: compared, never written here.
        self.has_manager = "manager" in headers.positions
        if self.has_manager:
            self.may_assign = manager_assign_allowed(run.actor)
        # Consent columns go through the consent ledger's writer, after the rows.
        self.consent_fields = [name for name in self.fields if name in CONSENT_INPUTS]
        # Columns written: those the file has (tags live in their own table), plus updated_at.
        self.set_fields = [
            name for name in self.fields if name not in ("tags", "manager") and name not in CONSENT_INPUTS
        ]
        # The greetings' birthday key is written with the row it derives from (computing
        # it afterwards would write every such row twice); both of its inputs are read
        # for rows being updated, even when the file has only one of them.
        self.birthday_keyed = bool(BIRTHDAY_INPUTS & set(self.set_fields))
        self.stored_fields = (
            self.set_fields
            + [name for name in sorted(BIRTHDAY_INPUTS) if self.birthday_keyed and name not in self.set_fields]
            + (["manager"] if self.has_manager else [])
        )
        self.model_columns = [f for f in Player._meta.concrete_fields if not f.primary_key]
        self.index_of = {f.attname: i for i, f in enumerate(self.model_columns)}
        self.index_of.update({f.name: i for i, f in enumerate(self.model_columns)})
        self.defaults = [self._default(f) for f in self.model_columns]
        self.engine = import_engine()

    @staticmethod
    def _default(f):
        if f.name in ("created_at", "updated_at"):
            return None  # set per write
        if f.has_default():
            return f.get_default()
        if f.null:
            return None
        return "" if f.get_internal_type() in ("CharField", "TextField") or f.name == "phone" else None

    # parsing -------------------------------------------------------------------------
    def parse(self, number: int, cells: list) -> tuple[str, dict, list[RowProblem]]:
        """One row: (account id, {field: value} for the non-empty cells, problems).
        The hot loop of a big import: kept plain on purpose."""
        width = len(cells)
        raw = cells[self.account_position] if self.account_position < width else None
        problems = []
        try:
            account_id = raw.strip() if raw.__class__ is str else text(raw)
        except CellError as exc:
            account_id = ""
            problems.append(RowProblem(number, "", self.account_label, str(exc)))
        if problems:
            pass
        elif not account_id:
            problems.append(RowProblem(number, "", self.account_label, _("This field is required.")))
        elif _HAS_SPACE(account_id):
            problems.append(
                RowProblem(number, account_id, self.account_label, _("An account id cannot contain spaces."))
            )
        elif len(account_id) > 64:
            problems.append(RowProblem(number, account_id[:64], self.account_label, _("At most 64 characters.")))
        values = {}
        blank_clears = self.run.blank_clears
        for name, position, parse in self.parsers:
            cell = cells[position] if position < width else None
            if cell.__class__ is str:
                cell = cell.strip()
                if not cell:
                    if blank_clears:
                        values[name] = EMPTY_VALUES.get(name, "")
                    continue
            elif cell is None:
                if blank_clears:
                    values[name] = EMPTY_VALUES.get(name, "")
                continue
            try:
                values[name] = parse(cell)
            except CellError as exc:
                problems.append(RowProblem(number, account_id, self.headers.labels[name], str(exc)))
        return account_id, values, problems

    # one chunk ---------------------------------------------------------------------------
    def process(self, chunk: list[tuple[int, list]], *, write: bool) -> ImportCounts:
        run = self.run
        counts = ImportCounts(total=len(chunk))
        rows: dict[str, tuple[int, dict]] = {}
        for number, cells in chunk:
            account_id, values, problems = self.parse(number, cells)
            if problems:
                counts.invalid += 1
                for problem in problems:
                    run.problem(problem)
                continue
            if account_id in rows:
                first, earlier = rows[account_id]
                if earlier == values:
                    counts.unchanged += 1
                    run.problem(
                        RowProblem(
                            number,
                            account_id,
                            self.account_label,
                            _("Same as row %(row)d; skipped.") % {"row": first},
                            outcome="duplicate",
                        )
                    )
                else:
                    counts.invalid += 1
                    run.problem(
                        RowProblem(
                            number,
                            account_id,
                            self.account_label,
                            _("This account id is also in row %(row)d with other values; keep one of them.")
                            % {"row": first},
                        )
                    )
                continue
            rows[account_id] = (number, values)
        if write and counts.invalid and run.invalid_rows == InvalidRowPolicy.REJECT:
            run.rejected = True
        if run.rejected:
            write = False
        if not rows:
            return counts

        # Compare without locking (an unchanged row costs no write at all), then lock
        # only the rows to update and merge them again from what the lock returned.
        existing = self._existing(list(rows), for_update=False)
        erased = set(erased_players_find(set(rows) - set(existing)))
        # and the erased row itself (an exported file names it by its digest): nothing is written to it again
        erased.update(a for a in rows if a.startswith(ERASED_PREFIX))
        for account_id in sorted(erased, key=lambda a: rows[a][0]):  # erased on request: never created again
            counts.invalid += 1
            run.problem(
                RowProblem(
                    rows.pop(account_id)[0],
                    "",  # the report does not store the erased account id again
                    self.account_label,
                    _("This player's personal data was erased on request: the row is not imported."),
                )
            )
        tags = self._existing_tags(existing) if self.has_tags else {}
        consents_in_force = self._existing_consents(existing) if self.consent_fields else {}
        now = timezone.now()
        to_insert, to_update, tag_sets, moves = [], [], {}, {}
        consent_sets: dict[str, tuple[int, dict[str, str]]] = {}
        for account_id, (number, values) in rows.items():
            stored = existing.get(account_id)
            if self.has_manager and "manager" in values:
                before = stored["manager"] if stored is not None else None
                if values["manager"] != before:
                    if not self.may_assign:
                        counts.invalid += 1
                        run.problem(
                            RowProblem(
                                number,
                                account_id,
                                self.headers.labels["manager"],
                                _("You may not assign VIP managers: leave this column empty or ask a supervisor."),
                            )
                        )
                        continue
                    moves[account_id] = values["manager"]
            wanted = self._consents_wanted(values)
            if stored is not None:
                in_force = consents_in_force.get(stored["id"], {})
                wanted = {channel: status for channel, status in wanted.items() if in_force.get(channel) != status}
            if wanted:
                consent_sets[account_id] = (number, wanted)
            if stored is None:
                counts.new += 1
                to_insert.append(self._row(account_id, values, None, now))
                if values.get("tags"):
                    tag_sets[account_id] = values["tags"]
                continue
            changed = False
            for name, value in values.items():
                if stored.get(name, value) != value:
                    changed = True
                    break
            tags_changed = "tags" in values and values["tags"] != tags.get(stored["id"], [])
            if changed or tags_changed or wanted:
                counts.updated += 1
                to_update.append(account_id)
                if tags_changed:
                    tag_sets[account_id] = values["tags"]
            else:
                counts.unchanged += 1
        if counts.invalid and write and run.invalid_rows == InvalidRowPolicy.REJECT:
            run.rejected = True
            return counts
        if write and (to_insert or to_update):
            if to_update:
                locked = self._existing(to_update, for_update=True)
                to_insert += [self._row(a, rows[a][1], locked.get(a), now) for a in to_update]
            self._write(to_insert)
            if tag_sets:
                self._write_tags(tag_sets)
            if moves:
                self._assign_managers(moves)
            if consent_sets:
                self._write_consents(consent_sets, now)
        return counts

    def _consents_wanted(self, values: dict) -> dict[str, str]:
        """{channel: status} the row's consent cells say (marketing purpose)."""
        wanted = {}
        if values.get("marketing_opt_out") is True:
            wanted = dict.fromkeys(CONSENT_CHANNELS, ConsentStatus.REFUSED.value)
        for name, channel in CONSENT_COLUMNS.items():
            if values.get(name):
                wanted[channel] = values[name]
        return wanted

    def _existing_consents(self, existing: dict[str, dict]) -> dict[int, dict[str, str]]:
        found: dict[int, dict[str, str]] = {}
        for player_id, channel, status in Consent.objects.filter(
            player_id__in=[s["id"] for s in existing.values()], purpose=ConsentPurpose.MARKETING
        ).values_list("player_id", "channel", "status"):
            found.setdefault(player_id, {})[channel] = status
        return found

    def _write_consents(self, consent_sets: dict[str, tuple[int, dict[str, str]]], now) -> None:
        """Through the consent ledger's one writer; the evidence names the file and row."""
        run = self.run
        ids = dict(Player.objects.filter(account_id__in=list(consent_sets)).values_list("account_id", "pk"))
        name = run.job.file_name if run.job is not None else run.name
        items = [
            ConsentInput(
                ids[account_id],
                channel,
                ConsentPurpose.MARKETING,
                status,
                now,
                _("Import #%(job)s of %(file)s, row %(row)d")
                % {"job": run.job.pk if run.job else "-", "file": name, "row": number},
            )
            for account_id, (number, wanted) in consent_sets.items()
            for channel, status in wanted.items()
        ]
        via = f"import:{run.job.pk}" if run.job is not None else "import"
        consents_record(items, source=ConsentSource.IMPORT, actor=run.actor, via=via, now=now)

    def _assign_managers(self, moves: dict[str, int | None]) -> None:
        """New managers through vip's assignment service (handed in at VipConfig.ready): one
        ManagerAssignment row per player moved, with the importer as actor."""
        users = get_user_model().objects.in_bulk({pk for pk in moves.values() if pk is not None})
        by_manager: dict[int | None, list[str]] = {}
        for account_id, pk in moves.items():
            by_manager.setdefault(pk, []).append(account_id)
        note = _("import %(name)s") % {"name": self.run.name}
        for pk, account_ids in by_manager.items():
            players_assign_manager(
                players=Player.objects.filter(account_id__in=account_ids),
                manager=users[pk] if pk is not None else None,
                actor=self.run.actor,
                note=note[:500],
            )

    def _existing(self, account_ids: list[str], *, for_update: bool) -> dict[str, dict]:
        """The stored values of the file's columns for these account ids: one query."""
        return self.engine.existing(account_ids, self.stored_fields, for_update=for_update)

    def _existing_tags(self, existing: dict[str, dict]) -> dict[int, list[str]]:
        through = Player.tags.through
        tags: dict[int, list[str]] = {}
        for player_id, name in through.objects.filter(player_id__in=[s["id"] for s in existing.values()]).values_list(
            "player_id", "tag__name"
        ):
            tags.setdefault(player_id, []).append(name)
        return {pk: sorted(names) for pk, names in tags.items()}

    def _row(self, account_id: str, values: dict, stored: dict | None, now) -> list:
        row = list(self.defaults)
        row[self.index_of["account_id"]] = account_id
        row[self.index_of["created_at"]] = now
        row[self.index_of["updated_at"]] = now
        for name in self.set_fields:
            if name in values:
                value = values[name]
            elif stored is not None:
                value = stored[name]
            else:
                continue
            row[self.index_of[name]] = value
        if self.birthday_keyed:
            inputs = {
                name: row[self.index_of[name]] if name in self.set_fields or stored is None else stored[name]
                for name in BIRTHDAY_INPUTS
            }
            row[self.index_of["birthday_md"]] = birthday_key_cached(
                inputs["birthday"], bool(inputs["birthday_is_lunar"])
            )
        return row

    def _write(self, rows: list[list]) -> None:
        """Insert new rows and update changed ones: INSERT ... ON CONFLICT (account_id)
        DO UPDATE SET only the file's columns."""
        set_columns = [self.model_columns[self.index_of[name]].column for name in self.set_fields] + ["updated_at"]
        if self.birthday_keyed:
            set_columns.append("birthday_md")
        self.engine.upsert(rows, self.model_columns, set_columns)

    def _write_tags(self, tag_sets: dict[str, list[str]]) -> None:
        names = sorted({name for names in tag_sets.values() for name in names})
        Tag.objects.bulk_create([Tag(name=name) for name in names], ignore_conflicts=True)
        tag_ids = dict(Tag.objects.filter(name__in=names).values_list("name", "pk"))
        player_ids = dict(Player.objects.filter(account_id__in=list(tag_sets)).values_list("account_id", "pk"))
        through = Player.tags.through
        through.objects.filter(player_id__in=player_ids.values()).delete()
        through.objects.bulk_create(
            [
                through(player_id=player_ids[account_id], tag_id=tag_ids[name])
                for account_id, names in tag_sets.items()
                for name in names
            ]
        )


# --- the statements, per database engine -------------------------------------------------------
class ImportEngine:
    """Portable (any database Django supports): the stored rows through the ORM, the new
    and changed ones by executemany. `import_engine()` chooses; the same import tests run
    on SQLite and PostgreSQL."""

    def existing(self, account_ids: list[str], names: list[str], *, for_update: bool) -> dict[str, dict]:
        columns = [COLUMN_OF.get(name, name) for name in names if name != "phone"]
        queryset = Player.objects.filter(account_id__in=account_ids).order_by("account_id")
        if for_update:
            queryset = queryset.select_for_update()
        if "phone" in names:  # the text as stored, not a parsed PhoneNumber per row
            queryset = queryset.annotate(phone_text=Cast("phone", CharField()))
            columns.append("phone_text")
        names = [name for name in names if name != "phone"] + (["phone"] if "phone" in names else [])
        found = {}
        for row in queryset.values_list("id", "account_id", *columns):
            stored = dict(zip(names, row[2:], strict=True))
            stored["id"] = row[0]
            found[row[1]] = stored
        return found

    @staticmethod
    def _statement(model_columns, set_columns) -> tuple[str, str, str]:
        quote = connection.ops.quote_name
        columns_sql = ", ".join(quote(f.column) for f in model_columns)
        updates = ", ".join(f"{quote(c)} = EXCLUDED.{quote(c)}" for c in set_columns)
        conflict = f"ON CONFLICT ({quote('account_id')}) DO UPDATE SET {updates}"
        return quote(Player._meta.db_table), columns_sql, conflict

    def upsert(self, rows: list[list], model_columns, set_columns: list[str]) -> None:
        """INSERT ... ON CONFLICT (account_id) DO UPDATE SET `set_columns`."""
        table, columns_sql, conflict = self._statement(model_columns, set_columns)
        ops = connection.ops
        for i, model_field in enumerate(model_columns):
            kind = model_field.get_internal_type()
            if kind not in ("DateTimeField", "DateField"):
                continue
            adapt = ops.adapt_datetimefield_value if kind == "DateTimeField" else ops.adapt_datefield_value
            for row in rows:
                if row[i] is not None:
                    row[i] = adapt(row[i])
        placeholders = ", ".join(["%s"] * len(model_columns))
        with connection.cursor() as cursor:
            cursor.executemany(f"INSERT INTO {table} ({columns_sql}) VALUES ({placeholders}) {conflict}", rows)


class PostgresImportEngine(ImportEngine):
    """The same statements for PostgreSQL's speed: stored rows read with one array
    parameter, new and changed rows staged by COPY."""

    def __init__(self):
        self._stage_ready = False

    def existing(self, account_ids, names, *, for_update):
        """Server-side binding with one array parameter: Django's client-side binding
        would spend longer quoting 5,000 placeholders than PostgreSQL spends answering."""
        import psycopg

        quote = connection.ops.quote_name
        columns = ", ".join(quote(COLUMN_OF.get(name, name)) for name in names)
        sql = (
            f"SELECT id, account_id{', ' if names else ''}{columns} FROM {quote(Player._meta.db_table)} "
            "WHERE account_id = ANY(%s) ORDER BY account_id" + (" FOR UPDATE" if for_update else "")
        )
        connection.ensure_connection()
        found = {}
        with psycopg.Cursor(connection.connection) as cursor:
            # psycopg's own (C) timestamptz loader: Django's converts every value in Python.
            timestamptz = psycopg.adapters.types["timestamptz"].oid
            cursor.adapters.register_loader(
                "timestamptz", psycopg.adapters.get_loader(timestamptz, psycopg.pq.Format.TEXT)
            )
            cursor.execute(sql, [account_ids])
            for row in cursor:
                stored = dict(zip(names, row[2:], strict=True))
                if "phone" in stored and stored["phone"] is None:
                    stored["phone"] = ""
                stored["id"] = row[0]
                found[row[1]] = stored
        return found

    def upsert(self, rows, model_columns, set_columns):
        """The rows reach a staging table by COPY, then one INSERT ... SELECT ... ON CONFLICT."""
        import psycopg

        table, columns_sql, conflict = self._statement(model_columns, set_columns)
        connection.ensure_connection()
        with psycopg.Cursor(connection.connection) as cursor:
            if not self._stage_ready:
                cursor.execute(f"DROP TABLE IF EXISTS {STAGE_TABLE}")
                cursor.execute(f"CREATE TEMP TABLE {STAGE_TABLE} AS SELECT {columns_sql} FROM {table} WITH NO DATA")
                self._stage_ready = True
            cursor.execute(f"TRUNCATE {STAGE_TABLE}")
            with cursor.copy(f"COPY {STAGE_TABLE} ({columns_sql}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cursor.execute(
                f"INSERT INTO {table} ({columns_sql}) SELECT {columns_sql} FROM {STAGE_TABLE} "
                f"ORDER BY {connection.ops.quote_name('account_id')} {conflict}"
            )


def import_engine() -> ImportEngine:
    """A new engine for one import run (it keeps its staging table): the one place the
    imports choose by database."""
    return PostgresImportEngine() if connection.vendor == "postgresql" else ImportEngine()


def _players_run(run: ImportRun, headers: HeaderMap, rows: Iterator) -> None:
    chunker = _PlayerChunker(run, headers)
    skip_chunks = run.job.chunks_done if (run.job and not run.dry_run) else 0
    if skip_chunks and run.job.chunk_size:
        run.chunk_size = run.job.chunk_size  # resuming: the chunks as they were committed
    elif run.job is not None and not run.dry_run:
        ImportJob.objects.filter(pk=run.job.pk).update(chunk_size=run.chunk_size)
    reject = run.invalid_rows == InvalidRowPolicy.REJECT and not run.dry_run
    processed = 0

    def each_chunk():
        nonlocal processed
        for index, chunk in enumerate(_chunks(rows, run.chunk_size)):
            if index < skip_chunks:  # applied before a crash: report its problems again, count nothing
                chunker.process(chunk, write=False)
                processed += len(chunk)
                continue
            yield chunk

    def finish_chunk(counts: ImportCounts, chunk_len: int, *, record: bool):
        nonlocal processed
        run.counts.add(counts)
        processed += chunk_len
        if run.job is not None and record:
            ImportJob.objects.filter(pk=run.job.pk).update(
                chunks_done=run.job.chunks_done + 1,
                processed_rows=processed,
                new_count=run.counts.new,
                updated_count=run.counts.updated,
                unchanged_count=run.counts.unchanged,
                invalid_count=run.counts.invalid,
            )
            run.job.chunks_done += 1
        if run.progress:
            run.progress(processed)

    if run.dry_run:
        for chunk in each_chunk():
            finish_chunk(chunker.process(chunk, write=False), len(chunk), record=False)
    elif reject:
        try:
            with transaction.atomic():
                for chunk in each_chunk():
                    finish_chunk(chunker.process(chunk, write=True), len(chunk), record=False)
                if run.rejected:
                    raise _Rejected
        except _Rejected:
            pass
    else:
        if skip_chunks:
            run.counts = ImportCounts(
                new=run.job.new_count,
                updated=run.job.updated_count,
                unchanged=run.job.unchanged_count,
                invalid=run.job.invalid_count,
            )
        for chunk in each_chunk():
            with transaction.atomic():
                counts = chunker.process(chunk, write=True)
                finish_chunk(counts, len(chunk), record=True)
    run.counts.total = processed


# --- payments -------------------------------------------------------------------------


def _payment_parsers(run: ImportRun) -> dict[str, Callable]:
    kinds = {
        "purchase": PaymentKind.PURCHASE,
        "payment": PaymentKind.PURCHASE,
        "充值": PaymentKind.PURCHASE,
        "购买": PaymentKind.PURCHASE,
        "支付": PaymentKind.PURCHASE,
        "refund": PaymentKind.REFUND,
        "退款": PaymentKind.REFUND,
    }

    def kind(value):
        word = text(value).lower()
        if word not in kinds:
            raise CellError(_("Must be 'purchase' or 'refund' (充值 / 退款)."))
        return kinds[word]

    def event_id(value):
        value = limited(value, 128)
        if not value:
            raise CellError(_("This field is required."))
        return value

    return {
        "event_id": event_id,
        "kind": kind,
        "amount": parse_decimal,
        "currency": lambda v: limited(v, 3).upper(),
        "occurred_at": parse_datetime,
        "server": lambda v: limited(v, 32),
        "order_id": lambda v: limited(v, 128),
        "product": lambda v: limited(v, 200),
        "refund_of": lambda v: limited(v, 128),
    }


def _column(labels: dict[str, str], name: str) -> str:
    """A column as the file names it, else the field's name in the user's language."""
    if name in labels:
        return labels[name]
    try:
        return str(Payment._meta.get_field(name).verbose_name)
    except Exception:  # not a model field (FieldDoesNotExist): the name is all there is
        return name


# payment_event_clean names fields as the API does; map them back to the file's columns.
_PAYMENT_ERROR_FIELD = {"type": "kind"}


def _payment_parse(run, headers, parsers, number, cells) -> tuple[dict | None, list[RowProblem]]:
    labels = headers.labels
    problems = []
    try:
        account_id = (
            text(cells[headers.positions["account_id"]]) if headers.positions["account_id"] < len(cells) else ""
        )
    except CellError as exc:
        account_id = ""
        problems.append(RowProblem(number, "", labels["account_id"], str(exc)))
    if problems:
        pass
    elif not account_id:
        problems.append(RowProblem(number, "", labels["account_id"], _("This field is required.")))
    elif any(ch.isspace() for ch in account_id) or len(account_id) > 64:
        problems.append(RowProblem(number, account_id, labels["account_id"], _("Not a valid account id.")))
    values = {
        "account_id": account_id,
        "kind": PaymentKind.PURCHASE,
        "currency": settings.CRM_BASE_CURRENCY,
        "server": "",
        "order_id": "",
        "product": "",
        "refund_of": "",
        "occurred_at": None,
    }
    for name, parse in parsers.items():
        position = headers.positions.get(name)
        if position is None:
            continue
        cell = cells[position] if position < len(cells) else None
        if cell is None or (isinstance(cell, str) and not cell.strip()):
            if name in ("event_id", "amount", "occurred_at"):
                problems.append(RowProblem(number, account_id, labels[name], _("This field is required.")))
            continue
        try:
            values[name] = parse(cell)
        except CellError as exc:
            problems.append(RowProblem(number, account_id, labels[name], str(exc)))
    if values["occurred_at"] is None and "occurred_at" not in headers.positions:
        problems.append(
            RowProblem(number, account_id, _column(labels, "occurred_at"), _("The file has no payment time column."))
        )
    if not problems:  # the one check of a payment's values, as for the API's events
        clean, errors = payment_event_clean(
            {
                "event_id": values.get("event_id", ""),
                "account_id": account_id,
                "server": values["server"],
                "type": values["kind"],
                "amount": values["amount"],
                "currency": values["currency"],
                "occurred_at": values["occurred_at"],
                "order_id": values["order_id"],
                "product": values["product"],
                "refund_of": values["refund_of"],
            }
        )
        for name, messages in errors.items():
            name = _PAYMENT_ERROR_FIELD.get(name, name)
            problems.append(RowProblem(number, account_id, _column(labels, name), " ".join(messages)))
    if problems:
        return None, problems
    values["amount"] = clean["amount"]
    return values, []


def _payments_run(run: ImportRun, headers: HeaderMap, rows: Iterator) -> None:
    """Preview: classify each event against the ledger (one query per chunk). Apply:
    the rows through the ledger's writer (`payments_record_batch`, which also projects
    totals, tiers and payer status), in file order, all in one transaction."""
    parsers = _payment_parsers(run)
    processed = 0
    source = PaymentSource.IMPORT

    def chunk_counts(chunk, *, write: bool) -> ImportCounts:
        counts = ImportCounts(total=len(chunk))
        parsed = []
        seen: dict[str, tuple[int, str]] = {}
        for number, cells in chunk:
            values, problems = _payment_parse(run, headers, parsers, number, cells)
            if problems:
                counts.invalid += 1
                for problem in problems:
                    run.problem(problem)
                continue
            values["fingerprint"] = payment_fingerprint(
                **{k: values[k] for k in ("account_id", "kind", "amount", "currency", "occurred_at")},
                server=values["server"],
                order_id=values["order_id"],
                product=values["product"],
                refund_of=values["refund_of"],
            )
            if values["event_id"] in seen and not write:
                first, fingerprint = seen[values["event_id"]]
                if fingerprint == values["fingerprint"]:
                    counts.unchanged += 1
                else:
                    counts.invalid += 1
                    run.problem(
                        RowProblem(
                            number,
                            values["account_id"],
                            headers.labels["event_id"],
                            _("This event id is also in row %(row)d with other content.") % {"row": first},
                        )
                    )
                continue
            seen.setdefault(values["event_id"], (number, values["fingerprint"]))
            parsed.append((number, values))
        if not write:
            stored = dict(
                Payment.objects.filter(
                    source=source, source_ref=run.source_ref, event_id__in=[v["event_id"] for _, v in parsed]
                ).values_list("event_id", "fingerprint")
            )
            for number, values in parsed:
                fingerprint = stored.get(values["event_id"])
                if fingerprint is None:
                    counts.new += 1
                elif fingerprint == values["fingerprint"]:
                    counts.unchanged += 1
                else:
                    counts.invalid += 1
                    run.problem(_conflict(number, values, headers))
            return counts
        for run_rows in _in_order_runs(parsed):
            result = payments_record_batch(
                events=[values for _number, values in run_rows], source=source, source_ref=run.source_ref,
                actor=run.actor,
            )  # fmt: skip
            for error in result.errors:
                number, values = run_rows[error["index"]]
                counts.invalid += 1
                if error["error"] == "conflict":
                    run.problem(_conflict(number, values, headers))
                    continue
                for name, messages in error["fields"].items():
                    label = _column(headers.labels, _PAYMENT_ERROR_FIELD.get(name, name))
                    run.problem(RowProblem(number, values["account_id"], label, " ".join(messages)))
            for status, _payment_id, _player_id in result.outcomes.values():
                if status == "created":
                    counts.new += 1
                elif status == "duplicate":
                    counts.unchanged += 1
        return counts

    if run.dry_run:
        for chunk in _chunks(rows, run.chunk_size):
            run.counts.add(chunk_counts(chunk, write=False))
            processed += len(chunk)
            if run.progress:
                run.progress(processed)
        run.counts.total = processed
        return
    try:
        with transaction.atomic():
            for chunk in _chunks(rows, run.chunk_size):
                run.counts.add(chunk_counts(chunk, write=True))
                processed += len(chunk)
                if run.progress:
                    run.progress(processed)
            if run.counts.invalid and run.invalid_rows == InvalidRowPolicy.REJECT:
                run.rejected = True
                raise _Rejected
    except _Rejected:
        pass
    run.counts.total = processed


def _in_order_runs(parsed: list) -> Iterator[list]:
    """The rows in runs of purchases then refunds: a batch stores its purchases first,
    so a run ends where a purchase follows a refund, and rows keep the file's order."""
    run: list = []
    for row in parsed:
        if run and row[1]["kind"] == PaymentKind.PURCHASE and run[-1][1]["kind"] == PaymentKind.REFUND:
            yield run
            run = []
        run.append(row)
    if run:
        yield run


def _conflict(number, values, headers) -> RowProblem:
    return RowProblem(
        number,
        values["account_id"],
        headers.labels["event_id"],
        _("This event id was already imported with other content; nothing was changed."),
    )


# --- jobs: what the admin, the command and the tasks call ----------------------------------


@transaction.atomic
def import_job_create(
    *,
    kind: str,
    upload,
    actor,
    encoding: str = "",
    invalid_rows: str = InvalidRowPolicy.SKIP,
    blank_clears: bool = False,
    source_ref: str = "",
    language: str = "",
) -> ImportJob:
    """Store an uploaded file as a new import, waiting for its preview. Its reasons and
    report are written in `language` (default: the active one, the uploader's)."""
    job = ImportJob(
        kind=kind,
        created_by=actor,
        file_name=Path(upload.name).name[:255],
        encoding=encoding,
        invalid_rows=invalid_rows,
        blank_clears=blank_clears,
        source_ref=source_ref,
        language=language or translation.get_language() or settings.LANGUAGE_CODE,
    )
    job.full_clean(exclude=["file"])
    job.file.save(Path(upload.name).name, upload, save=False)
    job.save()
    return job


def _job_progress(job: ImportJob) -> Callable[[int], None]:
    key = PROGRESS_KEY.format(job.pk)

    def progress(processed: int) -> None:
        cache.set(key, processed, 3600)

    return progress


def import_job_progress(job: ImportJob) -> int:
    """Rows processed so far: from the cache while a transaction hides the job's row."""
    return max(cache.get(PROGRESS_KEY.format(job.pk), 0) or 0, job.processed_rows)


def _report_writer(handle) -> Callable[[RowProblem], None]:
    """The problem report: a header in the job's language, every cell through the one
    formula neutraliser (crm.cells: a bad cell is echoed in it)."""
    writer = csv_writer(handle)
    writer.writerow(REPORT_HEADER)

    def write(problem: RowProblem) -> None:
        outcome = OUTCOME_LABELS.get(problem.outcome, problem.outcome)
        writer.writerow([problem.row, problem.account_id, problem.column, problem.reason, outcome])

    return write


def _job_run(
    job: ImportJob,
    *,
    dry_run: bool,
    report_path: Path | None = None,
    progress: Callable[[int], None] | None = None,
    scan_first: bool = False,
    chunk_size: int | None = None,
) -> ImportRun:
    path = Path(job.file.path) if job.file else Path(job.source_path)
    if report_path is None:
        report_path = Path(settings.MEDIA_ROOT) / "imports" / "tmp" / f"job-{job.pk}-report.csv"
    report_path.parent.mkdir(parents=True, exist_ok=True)
    with report_path.open("w", newline="", encoding="utf-8-sig") as report_file:
        run = ImportRun(
            kind=job.kind,
            path=path,
            name=job.file_name,
            encoding=job.encoding,
            dry_run=dry_run,
            invalid_rows=job.invalid_rows,
            blank_clears=job.blank_clears,
            source_ref=job.source_ref,
            actor=job.created_by,
            job=job,
            chunk_size=chunk_size or getattr(settings, "CRM_IMPORT_CHUNK_SIZE", CHUNK_SIZE),
            report=_report_writer(report_file),
            progress=progress or _job_progress(job),
        )
        if scan_first:
            import_file_check(run)
        import_file_run(run)
    run.report_path = report_path
    return run


def _job_finish(
    job: ImportJob, run: ImportRun | None, *, status: str, message: str = "", keep_report_file: bool = False
) -> None:
    fields = {"status": status, "message": message, "resumable": False}
    if run is not None:
        fields.update(
            total_rows=run.counts.total,
            processed_rows=run.counts.total,
            new_count=run.counts.new,
            updated_count=run.counts.updated,
            unchanged_count=run.counts.unchanged,
            invalid_count=run.counts.invalid,
            errors_sample=[p.__dict__ for p in run.problems],
            columns=run.columns,
            detected_encoding=run.detected_encoding,
        )
    if status in (ImportStatus.DONE, ImportStatus.REJECTED, ImportStatus.FAILED):
        fields["finished_at"] = timezone.now()
    for name, value in fields.items():
        setattr(job, name, value)
    if run is not None and getattr(run, "report_path", None):
        with run.report_path.open("rb") as handle:
            job.error_report.save(f"import-{job.pk}-report.csv", File(handle), save=False)
        if not keep_report_file:
            run.report_path.unlink(missing_ok=True)
    job.save()
    cache.delete(PROGRESS_KEY.format(job.pk))


def _job_stopped(job: ImportJob, *, step: str) -> None:
    """Whatever stopped a preview or an apply (a bug, the database gone, Ctrl-C), the
    job does not stay "running": it is failed, and an apply can be resumed."""
    log.exception("import #%s stopped during its %s", job.pk, step)
    with contextlib.suppress(Exception):  # the database itself may be what failed
        job.processed_rows = ImportJob.objects.values_list("processed_rows", flat=True).get(pk=job.pk)
    processed = import_job_progress(job)
    if step == "apply":
        message = _(
            "The import stopped on an unexpected error after %(rows)s rows. Rows already imported are kept; "
            "resume the import to bring in the rest (the Resume button, or: manage.py import_players --resume %(job)d)."
        ) % {"rows": f"{processed:,}", "job": job.pk}
    else:
        message = _("The check stopped on an unexpected error after %(rows)s rows. Nothing was imported.") % {
            "rows": f"{processed:,}"
        }
    try:
        ImportJob.objects.filter(pk=job.pk).update(
            status=ImportStatus.FAILED, message=message, resumable=step == "apply", finished_at=timezone.now()
        )
    except Exception:  # the database itself may be what failed
        log.exception("import #%s could not be marked failed", job.pk)
    cache.delete(PROGRESS_KEY.format(job.pk))


def _job_step(
    job: ImportJob,
    *,
    step: str,
    report_path: Path | None = None,
    progress: Callable[[int], None] | None = None,
    scan_first: bool = False,
    keep_report_file: bool = False,
    chunk_size: int | None = None,
) -> ImportRun | None:
    """One preview or apply of a job, in the job's language. A file-level problem
    ends it as failed with its reason (None is returned); anything else too, and is raised."""
    dry_run = step == "preview"
    with translation.override(job.language or settings.LANGUAGE_CODE):
        try:
            run = _job_run(
                job,
                dry_run=dry_run,
                report_path=report_path,
                progress=progress,
                scan_first=scan_first,
                chunk_size=chunk_size,
            )
        except ImportFileError as exc:
            _job_finish(job, None, status=ImportStatus.FAILED, message=str(exc))
            return None
        except BaseException:
            _job_stopped(job, step=step)
            raise
        if dry_run:
            _job_finish(job, run, status=ImportStatus.PREVIEWED, keep_report_file=keep_report_file)
        elif run.rejected:
            message = _("Nothing was imported: the file has invalid rows.")
            _job_finish(job, run, status=ImportStatus.REJECTED, message=message, keep_report_file=keep_report_file)
        else:
            _job_finish(job, run, status=ImportStatus.DONE, keep_report_file=keep_report_file)
    return run


def import_job_preview(*, job: ImportJob) -> ImportJob:
    """The dry run: counts and every invalid row, nothing written."""
    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.PREVIEWING)
    job.status = ImportStatus.PREVIEWING
    _job_step(job, step="preview")
    return job


def import_job_apply(*, job: ImportJob, **options) -> ImportJob:
    """Apply a previewed file, or resume one an error stopped. Refused (status
    unchanged) when the policy rejects the whole file and the preview found invalid rows."""
    job.refresh_from_db()
    resuming = job.resumable and job.status in (ImportStatus.FAILED, ImportStatus.APPLYING)
    if job.status not in (ImportStatus.PREVIEWED, ImportStatus.APPLYING) and not resuming:
        raise ValidationError(_("This import is not waiting to be applied."))
    if job.invalid_rows == InvalidRowPolicy.REJECT and job.invalid_count and not resuming:
        raise ValidationError(_("The file has invalid rows and the whole file is to be rejected."))
    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.APPLYING, resumable=False, message="")
    job.status = ImportStatus.APPLYING
    _job_step(job, step="apply", scan_first=resuming, **options)
    return job


def import_job_run(*, job_id: int, step: str) -> ImportJob:
    """The task's body. Whatever happens, the job ends in a state that says so."""
    job = ImportJob.objects.select_related("created_by").get(pk=job_id)
    try:
        if step == "preview":
            return import_job_preview(job=job)
        return import_job_apply(job=job)
    except ValidationError as exc:
        if job.status == ImportStatus.APPLYING:
            ImportJob.objects.filter(pk=job.pk, status=ImportStatus.APPLYING).update(
                status=ImportStatus.FAILED, message=" ".join(exc.messages), finished_at=timezone.now()
            )
    except Exception:  # recorded on the job and logged by _job_step
        pass
    job.refresh_from_db()
    return job


def import_file_check(run: ImportRun) -> int:
    """Read the whole file once without writing: encoding, structure and size problems
    surface here, before an apply writes its first chunk."""
    with Table(run.path, encoding=run.encoding, name=run.name) as table:
        _headers(run, table)
        return table.scan()


def import_file_command(
    *,
    path: Path,
    kind: str = ImportKind.PLAYERS,
    dry_run: bool = False,
    encoding: str = "",
    invalid_rows: str = InvalidRowPolicy.SKIP,
    blank_clears: bool = False,
    source_ref: str = "",
    report_path: Path,
    actor=None,
    chunk_size: int = CHUNK_SIZE,
    progress: Callable[[int], None] | None = None,
    language: str = "",
) -> tuple[ImportJob, ImportRun]:
    """The `import_players` command: stream a file from disk (no copy), record the
    import, write the per-row report to `report_path`. The whole file is read once
    before the first row is written. Raises ImportFileError (the job is failed)."""
    job = ImportJob.objects.create(
        kind=kind,
        created_by=actor,
        file_name=path.name[:255],
        encoding=encoding,
        invalid_rows=invalid_rows,
        blank_clears=blank_clears,
        source_ref=source_ref,
        status=ImportStatus.PREVIEWING if dry_run else ImportStatus.APPLYING,
        source_path=str(path.resolve()),
        language=language or settings.LANGUAGE_CODE,
    )
    run = _job_step(
        job,
        step="preview" if dry_run else "apply",
        report_path=report_path,
        progress=progress,
        scan_first=not dry_run,
        keep_report_file=True,
        chunk_size=chunk_size,
    )
    if run is None:
        raise ImportFileError(job.message)
    return job, run


def import_job_resume(*, job: ImportJob, report_path: Path, progress=None) -> ImportJob:
    """The command's --resume: finish an apply that an error (or a killed process) stopped."""
    job.refresh_from_db()
    if job.status == ImportStatus.APPLYING:  # left so by a process that was killed
        ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.FAILED, resumable=True)
    elif not (job.status == ImportStatus.FAILED and job.resumable):
        raise ValidationError(_("This import is not waiting to be resumed."))
    import_job_apply(job=job, report_path=report_path, progress=progress, keep_report_file=True)
    job.refresh_from_db()
    if job.status == ImportStatus.FAILED:
        raise ImportFileError(job.message)
    return job
