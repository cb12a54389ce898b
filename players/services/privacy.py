"""A player's rights over their personal data (PIPL): a copy on request (Art. 45) and
erasure on request (Art. 47). One registry, `PLAYER_TABLES`, says for every table that
holds rows about a player how to find them (a lookup to the player), which text is
personal (erased) and which is not (kept); the copy and the erasure are both built from
it, so a table is handed over exactly where it is erased. Apps above `players` register
their tables in their `AppConfig.ready` (`player_table_register`); a test fails for any
model linked to a player that is not registered, and for any text column of a registered
table that is neither erased nor kept.

The copy: one ZIP with `data.json` (every row, every column, machine-readable) and
`data.xlsx` (one sheet per table, headers and values in the requester's language, times
in TIME_ZONE, no codes, no primary keys), plus the rows of stored import files that
mention the player. Nothing of it is kept: the request records who, when, why, how it was
delivered and the file's SHA-256.

The erasure: asked by one person (`erasure_request`), confirmed by another who may
(`erasure_confirm`); one transaction anonymises the player row, its change history,
free texts about the player, the stored import files and reports, export records and the
admin log, while the ledger, totals, tiers, statuses and every row count stay, so reports
do not change. The account id becomes `erased_account_key(account_id)`, a digest the
ledger still finds: the game's later payments and logins for the account are recorded on
the erased row; its profile (PUT) is refused (`PlayerErased`); the API answers 404.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import time
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, models, transaction
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from crm.cells import cell_neutralise
from crm.channels import CONSENT_CHANNELS
from crm.names import staff_name

from ..models import (
    Consent,
    ConsentEvent,
    ConsentPurpose,
    ConsentSource,
    ConsentStatus,
    DataRequest,
    DataRequestKind,
    DataRequestStatus,
    ExportRecord,
    ImportJob,
    MinorSpendFlag,
    Player,
)

ERASED_PREFIX = "erased:"
# Values shorter than this are not searched for inside other texts (a one-letter
# nickname would blank every "a"); the fields that hold them are blanked all the same.
MIN_SCRUB_LENGTH = 3
SCRUBBED = "***"

HAND_OVER_PERMISSION = "players.hand_over_player_data"
REQUEST_ERASURE_PERMISSION = "players.request_erasure"
CONFIRM_ERASURE_PERMISSION = "players.confirm_erasure"


class PlayerErased(Exception):
    """The game sent a profile for an account whose personal data was erased on request."""


# --- the registry ---------------------------------------------------------------------


@dataclass(frozen=True)
class PlayerTable:
    """A table holding rows about a player.

    `player_path`: the lookup from a row to the player's id ("pk" for the player itself,
    "player" for a foreign key, "case__player" through another table). `erase`: fields
    set to a fixed value on erasure (free text about the player, personal values).
    `scrub`: text kept, but the player's personal values inside it replaced by ***.
    `scrub_json`: JSON whose strings under `free_keys` are blanked and any string holding
    a personal value is replaced. `keep`: text that is not personal (codes, ids of the
    game, amounts' currency). `hidden`: columns left out of the readable sheet (still in
    the JSON). `display`: a column's readable value, when the field's own is not one."""

    model: type[models.Model]
    player_path: str
    erase: dict = field(default_factory=dict)
    scrub: tuple[str, ...] = ()
    scrub_json: tuple[str, ...] = ()
    keep: tuple[str, ...] = ()
    hidden: tuple[str, ...] = ()
    display: dict[str, Callable] = field(default_factory=dict)
    free_keys: tuple[str, ...] = ("note", "text", "summary", "topic", "subject", "description", "resolution")
    # More lookups to the player, for a table whose row names two players (a pair of
    # possible duplicates): the row is either player's.
    also_paths: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return self.model._meta.label

    def rows(self, player_id: int):
        lookup = models.Q(**{self.player_path: player_id})
        for path in self.also_paths:
            lookup |= models.Q(**{path: player_id})
        return self.model._default_manager.filter(lookup).order_by("pk")


PLAYER_TABLES: dict[str, PlayerTable] = {}


def player_table_register(table: PlayerTable) -> None:
    PLAYER_TABLES[table.label] = table


def text_fields(model) -> list[models.Field]:
    """The columns that can hold a person's words or values: text and JSON."""
    return [
        f
        for f in model._meta.concrete_fields
        if isinstance(f, models.CharField | models.TextField | models.JSONField) and not f.primary_key
    ]


