"""Reading spreadsheets people actually send: CSV in UTF-8 (with or without BOM) or
GBK/GB18030, XLSX; Chinese or English headers; dates in every common form.

Everything here streams: a file of any size is read row by row in constant memory.
The cell parsers are plain functions, fast enough for a million rows, and raise
`CellError` with a message meant for the person who made the spreadsheet.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from datetime import timezone as fixed_offset
from decimal import Decimal, InvalidOperation
from pathlib import Path
from time import monotonic
from zoneinfo import ZoneInfo, available_timezones

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.signals import setting_changed
from django.core.validators import validate_email
from django.dispatch import receiver
from django.utils import timezone
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
    "marketing_opt_out": ["marketing_opt_out", "opt_out", "拒绝营销", "退订营销"],
    "is_minor": ["is_minor", "minor", "未成年", "未成年人"],
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
    "marketing_opt_out",
    "is_minor",
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
    "marketing_opt_out": "拒绝营销",
    "is_minor": "未成年",
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
    "false",
    "false",
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
        text = io.TextIOWrapper(raw, encoding=encoding, errors="strict", newline="")
        self._handle = text
        try:
            first = text.readline()
        except UnicodeDecodeError:
            text.close()
            raise ImportFileError(self._decode_message(1)) from None
        delimiter = "\t" if first.count("\t") > first.count(",") else ","
        if first.count(";") > first.count(delimiter):
            delimiter = ";"
        self._reader = csv.reader(itertools_chain([first], text), delimiter=delimiter)
        self.headers = []
        self._row = 0
        for cells in self._reader:
            self._row += 1
            if any(c.strip() for c in cells):
                self.headers = cells
                break

    def _decode_message(self, row: int) -> str:
        label = "GBK/GB18030" if self.encoding == "gb18030" else self.encoding.upper().replace("-SIG", "")
        return _(
            "The file is not valid %(encoding)s text (near row %(row)d). Choose the file's encoding and upload it again."
        ) % {"encoding": label, "row": row}

    def _open_xlsx(self):
        from openpyxl import load_workbook
        from openpyxl.utils.exceptions import InvalidFileException

        try:
            self._workbook = load_workbook(self.path, read_only=True, data_only=True)
        except (InvalidFileException, KeyError, OSError, ValueError) as exc:
            raise ImportFileError(_("This is not a readable XLSX workbook (%(error)s).") % {"error": exc}) from None
        sheet = self._workbook.worksheets[0]
        self._xlsx_rows = sheet.iter_rows(values_only=True)
        self.headers = []
        self._row = 0
        for cells in self._xlsx_rows:
            self._row += 1
            if any(c is not None and str(c).strip() for c in cells):
                self.headers = list(cells)
                break

    def rows(self) -> Iterator[tuple[int, list]]:
        source = self._reader if self.format == "csv" else self._xlsx_rows
        number = self._row
        try:
            for cells in source:
                number += 1
                if not cells:
                    continue
                for cell in cells:
                    if cell is not None and (not isinstance(cell, str) or cell.strip()):
                        yield number, cells
                        break
        except UnicodeDecodeError:
            raise ImportFileError(self._decode_message(number + 1)) from None
        except csv.Error as exc:
            raise ImportFileError(_("Row %(row)d is not valid CSV: %(error)s") % {"row": number + 1, "error": exc})

    def close(self):
        if self._handle is not None:
            self._handle.close()
        if self.format == "xlsx":
            self._workbook.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def itertools_chain(first, rest):
    yield from first
    yield from rest


# --- cells ---------------------------------------------------------------------------


def text(value) -> str:
    """A cell as stripped text; an exported, neutralised formula ("'=...") comes back as it was."""
    if value.__class__ is str:
        value = value.strip()
    elif value is None:
        return ""
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


_TODAY: tuple[float, date] = (0.0, date.min)


def _today() -> date:
    """timezone.localdate(), looked up at most once a minute (it is slow per row)."""
    global _TODAY
    now = monotonic()
    if now - _TODAY[0] > 60:
        _TODAY = (now, timezone.localdate())
    return _TODAY[1]


def parse_not_future_date(value) -> date:
    day = parse_date(value)
    if day > _today():
        raise CellError(_("This date is in the future."))
    if day.year < 1900:
        raise CellError(_("A year before 1900 is not a plausible birthday."))
    return day


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
