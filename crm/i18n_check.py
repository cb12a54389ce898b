"""Is every user-visible string of ours translated into Simplified Chinese?

`missing_translations()` extracts the msgids of our code the way `makemessages`
does (xgettext over the Python files, Django's `templatize` for templates), then
looks each one up: in our catalogues (`locale/<area>/zh_Hans/.../django.po`, read
directly, so nothing needs compiling) and, failing that, in Django's and the
libraries' own zh_Hans catalogues through gettext. What is left has no Chinese.

Used by `manage.py check_translations` and by a test, so a regression shows.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import polib
from django.conf import settings
from django.utils import translation
from django.utils.translation.template import templatize

APPS = ("crm", "players", "vip", "campaigns")
SKIP_DIRS = {"tests", "migrations", "__pycache__", "static", "locale"}
LANGUAGE = "zh-hans"
# The keywords makemessages gives xgettext (plus its defaults _, gettext, ngettext).
XGETTEXT_KEYWORDS = (
    "gettext_noop",
    "gettext_lazy",
    "ngettext_lazy:1,2",
    "pgettext:1c,2",
    "npgettext:1c,2,3",
    "pgettext_lazy:1c,2",
    "npgettext_lazy:1c,2,3",
)


@dataclass(frozen=True)
class Missing:
    msgid: str
    context: str
    where: str

    def __str__(self):
        return f"{self.where}: {self.msgid!r}" + (f" (context {self.context!r})" if self.context else "")


def xgettext_available() -> bool:
    return shutil.which("xgettext") is not None


def source_files(base: Path | None = None) -> list[Path]:
    base = base or Path(settings.BASE_DIR)
    files = []
    roots = [base / app for app in APPS] + [base / "templates"]
    for root in roots:
        for path in sorted(root.rglob("*")):
            if SKIP_DIRS.intersection(path.relative_to(base).parts) or not path.is_file():
                continue
            if path.suffix in (".py", ".html", ".txt"):
                files.append(path)
    return files


def extract(files: list[Path], base: Path | None = None) -> polib.POFile:
    """The msgids in `files`, with their locations, as xgettext finds them."""
    base = base or Path(settings.BASE_DIR)
    with tempfile.TemporaryDirectory() as tmp:
        inputs = []
        for path in files:
            rel = path.relative_to(base) if path.is_relative_to(base) else path
            if path.suffix == ".py":
                inputs.append(str(rel))
                continue
            target = Path(tmp) / (str(rel).strip("/").replace("/", "__") + ".py")
            target.write_text(templatize(path.read_text(encoding="utf-8"), origin=str(rel)), encoding="utf-8")
            inputs.append(str(target))
        command = [
            "xgettext",
            "--language=Python",
            "--from-code=UTF-8",
            "--output=-",
            *(f"--keyword={k}" for k in XGETTEXT_KEYWORDS),
            *inputs,
        ]
        output = subprocess.run(command, capture_output=True, check=True, text=True, cwd=base).stdout
    return polib.pofile(output) if output else polib.POFile()


def our_translations() -> set[tuple[str, str]]:
    """(context, msgid) of every entry with a Chinese msgstr in our catalogues."""
    found = set()
    for root in settings.LOCALE_PATHS:
        for po_path in Path(root).glob("zh_Hans/LC_MESSAGES/*.po"):
            for entry in polib.pofile(str(po_path)):
                if entry.obsolete or "fuzzy" in entry.flags:
                    continue
                translated = all(entry.msgstr_plural.values()) if entry.msgid_plural else bool(entry.msgstr)
                if translated:
                    found.add((entry.msgctxt or "", entry.msgid))
    return found


def _translated_elsewhere(entry: polib.POEntry) -> bool:
    with translation.override(LANGUAGE):
        if entry.msgid_plural:
            if entry.msgctxt:
                return translation.npgettext(entry.msgctxt, entry.msgid, entry.msgid_plural, 1) != entry.msgid
            return translation.ngettext(entry.msgid, entry.msgid_plural, 1) != entry.msgid
        if entry.msgctxt:
            return translation.pgettext(entry.msgctxt, entry.msgid) != entry.msgid
        return translation.gettext(entry.msgid) != entry.msgid


def missing_translations(files: list[Path] | None = None) -> list[Missing]:
    base = Path(settings.BASE_DIR)
    catalogue = extract(files if files is not None else source_files(base), base)
    ours = our_translations()
    missing = []
    for entry in catalogue:
        if not entry.msgid.strip() or (entry.msgctxt or "", entry.msgid) in ours:
            continue
        if _translated_elsewhere(entry):
            continue
        where = entry.occurrences[0][0] if entry.occurrences else "?"
        where = where.split("/")[-1].replace("__", "/").removesuffix(".py") if where.endswith(".html.py") else where
        missing.append(Missing(entry.msgid, entry.msgctxt or "", where))
    return missing


# --- what a rendered page shows ------------------------------------------------------

# Words that stay in English on a Chinese page: names of products, games' own terms, units.
ALLOWED_ENGLISH = {
    "VIP",
    "QQ",
    "ID",
    "CSV",
    "XLSX",
    "Excel",
    "SMS",
    "API",
    "SLA",
    "URL",
    "UTF",
    "BOM",
    "GBK",
    "CNY",
    "USD",
    "HKD",
    "TWD",
    "EUR",
    "JPY",
    "KRW",
    "Django",
    "iOS",
    "Android",
    "App",
    "Store",
    "TapTap",
    "bilibili",
    "WeChat",
    "Email",
    "E-mail",
    "AM",
    "PM",
}
_ENGLISH_RUN = re.compile(r"\b[A-Za-z][a-z]+(?:[ '-]+[A-Za-z][a-z]+)+\b")
_ENUM_VALUE = re.compile(r"(?<![\w/.{-])[a-z]+(?:_[a-z]+)+(?![\w/.}-])")  # not {template_variables}
_ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2})?(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})|\bUTC\b")
_KEY_VALUE = re.compile(r"\b[a-z_]{2,}=[^\s,&]+")
_RAW_SOURCE = re.compile(r"\b(?:greeting|case|task|campaign):\d+(?::\d+)?\b")


@dataclass(frozen=True)
class RawText:
    kind: str
    text: str

    def __str__(self):
        return f"{self.kind}: {self.text!r}"


def raw_text_found(text: str, *, allowed: set[str] = frozenset()) -> list[RawText]:
    """What in a Chinese page's visible text is not for a person: runs of English words
    (not proper nouns we keep in English), enum values (`at_risk`), ISO/UTC timestamps,
    `key=value` dumps and internal references (`greeting:1:20261207`)."""
    found = []
    for match in _ENGLISH_RUN.finditer(text):
        words = re.split(r"[ '-]+", match.group())
        if sum(w not in ALLOWED_ENGLISH for w in words) >= 2 and match.group() not in allowed:
            found.append(RawText("English", match.group()))
    for kind, pattern in (
        ("code", _ENUM_VALUE),
        ("UTC time", _ISO_TIME),
        ("key=value", _KEY_VALUE),
        ("reference", _RAW_SOURCE),
    ):
        found += [RawText(kind, m.group()) for m in pattern.finditer(text) if m.group() not in allowed]
    return found


class _VisibleText(HTMLParser):
    """The text a person sees: no scripts, styles or hidden inputs; titles and
    placeholders count, since they show on hover or in an empty field."""

    SKIP = {"script", "style", "template", "noscript"}

    def __init__(self):
        super().__init__()
        self.parts, self._skipping = [], 0

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self._skipping += 1
        attrs = dict(attrs)
        for name in ("title", "placeholder", "aria-label", "alt"):
            if attrs.get(name):
                self.parts.append(attrs[name])
        if tag == "input" and attrs.get("type") in ("submit", "button") and attrs.get("value"):
            self.parts.append(attrs["value"])

    def handle_endtag(self, tag):
        if tag in self.SKIP and self._skipping:
            self._skipping -= 1

    def handle_data(self, data):
        if not self._skipping and data.strip():
            self.parts.append(data.strip())


def visible_text(html: str) -> str:
    parser = _VisibleText()
    parser.feed(html)
    return "\n".join(parser.parts)
