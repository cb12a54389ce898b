"""Reading spreadsheets people actually send: CSV in UTF-8 (with or without BOM) or
GBK/GB18030, XLSX; Chinese or English headers; dates in every common form.

Everything here streams: a file of any size is read row by row in bounded memory,
whatever the file holds. The bounds (`LIMITS`) are checked before anything is parsed
where the file says its sizes (an XLSX's zip directory, which the zip reader enforces)
and while reading where it does not (a CSV line, an XLSX row). The cell parsers are plain functions, fast enough for a million rows, and raise
`CellError` with a message meant for the person who made the spreadsheet.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import zipfile
import zlib
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from datetime import timezone as fixed_offset
from decimal import Decimal, InvalidOperation
from pathlib import Path
from zoneinfo import ZoneInfo, available_timezones

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.signals import setting_changed
from django.core.validators import validate_email
from django.dispatch import receiver
from django.utils.translation import gettext as _

from crm.cells import cell_restore

SAMPLE_BYTES = 256 * 1024
ENCODING_CHOICES = [
    ("", "auto"),
    ("utf-8", "UTF-8"),
    ("gb18030", "GBK / GB18030"),
]
ENCODING_ALIASES = {"gbk": "gb18030", "gb2312": "gb18030", "cp936": "gb18030", "utf8": "utf-8", "utf-8-sig": "utf-8"}
EXCEL_EPOCH = date(1899, 12, 30)


# What one import may take, whatever the file. Memory stays within a few times the
# largest of these; the upload limit (200 MB) bounds the rest.
LIMITS = {
    "columns": 1000,  # non-empty header cells
    "csv_line_chars": 1_000_000,  # one physical line of a CSV (a quoted cell may span lines)
    "csv_cell_chars": 131_072,  # one cell of a CSV (the csv module's own default limit)
    "xlsx_members": 1000,  # files inside the zip
    "xlsx_part_bytes": 32 * 1024 * 1024,  # each part read whole (workbook, styles, theme ...)
    "xlsx_shared_strings_bytes": 64 * 1024 * 1024,  # the shared-strings table, decompressed
    "xlsx_sheet_bytes": 4 * 1024 * 1024 * 1024,  # the first sheet, decompressed (streamed)
    "xlsx_row_bytes": 8 * 1024 * 1024,  # one row (or one shared string) of XML
}


class ImportFileError(Exception):
    """The file as a whole cannot be read (format, encoding, missing key column)."""


class CellError(Exception):
    """One cell is wrong; the message says why."""


# --- headers ----------------------------------------------------------------------

PLAYER_ALIASES = {
    "account_id": [
        "account_id",
        "account",
        "accountid",
        "账号",
        "帐号",
        "玩家id",
        "玩家账号",
        "账号id",
        "uid",
        "用户id",
    ],
    "server": ["server", "区服", "服务器", "服"],
    "nickname": ["nickname", "nick", "昵称", "玩家昵称", "角色名"],
    "channel": ["channel", "渠道", "来源渠道"],
    "level": ["level", "game_level", "等级", "游戏等级"],
    "registered_at": ["registered_at", "registered", "registration", "注册时间", "注册日期"],
    "last_login_at": ["last_login_at", "last_login", "最后登录", "最后登录时间", "最近登录时间"],
    "real_name": ["real_name", "name", "真实姓名", "姓名"],
    "phone": ["phone", "mobile", "手机", "手机号", "手机号码", "电话"],
    "qq": ["qq", "qq号"],
    "wechat": ["wechat", "微信", "微信号"],
    "email": ["email", "邮箱", "电子邮箱"],
    "birthday": ["birthday", "birth_date", "生日", "出生日期"],
    "birthday_is_lunar": ["birthday_is_lunar", "lunar_birthday", "lunar", "农历生日", "农历"],
    "manager": ["manager", "vip_manager", "专属客服", "vip客服", "客服"],
    "tags": ["tags", "标签"],
    "notes": ["notes", "备注"],
    "preferred_channel": ["preferred_channel", "首选联系方式", "联系偏好"],
    # Marketing consent per channel (players.services.consents): granted / refused / withdrawn.
    "consent_sms": ["consent_sms", "sms_marketing", "短信营销", "短信营销同意"],
    "consent_phone": ["consent_phone", "phone_marketing", "电话营销", "电话营销同意"],
    "consent_wechat": ["consent_wechat", "wechat_marketing", "微信营销", "微信营销同意"],
    "consent_email": ["consent_email", "email_marketing", "邮件营销", "邮件营销同意"],
    "consent_in_game": ["consent_in_game", "in_game_marketing", "游戏内营销", "游戏内营销同意"],
    # The former opt-out flag's column: yes refuses marketing on every channel.
    "marketing_opt_out": ["marketing_opt_out", "opt_out", "拒绝营销", "退订营销"],
    "timezone": ["timezone", "time_zone", "时区"],
}

PAYMENT_ALIASES = {
    "account_id": PLAYER_ALIASES["account_id"],
    "event_id": ["event_id", "event", "事件id", "流水号", "交易号", "交易流水号"],
    "kind": ["type", "kind", "类型", "交易类型"],
    "amount": ["amount", "金额", "充值金额"],
    "currency": ["currency", "币种", "货币"],
    "occurred_at": ["occurred_at", "time", "paid_at", "时间", "支付时间", "充值时间", "交易时间"],
    "server": PLAYER_ALIASES["server"],
    "order_id": ["order_id", "order", "订单号"],
    "product": ["product", "商品", "商品名称"],
    "refund_of": ["refund_of", "退款原单", "原事件id", "原流水号"],
}

# The headers of the downloadable templates, in field order.
PLAYER_TEMPLATE_FIELDS = [
    "account_id",
    "server",
    "nickname",
    "channel",
    "level",
    "registered_at",
    "last_login_at",
    "real_name",
    "phone",
    "qq",
    "wechat",
    "email",
    "birthday",
    "birthday_is_lunar",
    "manager",
    "tags",
    "notes",
    "preferred_channel",
    "consent_sms",
    "consent_phone",
    "consent_wechat",
    "consent_email",
    "consent_in_game",
]
PLAYER_TEMPLATE_ZH = {
    "account_id": "账号",
    "server": "区服",
    "nickname": "昵称",
    "channel": "渠道",
    "level": "等级",
    "registered_at": "注册时间",
    "last_login_at": "最后登录时间",
    "real_name": "真实姓名",
    "phone": "手机号",
    "qq": "QQ",
    "wechat": "微信",
    "email": "邮箱",
    "birthday": "生日",
    "birthday_is_lunar": "农历生日",
    "manager": "专属客服",
    "tags": "标签",
    "notes": "备注",
    "preferred_channel": "首选联系方式",
    "consent_sms": "短信营销",
    "consent_phone": "电话营销",
    "consent_wechat": "微信营销",
    "consent_email": "邮件营销",
    "consent_in_game": "游戏内营销",
    "marketing_opt_out": "拒绝营销",
    "timezone": "时区",
}
PLAYER_TEMPLATE_EXAMPLE = [
    "10086",
    "s1",
    "龙傲天",
    "appstore",
    "58",
    "2024-01-05 10:30:00+08:00",
    "2026-11-20 21:05:00+08:00",
    "张三",
    "13812345678",
    "12345678",
    "zhangsan_wx",
    "zhangsan@example.com",
    "1990-05-17",
    "false",
    "",
    "whale, 老玩家",
    "",
    "wechat",
    "同意",
    "",
    "同意",
    "拒绝",
    "",
]
PAYMENT_TEMPLATE_FIELDS = [
    "account_id",
    "event_id",
    "kind",
    "amount",
    "currency",
    "occurred_at",
    "server",
    "order_id",
    "product",
    "refund_of",
]
PAYMENT_TEMPLATE_ZH = {
    "account_id": "账号",
    "event_id": "流水号",
    "kind": "类型",
    "amount": "金额",
    "currency": "币种",
    "occurred_at": "支付时间",
    "server": "区服",
    "order_id": "订单号",
    "product": "商品",
    "refund_of": "退款原单",
}

_HEADER_NOISE = re.compile(r"[（(\[【].*?[)）\]】]|[\s_\-*:：]")


def normalise_header(text) -> str:
    return _HEADER_NOISE.sub("", str(text or "").replace("\ufeff", "")).lower()


def alias_index(aliases: dict[str, list[str]]) -> dict[str, str]:
    index = {}
    for name, names in aliases.items():
        for alias in names:
            index[normalise_header(alias)] = name
    return index


@dataclass
class HeaderMap:
    """Which column of the file holds which field, and what was left over."""

    positions: dict[str, int]  # field name -> column index
    labels: dict[str, str]  # field name -> the header as written in the file
    ignored: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)


def map_headers(headers: list, aliases: dict[str, list[str]], required=("account_id",)) -> HeaderMap:
    index = alias_index(aliases)
    positions, labels, ignored, duplicated = {}, {}, [], []
    for position, header in enumerate(headers):
        label = str(header if header is not None else "").replace("\ufeff", "").strip()
        if not label:
            continue
        name = index.get(normalise_header(label))
        if name is None:
            ignored.append(label)
        elif name in positions:
            duplicated.append(label)
        else:
            positions[name] = position
            labels[name] = label
    missing = [name for name in required if name not in positions]
    if missing:
        raise ImportFileError(
            _("The file has no %(column)s column (accepted headers: %(aliases)s).")
            % {"column": missing[0], "aliases": ", ".join(aliases[missing[0]])}
        )
    return HeaderMap(positions=positions, labels=labels, ignored=ignored, duplicated=duplicated)


# --- files -------------------------------------------------------------------------


def detect_encoding(sample: bytes) -> str:
    """UTF-8 (with or without BOM) when the bytes are valid UTF-8, else GB18030 (a
    superset of GBK, what Chinese Excel writes) when they are valid GB18030."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        codecs.getincrementaldecoder("gb18030")().decode(sample, final=False)
        return "gb18030"
    except UnicodeDecodeError:
        raise ImportFileError(
            _("The file is neither UTF-8 nor GBK/GB18030 text. Save it as CSV (UTF-8) or XLSX.")
        ) from None


