"""One English text, one Chinese translation: the catalogues under locale/ are merged into one
at run time, so a msgid translated two ways in two of them shows whichever loads first (issue 17:
"Open a case" read 创建工单 on one page and 新建工单 in another catalogue). A text that needs two
translations gets a context (pgettext)."""

from collections import defaultdict
from pathlib import Path

import polib
from django.conf import settings

# Translated two ways before this test existed; each is to get one translation or a context.
# The list may only shrink.
KNOWN: set[str] = set()  # every msgid reads the same in every catalogue (issue 18)


def translations_by_text() -> dict[tuple, dict[str, str]]:
    found = defaultdict(dict)
    for po_path in sorted(Path(settings.BASE_DIR, "locale").glob("*/zh_Hans/LC_MESSAGES/django.po")):
        for entry in polib.pofile(str(po_path)):
            if entry.msgstr and not entry.obsolete:
                found[(entry.msgctxt, entry.msgid)][po_path.parts[-4]] = entry.msgstr
    return found


def test_a_text_has_one_chinese_translation_across_the_catalogues():
    twice = {
        key: by_catalogue
        for key, by_catalogue in translations_by_text().items()
        if len(set(by_catalogue.values())) > 1 and key[1] not in KNOWN
    }
    assert not twice, twice


def test_open_a_case_reads_the_same_everywhere():
    assert set(translations_by_text()[(None, "Open a case")].values()) == {"新建工单"}
