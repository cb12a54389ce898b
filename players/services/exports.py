"""Export of player lists to CSV (streamed) and XLSX, with personal data only for those
allowed to see it, formula injection neutralised, and every export recorded."""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Iterator
from datetime import date, datetime

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from crm.cells import cell_neutralise
from crm.channels import CONSENT_CHANNELS
from crm.privacy import can_view_personal_data

from ..models import (
    Consent,
    ConsentPurpose,
    ConsentStatus,
    ContactChannel,
    ExportRecord,
    MinorBand,
    PayerStatus,
    Player,
)
from ..selectors.minors import minor_band
from ..tabular import PLAYER_TEMPLATE_ZH, normalise_header

EXPORT_BATCH = 2000
EXPORT_LARGE_PERMISSION = "players.export_large"
EXPORT_PERMISSION = "players.export_players"

# (column name, value lookup); the names are the import's own headers, so an export
# can be edited and imported back.
GAME_COLUMNS = [
    ("account_id", "account_id"),
    ("server", "server"),
    ("nickname", "nickname"),
    ("channel", "channel"),
    ("level", "level"),
    ("registered_at", "registered_at"),
    ("last_login_at", "last_login_at"),
]
PERSONAL_COLUMNS = [
    ("real_name", "real_name"),
    ("phone", "phone"),
    ("qq", "qq"),
    ("wechat", "wechat"),
    ("email", "email"),
    ("birthday", "birthday"),
    ("birthday_is_lunar", "birthday_is_lunar"),
]
STAFF_COLUMNS = [
    ("manager", "manager__username"),
    ("tags", None),
    ("notes", "notes"),
    ("preferred_channel", "preferred_channel"),
    # Marketing consent in force per channel (annotated from the consent ledger), as the import reads it.
    *((f"consent_{channel}", f"consent_{channel}") for channel in CONSENT_CHANNELS),
]
DERIVED_COLUMNS = [
    ("vip_tier", "tier__name"),
    ("total_spend", "total_spend"),
    ("purchase_count", "purchase_count"),
    ("first_paid_at", "first_paid_at"),
    ("last_paid_at", "last_paid_at"),
    ("payer_status", "payer_status"),
    # The minor band by the date of birth on the day of the export, for every exporter: it is
    # what a VIP team must know (no marketing to a minor, the spending caps, a guardian's consent
    # under 14) and it is not the birthday (that stays a personal column). As on the customer
    # card, the player page and the player list's filter. The import reads the birthday.
    ("minor", "minor"),
]
DERIVED_ZH = {
    "vip_tier": "VIP等级",
    "total_spend": "累计消费",
    "purchase_count": "充值次数",
    "first_paid_at": "首次充值时间",
    "last_paid_at": "最近充值时间",
    "payer_status": "付费状态",
    "minor": "未成年人",
}


# Columns whose stored codes are written as their labels in the export's language
# ("有流失风险", "微信"); the import reads the labels back (players.services.imports).
CHOICE_COLUMNS = {
    "payer_status": PayerStatus,
    "preferred_channel": ContactChannel,
    **{f"consent_{channel}": ConsentStatus for channel in CONSENT_CHANNELS},
    "minor": MinorBand,
}
# Yes and no as a person writes them; both are among the words the import reads (tabular.parse_bool).
BOOL_WORDS = {"zh": ("是", "否"), "en": ("yes", "no")}


def derived_annotations() -> dict:
    """The columns the export annotates: per channel the marketing consent in force, and
    the minor band by the date of birth (for every exporter)."""
    return {**consent_annotations(), "minor": minor_band()}


def derived_headers() -> dict[str, str]:
    """{header, normalised as the import reads headers: column} of the derived columns in
    either language: the import names them as not read, whatever file they come back in."""
    return {normalise_header(header): name for name, _lookup in DERIVED_COLUMNS for header in (name, DERIVED_ZH[name])}


def consent_annotations() -> dict:
    """consent_<channel>: the marketing consent in force on that channel (None: no record)."""
    return {
        f"consent_{channel}": Subquery(
            Consent.objects.filter(player=OuterRef("pk"), channel=channel, purpose=ConsentPurpose.MARKETING).values(
                "status"
            )[:1]
        )
        for channel in CONSENT_CHANNELS
    }


def export_language(language: str | None = None) -> str:
    """The language an export is written in: the exporter's (the request's)."""
    return language or translation.get_language() or settings.LANGUAGE_CODE


def export_columns(*, personal: bool) -> list[tuple[str, str | None]]:
    if not personal:
        return GAME_COLUMNS + STAFF_COLUMNS + DERIVED_COLUMNS
    return GAME_COLUMNS + PERSONAL_COLUMNS + STAFF_COLUMNS + DERIVED_COLUMNS


def export_headers(columns, *, language: str | None = None) -> list[str]:
    language = export_language(language)
    if language.startswith("zh"):
        return [PLAYER_TEMPLATE_ZH.get(name) or DERIVED_ZH.get(name, name) for name, _lookup in columns]
    return [name for name, _lookup in columns]