def _register_own_tables() -> None:
    from ..models import (
        Case,
        CaseEvent,
        CompensationProposal,
        ContactLog,
        ContactLogChange,
        DuplicateCandidate,
        FeedbackReport,
        PayerStatusChange,
        Payment,
        PersonLinkRequest,
        PersonMerge,
        PlayerChurn,
        SatisfactionSurvey,
    )

    personal = {
        "nickname": "",
        "real_name": "",
        "phone": "",
        "qq": "",
        "wechat": "",
        "email": "",
        "birthday": None,
        "birthday_is_lunar": False,
        "notes": "",
        "timezone": "",
        "preferred_channel": "",
    }
    player_table_register(
        PlayerTable(
            Player,
            "pk",
            # No marketing after an erasure: `erasure_confirm` withdraws every consent in the
            # ledger, and nothing new is recorded (players.models.privacy, NOT_ERASED).
            erase={**personal, "birthday_md": None},
            keep=("server", "channel", "payer_status", "account_id"),  # account_id: replaced by its digest
            hidden=("birthday_md",),
        )
    )
    player_table_register(
        PlayerTable(
            Player.history.model,
            "id",
            erase={**personal, "history_change_reason": None},
            keep=("server", "channel", "payer_status", "account_id", "history_type"),
            hidden=("history_id", "id"),
        )
    )
    player_table_register(PlayerTable(Player.tags.through, "player"))
    player_table_register(PlayerTable(apps.get_model("players", "HistoricalPlayer_tags"), "history__id"))
    player_table_register(
        PlayerTable(
            Payment,
            "player",
            keep=(
                "source",
                "source_ref",
                "event_id",
                "kind",
                "currency",
                "server",
                "order_id",
                "product",
                "refund_of",
                "fingerprint",
            ),
            hidden=("fingerprint", "source_ref"),
        )
    )
    player_table_register(PlayerTable(PlayerChurn, "player", keep=("status",)))
    player_table_register(PlayerTable(PayerStatusChange, "player", keep=("from_status", "to_status", "trigger")))
    player_table_register(
        PlayerTable(
            ContactLog,
            "player",
            erase={"topic": "", "summary": ""},
            keep=("channel", "direction", "outcome", "source"),
        )
    )
    player_table_register(PlayerTable(ContactLogChange, "contact__player", scrub_json=("changes",)))
    player_table_register(
        PlayerTable(
            Case,
            "player",
            erase={"subject": "", "description": "", "resolution": "", "satisfaction_note": ""},
            keep=("category", "severity", "channel", "status", "compensation_item", "sla_clock", "checklist"),
        )
    )
    player_table_register(
        PlayerTable(
            CaseEvent,
            "case__player",
            scrub_json=("parameters",),
            keep=("type",),
            display={"parameters": _case_event_text},
            free_keys=(*PlayerTable.__dataclass_fields__["free_keys"].default, "reason"),
        )
    )
    player_table_register(
        PlayerTable(
            CompensationProposal,
            "case__player",
            erase={"reason": "", "decision_note": ""},
            keep=("item", "status"),
        )
    )
    player_table_register(
        PlayerTable(
            SatisfactionSurvey,
            "player",
            erase={"reason": ""},
            keep=("kind", "category", "channel", "status", "answered_via", "expiry_reason"),
            display={"expiry_reason": _survey_expiry_text},
        )
    )
    player_table_register(
        PlayerTable(
            FeedbackReport,
            "player",
            erase={"text": ""},
            keep=("kind", "channel", "fingerprint"),
            hidden=("fingerprint",),
        )
    )
    for consent_model in (ConsentEvent, Consent):
        player_table_register(
            PlayerTable(
                consent_model,
                "player",
                scrub=("evidence",),
                keep=("channel", "purpose", "status", "source", "recorded_via"),
            )
        )
    player_table_register(PlayerTable(MinorSpendFlag, "player", scrub=("review_note",), keep=("rule",)))
    # Which rules matched two accounts (no value is stored); an erasure deletes the player's
    # pairs (players.services.duplicates.duplicates_forget, an erasure hook).
    player_table_register(PlayerTable(DuplicateCandidate, "player_a", also_paths=("player_b",), keep=("status",)))
    # A merge of two people: the profile values it kept to undo it are personal (erased:
    # a merge of an erased person is not undone); which values and rows moved are not.
    player_table_register(
        PlayerTable(
            PersonMerge,
            "winner",
            also_paths=("loser",),
            erase={"before": {}},
            scrub=("note",),
            keep=("kind", "kept_from_loser", "moves", "request_id"),
        )
    )
    # A game server's link request: its id, digest and answer (game account ids) are not personal.
    player_table_register(
        PlayerTable(
            PersonLinkRequest,
            "merge__winner",
            also_paths=("merge__loser",),
            keep=("request_id", "fingerprint", "result"),
        )
    )
    player_table_register(
        PlayerTable(
            DataRequest,
            "player",
            scrub=("reason", "decision_note"),
            keep=("kind", "status", "delivered_via", "file_sha256", "row_counts"),
        )
    )