def file_format(name: str) -> str:
    suffix = Path(name).suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return "xlsx"
    if suffix in (".csv", ".txt", ".tsv", ""):
        return "csv"
    if suffix == ".xls":
        raise ImportFileError(_("Old .xls workbooks are not supported: save the file as .xlsx or CSV."))
    raise ImportFileError(_("Unsupported file type %(suffix)s: use CSV or XLSX.") % {"suffix": suffix})


class Table:
    """A file opened for streaming: `headers`, `encoding`, and `rows()` yielding
    (row number as a spreadsheet shows it, list of cells) for every non-blank row."""

    def __init__(self, path: str | Path, *, encoding: str = "", name: str = ""):
        self.path = Path(path)
        self.format = file_format(name or self.path.name)
        self.encoding = ""
        self._handle = None
        if self.format == "xlsx":
            self._open_xlsx()
        else:
            self._open_csv(ENCODING_ALIASES.get(encoding.lower(), encoding.lower()) if encoding else "")

    def _open_csv(self, encoding: str):
        raw = self.path.open("rb")
        sample = raw.read(SAMPLE_BYTES)
        raw.seek(0)
        detected = detect_encoding(sample)
        if not encoding:
            encoding = detected
        elif encoding == "utf-8" and detected == "utf-8-sig":
            encoding = "utf-8-sig"
        self.encoding = encoding
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise ImportFileError(
                _("Unknown encoding %(encoding)s: use UTF-8 or GBK.") % {"encoding": encoding}
            ) from None
        self._nul = False
        if encoding.startswith("utf-16") or (b"\r" in sample and b"\n" not in sample):
            # Lines that are not split at b"\n" (UTF-16, old Mac line ends): the text layer splits them.
            text = io.TextIOWrapper(raw, encoding=encoding, errors="strict", newline="")
            self._handle = text
            self._lines = self._bounded_lines(text.readline)
        else:
            # Bytes split at b"\n" (no UTF-8 or GB18030 sequence holds that byte), each line
            # decoded alone: a bad byte is reported on its own row, not "near" it.
            self._handle = raw
            self._lines = self._bounded_lines(self._decoded_lines(raw, encoding))
        try:
            first = next(self._lines, "")
        except UnicodeDecodeError:
            raise ImportFileError(self._decode_message(1)) from None
        delimiter = "\t" if first.count("\t") > first.count(",") else ","
        if first.count(";") > first.count(delimiter):
            delimiter = ";"
        csv.field_size_limit(LIMITS["csv_cell_chars"])
        self._reader = csv.reader(itertools_chain([first], self._lines), delimiter=delimiter)
        self.headers = []
        self._row = 0
        try:
            for cells in self._reader:
                self._row += 1
                if any(c.strip() for c in cells):
                    self.headers = self._checked_headers(cells)
                    break
        except UnicodeDecodeError:
            raise ImportFileError(self._decode_message(self._row + 1)) from None
        except csv.Error as exc:
            raise self._csv_error(self._row + 1, exc) from None

    def _decoded_lines(self, raw, encoding: str):
        decode = codecs.getdecoder(encoding)
        first = True
        number = 0

        def readline(limit: int) -> str:
            nonlocal first, number
            line = raw.readline(limit)
            number += 1
            if len(line) == limit and not line.endswith(b"\n"):
                raise self._line_too_long(number)
            if first and line.startswith(codecs.BOM_UTF8):
                line = line[len(codecs.BOM_UTF8) :]
            first = False
            try:
                return decode(line)[0]
            except UnicodeDecodeError:
                raise ImportFileError(self._decode_message(number, near=number == 1)) from None

        return readline

    def _bounded_lines(self, readline) -> Iterator[str]:
        """The file's lines, refusing one longer than the limit before it is in memory,
        and noting a NUL (which no database stores) for the row being read."""
        limit = LIMITS["csv_line_chars"]
        number = 0
        while line := readline(limit + 1):
            number += 1
            if len(line) > limit:
                raise self._line_too_long(number)
            if "\0" in line:
                self._nul = True
            yield line

    @staticmethod
    def _line_too_long(number: int) -> ImportFileError:
        return ImportFileError(
            _("Line %(line)d of the file is longer than %(limit)s characters: this is not a list of rows.")
            % {"line": number, "limit": f"{LIMITS['csv_line_chars']:,}"}
        )

    def _csv_error(self, row: int, exc: csv.Error) -> ImportFileError:
        if "field larger than field limit" in str(exc):
            return ImportFileError(
                _("Row %(row)d has a cell longer than %(limit)s characters.")
                % {"row": row, "limit": f"{LIMITS['csv_cell_chars']:,}"}
            )
        return ImportFileError(
            _("Row %(row)d is not valid CSV (a quote may be left open). Save the file again as CSV.") % {"row": row}
        )

    def _checked_headers(self, cells: list) -> list:
        """The header row without its empty tail, refused when it is wider than the limit."""
        width = len(cells)
        while width and (cells[width - 1] is None or not str(cells[width - 1]).strip()):
            width -= 1
        if width > LIMITS["columns"]:
            raise ImportFileError(
                _("The file has %(count)s columns; an import reads at most %(limit)s.")
                % {"count": f"{width:,}", "limit": f"{LIMITS['columns']:,}"}
            )
        self._width = width
        return list(cells[:width])

    def _decode_message(self, row: int, *, near: bool = True) -> str:
        label = "GBK/GB18030" if self.encoding == "gb18030" else self.encoding.upper().replace("-SIG", "")
        if not near:
            return _(
                "Row %(row)d of the file is not valid %(encoding)s text: the file mixes encodings. "
                "Save the whole file again as CSV (UTF-8) and upload it again."
            ) % {"encoding": label, "row": row}
        return _(
            "The file is not valid %(encoding)s text (near row %(row)d). Choose the file's encoding and upload it again."
        ) % {"encoding": label, "row": row}

    def _open_xlsx(self):
        self._workbook = _open_workbook(self.path)
        self._xlsx_rows = self._sheet_rows()
        self.headers = []
        self._row = 0
        for number, cells in self._xlsx_rows:
            self._row = number
            if any(c is not None and str(c).strip() for c in cells):
                self.headers = self._checked_headers(cells)
                break

    def _sheet_rows(self) -> Iterator[tuple[int, list]]:
        """The first sheet's rows as (row number, values), read with openpyxl's cell
        parser but holding one row at a time (openpyxl's read-only sheet keeps every row
        element it has read), and with no row wider than the header's limit."""
        from openpyxl.worksheet._reader import ROW_TAG, WorkSheetParser
        from openpyxl.xml.functions import iterparse

        book = self._workbook
        parser = WorkSheetParser(
            None,
            book._crm_shared_strings,
            data_only=True,
            epoch=book.epoch,
            date_formats=book._date_formats,
            timedelta_formats=book._timedelta_formats,
        )
        number = 0
        try:
            with book._archive.open(book._crm_sheet_path) as raw:
                parent = None
                for event, element in iterparse(_BoundedXml(raw, b"</row>"), events=("start", "end")):
                    if event == "start":
                        if parent is None and element.tag.endswith("}sheetData"):
                            parent = element
                        continue
                    if element.tag != ROW_TAG:
                        continue
                    number, cells = parser.parse_row(element)
                    if parent is not None:
                        parent.clear()  # the row is read: let it go
                    # Up to the header's width once it is known (before: Excel's own limit).
                    width = getattr(self, "_width", 16384)
                    values = [None] * min(max((c["column"] for c in cells), default=0), width)
                    for cell in cells:
                        if cell["column"] <= len(values):
                            values[cell["column"] - 1] = cell["value"]
                    yield number, values
        except ImportFileError:
            raise
        except (SyntaxError, ValueError, IndexError, KeyError, TypeError, EOFError, zipfile.BadZipFile, zlib.error):
            # SyntaxError: xml.etree's ParseError; IndexError: a shared string that is not there.
            raise ImportFileError(
                _("This XLSX workbook is damaged near row %(row)d. Open it in Excel and save it again.")
                % {"row": number + 1}
            ) from None

    def rows(self) -> Iterator[tuple[int, list]]:
        if self.format == "xlsx":
            for number, cells in self._xlsx_rows:
                for cell in cells:
                    if cell is not None and (not isinstance(cell, str) or cell.strip()):
                        yield number, cells
                        break
            return
        number = self._row
        try:
            for cells in self._reader:
                number += 1
                if not cells:
                    continue
                if self._nul:
                    self._nul = False
                    cells = [InvalidCell() if "\0" in cell else cell for cell in cells]
                for cell in cells:
                    if cell.__class__ is not str or cell.strip():
                        yield number, cells
                        break
        except UnicodeDecodeError:
            raise ImportFileError(self._decode_message(number + 1)) from None
        except csv.Error as exc:
            raise self._csv_error(number + 1, exc) from None

    def scan(self) -> int:
        """Read every row without parsing a cell: the file-level problems (encoding,
        structure, size) surface here, before anything is written. Returns the row count."""
        count = 0
        for _row in self.rows():
            count += 1
        return count

    def close(self):
        if self._handle is not None:
            self._handle.close()
        if self.format == "xlsx" and getattr(self, "_workbook", None) is not None:
            self._workbook.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def itertools_chain(first, rest):
    yield from first
    yield from rest


