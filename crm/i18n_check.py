"""Is every user-visible string of ours translated into Simplified Chinese?

`missing_translations()` extracts the msgids of our code the way `makemessages`
does (xgettext over the Python files, Django's `templatize` for templates), then
looks each one up: in our catalogues (`locale/<area>/zh_Hans/.../django.po`, read
directly, so nothing needs compiling) and, failing that, in Django's and the
libraries' own zh_Hans catalogues through gettext. What is left has no Chinese.

Used by `manage.py check_translations` and by a test, so a regression shows.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
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