def _survey_expiry_text(survey) -> str:
    return survey.expiry_text


def _case_event_text(event) -> str:
    from ..case_events import case_event_text

    return case_event_text(event)


# --- who may -------------------------------------------------------------------------


def player_visible(user, player: Player) -> bool:
    from ..selectors import players_visible_to

    return players_visible_to(user).filter(pk=player.pk).exists()


def _require(user, permission: str, player: Player) -> None:
    if not user.has_perm(permission) or not player_visible(user, player):
        raise PermissionDenied


def _reason_clean(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": [_("Give the reason for the request.")]})
    return reason[:2000]


# --- the copy (Art. 45) ----------------------------------------------------------------


@dataclass
class PlayerDataFile:
    name: str
    content: bytes
    request: DataRequest


def player_data_file(*, player: Player, actor, reason: str, delivered_via: str) -> PlayerDataFile:
    """Produce the player's data file and record the request and its delivery."""
    from ..models import DeliveryMethod

    _require(actor, HAND_OVER_PERMISSION, player)
    reason = _reason_clean(reason)
    if delivered_via not in DeliveryMethod.values:
        raise ValidationError({"delivered_via": [_("Choose how the file reaches the player.")]})
    if player.erased_at:
        raise ValidationError(_("This player's personal data was erased; there is nothing personal to hand over."))
    started = time.monotonic()
    now = timezone.now()
    tables, counts = _player_rows(player)
    import_rows = import_rows_mentioning(player_values(player))
    counts["import rows"] = len(import_rows)
    content = _zip(player, tables, import_rows, actor=actor, reason=reason, now=now)
    request = DataRequest.objects.create(
        kind=DataRequestKind.COPY,
        player=player,
        status=DataRequestStatus.DONE,
        reason=reason,
        requested_by=actor,
        requested_at=now,
        delivered_via=delivered_via,
        delivered_at=now,
        file_sha256=hashlib.sha256(content).hexdigest(),
        file_bytes=len(content),
        row_counts=counts,
        duration_ms=int((time.monotonic() - started) * 1000),
    )
    stamp = timezone.localtime(now).strftime("%Y%m%d-%H%M")
    return PlayerDataFile(name=f"player-data-{player.pk}-{stamp}.zip", content=content, request=request)


def _player_rows(player: Player) -> tuple[list[tuple[PlayerTable, list]], dict[str, int]]:
    tables = []
    counts = {}
    for table in PLAYER_TABLES.values():
        fks = [
            f.name
            for f in table.model._meta.concrete_fields
            if f.is_relation and f.name not in table.hidden and f.related_model is not Player  # shown: not the player
        ]
        rows = list(table.rows(player.pk).select_related(*fks))
        tables.append((table, rows))
        counts[table.label] = len(rows)
    return tables, counts


class _Encoder(DjangoJSONEncoder):
    def default(self, o):
        try:
            return super().default(o)
        except TypeError:
            return str(o)  # a phone number: E.164


def _json_value(row, f):
    return f.value_from_object(row) if not f.is_relation else getattr(row, f.attname)


def _plain(value) -> object:
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, datetime):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal | int | float):
        return value
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, cls=_Encoder)
    return cell_neutralise(str(value))