class InvalidCell:
    """A cell that cannot be stored as it is (it holds a NUL): every parser refuses it
    through `text`, so the row is reported with its column and the others go on."""

    __slots__ = ()

    def message(self) -> str:
        return _("This cell contains a NUL character, which cannot be stored: remove it and import the row again.")


class _BoundedXml:
    """An XML stream from the zip that refuses an element (row, shared string) bigger
    than the limit: the XML parser would otherwise hold all of it."""

    def __init__(self, raw, end_tag: bytes):
        self.raw = raw
        self.end_tag = end_tag
        self.limit = LIMITS["xlsx_row_bytes"]
        self.since_end = 0

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size if size and size > 0 else 65536)
        end = data.rfind(self.end_tag)
        self.since_end = len(data) - end - len(self.end_tag) if end >= 0 else self.since_end + len(data)
        if self.since_end > self.limit:
            raise ImportFileError(
                _("The workbook holds a row or a text larger than %(limit)s MB: this is not a list of rows.")
                % {"limit": self.limit // (1024 * 1024)}
            )
        return data


class _SharedStrings:
    """An XLSX's shared-strings table as one UTF-8 buffer and the offsets of its ends:
    about the size of its text, where a list of str costs some 60 bytes more an entry
    (a 250 kB file of short strings grew a process by 600 MB that way)."""

    def __init__(self):
        self._data = bytearray()
        self._ends = array("Q")

    def append(self, value: str) -> None:
        self._data += value.encode("utf-8", "surrogatepass")
        self._ends.append(len(self._data))

    def __len__(self) -> int:
        return len(self._ends)

    def __getitem__(self, index: int) -> str:
        if index < 0:
            raise IndexError(index)
        start = self._ends[index - 1] if index else 0
        return self._data[start : self._ends[index]].decode("utf-8", "surrogatepass")


def _xlsx_check(path: Path) -> zipfile.ZipFile:
    """The workbook's zip directory against the limits, before any part is inflated.
    The zip reader stops a part at the size its directory declares (and fails its CRC),
    so a declared size cannot be exceeded by lying about it."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise ImportFileError(
            _("This is not a readable XLSX workbook. Open it in Excel and save it as .xlsx, or as CSV.")
        ) from None
    members = archive.infolist()
    too_big = None
    if len(members) > LIMITS["xlsx_members"]:
        too_big = _("it holds %(count)s parts") % {"count": f"{len(members):,}"}
    for member in members:
        name = member.filename
        if name.startswith("xl/worksheets/"):
            limit = LIMITS["xlsx_sheet_bytes"]
        elif name.endswith("sharedStrings.xml"):
            limit = LIMITS["xlsx_shared_strings_bytes"]
        else:
            limit = LIMITS["xlsx_part_bytes"]
        if member.file_size > limit:
            too_big = _("%(part)s inflates to %(size)s MB (at most %(limit)s MB)") % {
                "part": name,
                "size": f"{member.file_size // (1024 * 1024):,}",
                "limit": f"{limit // (1024 * 1024):,}",
            }
            break
    if too_big:
        archive.close()
        raise ImportFileError(
            _(
                "This workbook is too big to import once decompressed (%(detail)s). "
                "Save it as CSV, or split it into smaller files."
            )
            % {"detail": too_big}
        )
    return archive


def _open_workbook(path: Path):
    """The parts of a checked XLSX that the rows need, read by openpyxl's own parsers:
    the workbook (its first sheet), the styles (which numbers are dates) and the shared
    strings, kept in a compact table and read through a bounded stream. Nothing else is
    loaded (openpyxl's read-only sheet reads a whole sheet once just to find its size)."""
    from openpyxl.reader.excel import SHARED_STRINGS, ExcelReader
    from openpyxl.styles.stylesheet import apply_stylesheet
    from openpyxl.xml.constants import SHEET_MAIN_NS
    from openpyxl.xml.functions import iterparse

    archive = _xlsx_check(path)
    si_tag, t_tag, r_tag = (f"{{{SHEET_MAIN_NS}}}{name}" for name in ("si", "t", "r"))

    def si_text(node) -> str:
        # The text of a shared string: its own <t> or its runs' <t>, not the phonetic guide (<rPh>).
        parts = []
        for child in node:
            if child.tag == t_tag:
                parts.append(child.text or "")
            elif child.tag == r_tag:
                parts.extend(sub.text or "" for sub in child if sub.tag == t_tag)
        return "".join(parts).replace("_x005F_", "_")

    class Reader(ExcelReader):
        def __init__(self):
            self.archive = archive
            self.valid_files = archive.namelist()
            self.read_only = True
            self.keep_vba = False
            self.data_only = True
            self.keep_links = False
            self.rich_text = False
            self.shared_strings = _SharedStrings()
            self.sheet_path = None

        def read_strings(self):
            part = self.package.find(SHARED_STRINGS)
            if part is None:
                return
            with self.archive.open(part.PartName[1:]) as raw:
                root = None
                for event, node in iterparse(_BoundedXml(raw, b"</si>"), events=("start", "end")):
                    if event == "start":
                        if root is None:
                            root = node
                        continue
                    if node.tag == si_tag:
                        self.shared_strings.append(si_text(node))
                        root.clear()

        def read(self):
            self.read_manifest()
            self.read_strings()
            self.read_workbook()
            apply_stylesheet(self.archive, self.wb)
            for _sheet, rel in self.parser.find_sheets():
                if rel.target in self.valid_files and "chartsheet" not in rel.Type:
                    self.sheet_path = rel.target
                    break

    reader = Reader()
    try:
        reader.read()
    except ImportFileError:
        archive.close()
        raise
    except Exception:  # openpyxl raises whatever its parsers meet in a damaged file
        archive.close()
        raise ImportFileError(
            _("This is not a readable XLSX workbook. Open it in Excel and save it as .xlsx, or as CSV.")
        ) from None
    if reader.sheet_path is None:
        archive.close()
        raise ImportFileError(_("This workbook has no sheet."))
    book = reader.wb
    book._crm_shared_strings = reader.shared_strings
    book._crm_sheet_path = reader.sheet_path
    return book


# --- cells ---------------------------------------------------------------------------


def text(value) -> str:
    """A cell as stripped text; an exported, neutralised formula ("'=...") comes back as it was."""
    if value.__class__ is str:
        value = value.strip()
    elif value is None:
        return ""
    elif value.__class__ is InvalidCell:
        raise CellError(value.message())
    else:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        value = str(value).strip()
    if value[:1] == "'":
        return cell_restore(value)
    return value


def limited(value, max_length: int) -> str:
    value = text(value)
    if len(value) > max_length:
        raise CellError(
            _("At most %(max)d characters (this has %(length)d).") % {"max": max_length, "length": len(value)}
        )
    return value


_DATE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?")
_TIME = re.compile(r"^[T\s]*(\d{1,2})\s*[:时点]\s*(\d{1,2})\s*分?(?:\s*:?\s*(\d{1,2})(?:\.(\d{1,6}))?\s*秒?)?")
_OFFSET = re.compile(r"^\s*(Z|UTC|GMT|[+-]\d{2}:?\d{2})\s*$", re.IGNORECASE)
_SERIAL = re.compile(r"^\d{1,5}(\.\d+)?$")


def _excel_serial(number: float) -> datetime:
    if not 1 <= number < 2958466:
        raise CellError(_("Not a date."))
    return datetime.combine(EXCEL_EPOCH, time()) + timedelta(days=number)


def _date_parts(value: str) -> tuple[date, str]:
    match = _DATE.match(value)
    if not match:
        if len(value) == 8 and value.isdigit():  # 20240105
            match = re.match(r"(\d{4})(\d{2})(\d{2})", value)
        else:
            raise CellError(
                _("Unrecognised date %(value)s: use 2024-01-05, 2024/1/5 or 2024年1月5日.") % {"value": value}
            )
    try:
        day = date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        raise CellError(_("%(value)s is not a real date.") % {"value": value}) from None
    return day, value[match.end() :]


def parse_date(value) -> date:
    """2024-01-05, 2024/1/5, 2024.1.5, 2024年1月5日, 20240105, an Excel serial (45296)
    or an XLSX date cell. A time of day after the date is allowed and dropped."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, int | float):
        return _excel_serial(value).date()
    value = text(value)
    if len(value) == 10:
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    if _SERIAL.match(value) and len(value) != 8:
        return _excel_serial(float(value)).date()
    day, rest = _date_parts(value)
    if rest.strip() and not _TIME.match(rest):
        raise CellError(_("Unrecognised date %(value)s: use 2024-01-05.") % {"value": value})
    return day


_LOCAL_ZONE: ZoneInfo | None = None


def local_zone() -> ZoneInfo:
    global _LOCAL_ZONE
    if _LOCAL_ZONE is None:
        _LOCAL_ZONE = ZoneInfo(settings.TIME_ZONE)
    return _LOCAL_ZONE


@receiver(setting_changed)
def _forget_zone(*, setting, **kwargs):
    global _LOCAL_ZONE
    if setting == "TIME_ZONE":
        _LOCAL_ZONE = None


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=local_zone())


def parse_datetime(value) -> datetime:
    """ISO 8601 with or without an offset (2024-01-05T10:00:00+08:00, ...Z), the date
    forms of `parse_date` with an optional time, Excel serials. Without an offset
    the time is read in the CRM's time zone."""
    if isinstance(value, datetime):
        return _aware(value)
    if isinstance(value, date):
        return _aware(datetime.combine(value, time()))
    if isinstance(value, int | float):
        return _aware(_excel_serial(value))
    value = text(value)
    try:
        return _aware(datetime.fromisoformat(value))
    except ValueError:
        pass
    if _SERIAL.match(value) and len(value) != 8:
        return _aware(_excel_serial(float(value)))
    day, rest = _date_parts(value)
    moment = datetime.combine(day, time())
    if rest.strip():
        match = _TIME.match(rest)
        if not match:
            raise CellError(_("Unrecognised time in %(value)s: use 2024-01-05 10:30:00+08:00.") % {"value": value})
        try:
            moment = moment.replace(
                hour=int(match[1]),
                minute=int(match[2]),
                second=int(match[3] or 0),
                microsecond=int((match[4] or "0").ljust(6, "0")),
            )
        except ValueError:
            raise CellError(_("%(value)s is not a real time.") % {"value": value}) from None
        rest = rest[match.end() :]
        if rest.strip():
            offset = _OFFSET.match(rest)
            if not offset:
                raise CellError(_("Unrecognised time zone in %(value)s: use +08:00 or Z.") % {"value": value})
            code = offset[1].upper()
            if code in ("Z", "UTC", "GMT"):
                return moment.replace(tzinfo=UTC)
            code = code.replace(":", "")
            delta = timedelta(hours=int(code[1:3]), minutes=int(code[3:5]))
            return moment.replace(tzinfo=fixed_offset(delta if code[0] == "+" else -delta))
    return _aware(moment)


def _validated(validate, value, **options):
    """A cell through one of the model's own validators (players.validators)."""
    try:
        validate(value, **options)
    except ValidationError as exc:
        raise CellError(" ".join(exc.messages)) from None
    return value


def parse_game_time(value, *, now: datetime | None = None) -> datetime:
    """A registration or login time: `parse_datetime`, then the game-time range every
    door applies (players.validators.validate_game_time)."""
    from .validators import validate_game_time

    return _validated(validate_game_time, parse_datetime(value), now=now)


def parse_not_future_date(value) -> date:
    """A birthday: `parse_date`, then players.validators.validate_birthday."""
    from .validators import validate_birthday

    return _validated(validate_birthday, parse_date(value))


def parse_int(value, *, minimum: int = 0, maximum: int = 2_147_483_647) -> int:
    if isinstance(value, bool):
        raise CellError(_("A whole number is needed."))
    if isinstance(value, int):
        number = value
    elif value.__class__ is str and value.isdigit():
        number = int(value)
    else:
        try:
            number = Decimal(text(value).replace(",", ""))
        except InvalidOperation:
            raise CellError(_("A whole number is needed.")) from None
        if number != number.to_integral_value():
            raise CellError(_("A whole number is needed."))
        number = int(number)
    if not minimum <= number <= maximum:
        raise CellError(_("Must be between %(min)d and %(max)d.") % {"min": minimum, "max": maximum})
    return number


def parse_decimal(value) -> Decimal:
    if isinstance(value, float):
        value = repr(value)
    try:
        number = Decimal(text(value).replace(",", "").lstrip("¥￥$"))
    except InvalidOperation:
        raise CellError(_("A decimal number is needed, e.g. 648.00.")) from None
    if not number.is_finite():
        raise CellError(_("A decimal number is needed, e.g. 648.00."))
    return number


TRUE_WORDS = {"1", "true", "yes", "y", "t", "是", "对", "真", "√", "✓", "x"}
FALSE_WORDS = {"0", "false", "no", "n", "f", "否", "不", "不是", "假", "×"}


CONSENT_WORDS = {
    "granted": ("granted", "grant", "yes", "y", "true", "1", "同意", "是"),
    "refused": ("refused", "refuse", "no", "n", "false", "0", "拒绝", "否"),
    "withdrawn": ("withdrawn", "withdraw", "撤回", "退订"),
}
_CONSENT_LOOKUP = {word: status for status, words in CONSENT_WORDS.items() for word in words}


def parse_consent(value) -> str:
    """A consent cell: granted / refused / withdrawn (or yes/no, 同意/拒绝/撤回)."""
    word = text(value).lower()
    if word not in _CONSENT_LOOKUP:
        raise CellError(
            _("Unknown consent %(value)s: use granted, refused or withdrawn (同意, 拒绝, 撤回).")
            % {"value": text(value)}
        )
    return _CONSENT_LOOKUP[word]


def parse_bool(value) -> bool:
    if isinstance(value, bool):
        return value
    word = text(value).lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise CellError(_("Use yes/no, true/false, 1/0 or 是/否."))


_PHONE_NOISE = str.maketrans("", "", " -().\u3000")
_CN_MOBILE: re.Pattern | None = None


def parse_phone(value) -> str:
    """A phone number as E.164 (+8613812345678). Chinese mobiles take a fast path
    checked against libphonenumber's own pattern; everything else goes through
    libphonenumber. Numbers without a country code are read as Chinese."""
    import phonenumbers

    global _CN_MOBILE
    if _CN_MOBILE is None:
        pattern = phonenumbers.PhoneMetadata.metadata_for_region("CN").mobile.national_number_pattern
        _CN_MOBILE = re.compile(f"(?:{pattern})")
    raw = text(value)
    digits = raw.translate(_PHONE_NOISE)
    national = digits
    if national.startswith("+86"):
        national = national[3:]
    elif national.startswith("0086"):
        national = national[4:]
    elif len(national) == 13 and national.startswith("86"):
        national = national[2:]
    if len(national) == 11 and national.isdigit() and _CN_MOBILE.fullmatch(national):
        return "+86" + national
    try:
        number = phonenumbers.parse(raw, settings.PHONENUMBER_DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        raise CellError(_("%(value)s is not a phone number.") % {"value": raw}) from None
    if not phonenumbers.is_valid_number(number):
        raise CellError(_("%(value)s is not a valid phone number.") % {"value": raw})
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def parse_email(value) -> str:
    value = limited(value, 254)
    try:
        validate_email(value)
    except ValidationError:
        raise CellError(_("%(value)s is not an email address.") % {"value": value}) from None
    return value


def parse_qq(value) -> str:
    value = text(value)
    if not (value.isdigit() and 5 <= len(value) <= 12):
        raise CellError(_("A QQ number is 5 to 12 digits."))
    return value


_ZONES: set[str] | None = None


def parse_timezone(value) -> str:
    global _ZONES
    if _ZONES is None:
        _ZONES = available_timezones()
    value = text(value)
    if value not in _ZONES:
        raise CellError(_("Unknown time zone %(value)s (e.g. Asia/Shanghai).") % {"value": value})
    return value


def parse_tags(value) -> list[str]:
    names = [name.strip() for name in re.split(r"[,，;；、|]", text(value))]
    names = sorted({name for name in names if name})
    for name in names:
        if len(name) > 40:
            raise CellError(_("Tag %(name)s is longer than 40 characters.") % {"name": name})
    return names