def _value_words(columns, language: str):
    """How a stored value reads in `language`: per column its choices (code -> label), and
    True/False as 是/否 (yes/no)."""
    yes, no = BOOL_WORDS["zh" if language.startswith("zh") else "en"]
    with translation.override(language):
        labels = [
            {code: str(label) for code, label in CHOICE_COLUMNS[name].choices} if name in CHOICE_COLUMNS else None
            for name, _lookup in columns
        ]

    def said(value, choices):
        if isinstance(value, bool):
            return yes if value else no
        if choices and isinstance(value, str):
            return choices.get(value, value)
        return value

    return labels, said


def _cell(value, *, for_xlsx: bool):
    if isinstance(value, datetime):
        local = timezone.localtime(value)
        return local.replace(tzinfo=None) if for_xlsx else local.isoformat(sep=" ")
    if isinstance(value, date):
        return value if for_xlsx else value.isoformat()
    if value is None:
        return ""
    if not isinstance(value, str) and not for_xlsx:
        value = str(value)
    if not isinstance(value, str | int | float):
        value = str(value)
    return cell_neutralise(value)


def players_export_rows(
    queryset, *, personal: bool, for_xlsx: bool = False, language: str | None = None
) -> Iterator[list]:
    """The rows of an export, in batches: one query for the players and one for their
    tags per batch, whatever the size. Phone numbers come out in E.164 text; yes/no and
    choices as words in `language` (是/否, 有流失风险), as the import reads them back."""
    labels, said = _value_words(export_columns(personal=personal), export_language(language))
    from django.db.models import CharField
    from django.db.models.functions import Cast

    columns = export_columns(personal=personal)
    lookups = [lookup for _name, lookup in columns if lookup]
    if personal:
        queryset = queryset.annotate(phone_text=Cast("phone", CharField()))
        lookups = ["phone_text" if lookup == "phone" else lookup for lookup in lookups]
    queryset = queryset.annotate(**derived_annotations())
    rows = queryset.order_by("pk").values_list("pk", *lookups)
    through = Player.tags.through
    tags_at = [name for name, _lookup in columns].index("tags")

    def flush(batch):
        tags: dict[int, list[str]] = {}
        for player_id, name in through.objects.filter(player_id__in=[row[0] for row in batch]).values_list(
            "player_id", "tag__name"
        ):
            tags.setdefault(player_id, []).append(name)
        for row in batch:
            values = list(row[1:])
            values.insert(tags_at, ", ".join(sorted(tags.get(row[0], []))))
            yield [
                _cell(said(value, choices), for_xlsx=for_xlsx) for value, choices in zip(values, labels, strict=True)
            ]

    batch = []
    for row in rows.iterator(chunk_size=EXPORT_BATCH):
        batch.append(row)
        if len(batch) >= EXPORT_BATCH:
            yield from flush(batch)
            batch = []
    if batch:
        yield from flush(batch)


class _Echo:
    def write(self, value):
        return value


def players_export_csv(queryset, *, personal: bool, language: str | None = None) -> Iterator[str]:
    """A CSV export as a stream of text (UTF-8 BOM first, so that Excel reads Chinese), in
    the language of the request that asked for it (taken now: the stream is read later)."""
    return _csv_stream(queryset, personal=personal, language=export_language(language))


def _csv_stream(queryset, *, personal: bool, language: str) -> Iterator[str]:
    columns = export_columns(personal=personal)
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow(export_headers(columns, language=language))
    for row in players_export_rows(queryset, personal=personal, language=language):
        yield writer.writerow(row)


def players_export_xlsx(queryset, *, personal: bool, language: str | None = None):
    """An XLSX export written in openpyxl's streaming mode into a temporary file."""
    from openpyxl import Workbook

    language = export_language(language)
    columns = export_columns(personal=personal)
    book = Workbook(write_only=True)
    with translation.override(language):
        sheet = book.create_sheet(_("players"))
    sheet.append(export_headers(columns, language=language))
    for row in players_export_rows(queryset, personal=personal, for_xlsx=True, language=language):
        sheet.append(row)
    handle = tempfile.TemporaryFile()  # noqa: SIM115 (FileResponse closes it)
    book.save(handle)
    handle.seek(0)
    return handle


@transaction.atomic
def export_record_create(
    *, user, queryset=None, count: int | None = None, fmt: str, filters: str
) -> tuple[ExportRecord, bool]:
    """Check that `user` may export `queryset` and record the export. Returns the record
    and whether personal data is included. Raises PermissionDenied with the reason."""
    if not user.has_perm(EXPORT_PERMISSION):
        raise PermissionDenied(_("You may not export player lists."))
    if count is None:  # `count` when the caller knows it (a report's rows), else the queryset's
        count = queryset.count()
    limit = settings.CRM_EXPORT_LIMIT
    if count > limit and not user.has_perm(EXPORT_LARGE_PERMISSION):
        raise PermissionDenied(
            _(
                "This export has %(count)d rows; exports of more than %(limit)d rows need the "
                "'export large lists' permission. Narrow the filter or ask a supervisor."
            )
            % {"count": count, "limit": limit}
        )
    personal = can_view_personal_data(user)
    record = ExportRecord(user=user, format=fmt, filters=filters[:2000], row_count=count, personal_data=personal)
    record.full_clean()
    record.save()
    return record, personal