def _renderer(f: models.Field, table: PlayerTable) -> Callable:
    """How one column reads in the sheet: decided once per column, applied per row."""
    if f.name in table.display:
        return table.display[f.name]
    if f.choices:
        labels = {value: str(label) for value, label in f.flatchoices}
        return lambda row: labels.get(getattr(row, f.attname), getattr(row, f.attname)) or ""
    if f.is_relation:
        User = apps.get_model(settings.AUTH_USER_MODEL)

        def related(row):
            value = getattr(row, f.name)
            if value is None:
                return ""
            return staff_name(value) if isinstance(value, User) else cell_neutralise(str(value))

        return related
    return lambda row: _plain(getattr(row, f.attname))


def _sheet_columns(table: PlayerTable) -> list[models.Field]:
    path_root = table.player_path.split("__")[0]
    return [
        f
        for f in table.model._meta.concrete_fields
        if not f.primary_key
        and f.name not in table.hidden
        and (f.name != path_root or table.player_path == "pk")
        and not (f.is_relation and f.related_model is Player)
    ]


def _sheet_title(text: str, used: set[str]) -> str:
    title = "".join(ch for ch in str(text) if ch not in "[]:*?/\\")[:28] or "-"
    base, n = title, 2
    while title.lower() in used:
        title = f"{base[:26]} {n}"
        n += 1
    used.add(title.lower())
    return title


def _zip(player, tables, import_rows, *, actor, reason, now) -> bytes:
    from openpyxl import Workbook

    document = {
        "player_id": player.pk,
        "account_id": player.account_id,
        "produced_at": now,
        "produced_by": staff_name(actor),
        "time_zone": settings.TIME_ZONE,
        "reason": reason,
        "tables": {
            table.label: [{f.attname: _json_value(row, f) for f in table.model._meta.concrete_fields} for row in rows]
            for table, rows in tables
        },
        "import_rows": import_rows,
    }
    workbook = Workbook(write_only=True)
    used: set[str] = set()
    about = workbook.create_sheet(_sheet_title(_("About this file"), used))
    for label, value in (
        (_("player"), str(player)),
        (_("produced at"), timezone.localtime(now).strftime("%Y-%m-%d %H:%M:%S")),
        (_("produced by"), staff_name(actor)),
        (_("reason"), cell_neutralise(reason)),
        (_("times are in"), settings.TIME_ZONE),
        (
            _("what it holds"),
            _("Everything the CRM holds about the player: one sheet per kind of record; data.json holds the same."),
        ),
    ):
        about.append([str(label), str(value)])
    for table, rows in tables:
        if table.model is Player.tags.through:
            sheet = workbook.create_sheet(_sheet_title(_("tags"), used))
            sheet.append([capfirst(str(_("tag")))])
            for row in rows:
                sheet.append([cell_neutralise(str(row.tag))])
            continue
        columns = _sheet_columns(table)
        renderers = [_renderer(f, table) for f in columns]
        sheet = workbook.create_sheet(_sheet_title(capfirst(str(table.model._meta.verbose_name_plural)), used))
        sheet.append([capfirst(str(f.verbose_name)) for f in columns])
        for row in rows:
            sheet.append([render(row) for render in renderers])
    if import_rows:
        sheet = workbook.create_sheet(_sheet_title(_("Rows of imported files"), used))
        sheet.append([str(_("import")), str(_("row")), str(_("cells"))])
        for item in import_rows:
            cells = "; ".join(f"{k}: {v}" for k, v in item["cells"].items() if v not in (None, ""))
            sheet.append([item["file"], item["row"], cell_neutralise(cells)])
    sheet_bytes = io.BytesIO()
    workbook.save(sheet_bytes)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("data.json", json.dumps(document, cls=_Encoder, ensure_ascii=False, indent=1))
        archive.writestr("data.xlsx", sheet_bytes.getvalue())
    return out.getvalue()


# --- the player's values, and where they are mentioned ---------------------------------------


def _phone_forms(value) -> set[str]:
    if not value:
        return set()
    text = str(value)
    national = str(getattr(value, "national_number", "") or "")
    return {text, national} - {""}


def player_values(player: Player) -> set[str]:
    """Every personal value the CRM holds or held for the player (the row and its change
    history): what an erasure removes and the scan for it looks for."""
    values: set[str] = set()
    history = Player.history.model.objects.filter(id=player.pk)
    rows = [player, *history]
    for row in rows:
        for name in ("account_id", "nickname", "real_name", "qq", "wechat", "email"):
            value = (getattr(row, name) or "").strip()
            if value and not value.startswith(ERASED_PREFIX):
                values.add(value)
        values |= _phone_forms(row.phone)
        if row.birthday:
            values.add(row.birthday.isoformat())
    return values


def _cell_matches(cell, values: set[str]) -> bool:
    if cell is None:
        return False
    text = str(cell).strip()
    if not text:
        return False
    if text in values:
        return True
    digits = "".join(ch for ch in text if ch.isdigit())
    return len(digits) >= 7 and (digits in values or digits.removeprefix("86") in values)


def _import_files(job: ImportJob) -> Iterable[tuple[str, Path, str]]:
    for kind, file in (("file", job.file), ("error_report", job.error_report)):
        if file and file.name:
            try:
                path = Path(file.path)
            except NotImplementedError:  # a storage without local paths
                continue
            if path.exists():
                yield kind, path, (job.file_name if kind == "file" else path.name)


def _open_table(job: ImportJob, kind: str, path: Path, name: str):
    from ..tabular import ImportFileError, Table

    try:
        return Table(path, encoding=job.encoding if kind == "file" else "", name=name)
    except ImportFileError:
        return None


def import_rows_mentioning(values: set[str]) -> list[dict]:
    """The rows of stored import files and their problem reports that hold one of these
    values (the account id, a phone number, a name...), with their headers."""
    found = []
    for job in ImportJob.objects.exclude(file="", error_report="").order_by("pk"):
        for kind, path, name in _import_files(job):
            table = _open_table(job, kind, path, name)
            if table is None:
                continue
            with table:
                headers = [str(h) for h in table.headers]
                for number, cells in table.rows():
                    if any(_cell_matches(c, values) for c in cells):
                        found.append(
                            {
                                "file": f"{job.file_name} ({_('problem report') if kind == 'error_report' else _('file')})",
                                "import_id": job.pk,
                                "row": number,
                                "cells": {
                                    h: ("" if c is None else str(c)) for h, c in zip(headers, cells, strict=False)
                                },
                            }
                        )
    return found


def _import_files_erase(values: set[str]) -> int:
    """Rewrite the stored import files and problem reports without the rows that mention
    the player (same format); the import's record keeps its counts. Returns rows removed."""
    removed = 0
    for job in ImportJob.objects.exclude(file="", error_report="").order_by("pk"):
        for kind, path, name in _import_files(job):
            table = _open_table(job, kind, path, name)
            if table is None:
                continue
            with table:
                headers = list(table.headers)
                kept, dropped = [], 0
                for _number, cells in table.rows():
                    if any(_cell_matches(c, values) for c in cells):
                        dropped += 1
                    else:
                        kept.append(["" if c is None else c for c in cells])
                encoding = table.encoding or "utf-8-sig"
                is_xlsx = table.format == "xlsx"
            if not dropped:
                continue
            removed += dropped
            if is_xlsx:
                from openpyxl import Workbook

                workbook = Workbook(write_only=True)
                sheet = workbook.create_sheet()
                sheet.append(headers)
                for row in kept:
                    sheet.append(row)
                workbook.save(path)
            else:
                with path.open("w", encoding=encoding, newline="") as handle:
                    writer = csv.writer(handle)
                    writer.writerow(headers)
                    writer.writerows(kept)
        if job.errors_sample:
            sample = [p for p in job.errors_sample if not _json_mentions(p, values)]
            if sample != job.errors_sample:
                ImportJob.objects.filter(pk=job.pk).update(errors_sample=sample)
    for job in ImportJob.objects.exclude(message=""):
        scrubbed = scrub_text(job.message, values)
        if scrubbed != job.message:
            ImportJob.objects.filter(pk=job.pk).update(message=scrubbed)
    return removed


# --- scrubbing ------------------------------------------------------------------------


def scrub_text(text: str, values: set[str]) -> str:
    if not text:
        return text
    for value in sorted(values, key=len, reverse=True):
        if len(value) >= MIN_SCRUB_LENGTH and value in text:
            text = text.replace(value, SCRUBBED)
    return text


def _json_mentions(value, values: set[str]) -> bool:
    if isinstance(value, dict):
        return any(_json_mentions(v, values) for v in value.values())
    if isinstance(value, list):
        return any(_json_mentions(v, values) for v in value)
    return isinstance(value, str) and scrub_text(value, values) != value


def scrub_json(value, values: set[str], free_keys: tuple[str, ...], *, free: bool = False):
    if isinstance(value, dict):
        return {k: scrub_json(v, values, free_keys, free=free or k in free_keys) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub_json(v, values, free_keys, free=free) for v in value]
    if isinstance(value, str):
        return "" if free else scrub_text(value, values)
    return value


# --- erasure (Art. 47) --------------------------------------------------------------------


def erased_account_key(account_id: str) -> str:
    """What an erased player's account id becomes: the ledger and the API still find
    the row for the game's account, no one reads the account id from it."""
    return ERASED_PREFIX + hashlib.sha256(account_id.encode()).hexdigest()[:56]


def erased_players_find(accounts: Iterable[str]) -> dict[str, int]:
    """{account id the game sends: erased player's id} for those accounts that were erased."""
    keys = {erased_account_key(a): a for a in accounts if a}
    if not keys:
        return {}
    return {keys[k]: pk for k, pk in Player.objects.filter(account_id__in=list(keys)).values_list("account_id", "pk")}


def erasure_request(*, player: Player, actor, reason: str) -> DataRequest:
    """Ask for the player's personal data to be erased; a supervisor, another person,
    confirms it (`erasure_confirm`) or rejects it."""
    _require(actor, REQUEST_ERASURE_PERMISSION, player)
    reason = _reason_clean(reason)
    if player.erased_at:
        raise ValidationError(_("This player's personal data was already erased."))
    try:
        with transaction.atomic():
            return DataRequest.objects.create(
                kind=DataRequestKind.ERASURE,
                player=player,
                status=DataRequestStatus.PENDING,
                reason=reason,
                requested_by=actor,
                requested_at=timezone.now(),
            )
    except IntegrityError:
        raise ValidationError(_("An erasure of this player is already waiting for confirmation.")) from None


def _decidable(request: DataRequest, actor) -> DataRequest:
    with transaction.atomic():
        locked = DataRequest.objects.select_for_update().select_related("player").get(pk=request.pk)
    if not actor.has_perm(CONFIRM_ERASURE_PERMISSION) or not player_visible(actor, locked.player):
        raise PermissionDenied
    if locked.kind != DataRequestKind.ERASURE or locked.status != DataRequestStatus.PENDING:
        raise ValidationError(_("This request is not waiting for a decision."))
    if locked.requested_by_id == actor.pk:
        raise ValidationError(_("Another person must confirm an erasure you asked for."))
    return locked


@transaction.atomic
def erasure_reject(*, request: DataRequest, actor, note: str) -> DataRequest:
    request = _decidable(request, actor)
    note = (note or "").strip()
    if not note:
        raise ValidationError({"note": [_("Say why the erasure is rejected.")]})
    request.status = DataRequestStatus.REJECTED
    request.decided_by = actor
    request.decided_at = timezone.now()
    request.decision_note = note[:2000]
    request.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
    return request


@transaction.atomic
def erasure_confirm(*, request: DataRequest, actor, note: str = "") -> DataRequest:
    """Erase the player's personal data everywhere it is stored, in one transaction."""
    request = _decidable(request, actor)
    started = time.monotonic()
    player = Player.objects.select_for_update().get(pk=request.player_id)
    values = player_values(player)
    counts = player_erase(player=player, values=values)
    # No processing but storage after an erasure (Art. 47): every consent withdrawn, in the ledger
    # (the evidence is the data request it was recorded via, shown in words by the consent admin).
    from .consents import ConsentInput, consents_record

    consents_record(
        [
            ConsentInput(player.pk, channel, purpose, ConsentStatus.WITHDRAWN, timezone.now(), "")
            for channel in CONSENT_CHANNELS
            for purpose in ConsentPurpose.values
        ],
        source=ConsentSource.STAFF,
        actor=actor,
        via=f"data_request:{request.pk}",
    )
    request.status = DataRequestStatus.DONE
    request.decided_by = actor
    request.decided_at = timezone.now()
    request.decision_note = scrub_text((note or "").strip()[:2000], values)
    request.row_counts = counts
    request.duration_ms = int((time.monotonic() - started) * 1000)
    request.save(update_fields=["status", "decided_by", "decided_at", "decision_note", "row_counts", "duration_ms"])
    return request


def player_erase(*, player: Player, values: set[str]) -> dict[str, int]:
    """The erasure itself (call `erasure_confirm`: it checks who may). Set-based per table."""
    counts: dict[str, int] = {}
    for table in PLAYER_TABLES.values():
        rows = table.rows(player.pk)
        touched = 0
        if table.erase:
            touched = rows.update(**table.erase)
        for name in table.scrub:
            for pk, text in rows.exclude(**{name: ""}).values_list("pk", name):
                scrubbed = scrub_text(text or "", values)
                if scrubbed != text:
                    table.model._default_manager.filter(pk=pk).update(**{name: scrubbed})
                    touched += 1
        for name in table.scrub_json:
            for pk, data in rows.values_list("pk", name):
                scrubbed = scrub_json(data, values, table.free_keys)
                if scrubbed != data:
                    table.model._default_manager.filter(pk=pk).update(**{name: scrubbed})
                    touched += 1
        counts[table.label] = touched or rows.count()
    key = (
        erased_account_key(player.account_id) if not player.account_id.startswith(ERASED_PREFIX) else player.account_id
    )
    now = timezone.now()
    Player.objects.filter(pk=player.pk).update(account_id=key, erased_at=now, updated_at=now)
    Player.history.model.objects.filter(id=player.pk).update(account_id=key)
    _feedback_topics_erase(player, values)
    counts["import rows"] = _import_files_erase(values)
    counts["export records"] = _scrub_rows(ExportRecord, "filters", values)
    counts["admin log"] = _admin_log_erase(player, values)
    # Nothing stays open for them: their follow-ups leave the worklists, their surveys expire,
    # and the apps above close their own (tasks, messages) through their writers.
    from .cases import cases_close_erased
    from .service_records import contact_follow_ups_close_erased
    from .surveys import surveys_expire_erased

    counts["follow-ups closed"] = contact_follow_ups_close_erased(player=player, now=now)
    counts["cases closed"] = cases_close_erased(player=player, now=now)
    counts["surveys expired"] = surveys_expire_erased(player=player, now=now)
    for hook in ERASURE_HOOKS:
        done = hook(player=player, values=values)
        if isinstance(done, dict):  # {label: rows} for the request's counts
            counts.update(done)
    return counts


def _scrub_rows(model, name: str, values: set[str]) -> int:
    """Scrub one text column wherever one of the values appears (a LIKE per value)."""
    query = models.Q()
    for value in values:
        if len(value) >= MIN_SCRUB_LENGTH:
            query |= models.Q(**{f"{name}__contains": value})
    if not query:
        return 0
    touched = 0
    for pk, text in model._default_manager.filter(query).values_list("pk", name):
        model._default_manager.filter(pk=pk).update(**{name: scrub_text(text, values)})
        touched += 1
    return touched


def _feedback_topics_erase(player: Player, values: set[str]) -> None:
    """A topic is titled with its first report's words: when the first was this player's,
    it takes the words of the next other player's report (or none)."""
    from ..models import FeedbackReport, FeedbackTopic

    for topic in FeedbackTopic.objects.filter(reports__player=player).distinct():
        reports = FeedbackReport.objects.filter(topic=topic).order_by("reported_at", "pk")
        first = reports.first()
        if first is not None and first.player_id == player.pk:
            other = reports.exclude(player=player).exclude(text="").first()
            title = " ".join(other.text.split())[:200] if other else ""
        else:
            title = topic.title
        FeedbackTopic.objects.filter(pk=topic.pk).update(title=scrub_text(title, values))
    _scrub_rows(FeedbackTopic, "product_note", values)


def _admin_log_erase(player: Player, values: set[str]) -> int:
    from django.contrib.admin.models import LogEntry
    from django.contrib.contenttypes.models import ContentType

    touched = LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(Player), object_id=str(player.pk)
    ).update(object_repr=str(Player.objects.get(pk=player.pk))[:200])
    return touched + _scrub_rows(LogEntry, "object_repr", values) + _scrub_rows(LogEntry, "change_message", values)


# Higher apps add what their tables need beyond the registry (set in AppConfig.ready):
# `hook(player=, values=)` runs in the erasure's transaction, after the player row is
# marked erased, and may return {label: rows} for the request's counts.
ERASURE_HOOKS: list[Callable] = []


def erasure_hook_add(hook: Callable) -> None:
    if hook not in ERASURE_HOOKS:
        ERASURE_HOOKS.append(hook)


_register_own_tables()
