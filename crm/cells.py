"""The one neutraliser every file the product writes goes through (CSV and XLSX exports,
reports, import problem reports, templates): a text cell that a spreadsheet would run as a
formula is prefixed with an apostrophe, so that Excel, WPS and LibreOffice show it instead.

A cell is dangerous when it starts with = + - @, with a control character (tab, CR, LF,
NUL: spreadsheets skip them and read what follows), or with spaces before one of those.
A plain number (-12.50, +8613812345678) is left as it is: a spreadsheet reads it as a
number, never as a formula, so phone numbers in E.164 stay readable.

`cell_restore` undoes exactly what `cell_neutralise` did (imports of our own exports).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from datetime import date, time, timedelta
from decimal import Decimal

_TRIGGERS = frozenset("=+-@\t\r\n\0")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:[.,]\d+)*|\.\d+)(?:[eE][+-]?\d+)?")


def cell_neutralise(value):
    """`value` as a spreadsheet cell that cannot run: dangerous text gets a leading "'";
    numbers, dates and harmless text come back unchanged; any other object (a lazy
    translation, a model instance) as its text, neutralised."""
    if value.__class__ is not str:
        if value is None or isinstance(value, int | float | Decimal | date | time | timedelta):
            return value
        value = str(value)
    if not value or value == "-":  # "-" is how our files write "nothing"
        return value
    first = value[0]
    if first not in _TRIGGERS:
        if not first.isspace():
            return value
        stripped = value.lstrip()
        if not stripped or stripped[0] not in _TRIGGERS:
            return value
    elif first in "+-" and _NUMBER.fullmatch(value):
        return value
    return "'" + value


def cell_restore(value):
    """The cell as it was before `cell_neutralise` (for reading our own files back)."""
    if value.__class__ is str and value[:1] == "'" and cell_neutralise(value[1:]) == value:
        return value[1:]
    return value


def cells_neutralise(row: Iterable) -> list:
    """A row for openpyxl's `append` (which would store "=..." text as a formula)."""
    return [cell_neutralise(value) for value in row]


class _NeutralisingWriter:
    def __init__(self, writer):
        self._writer = writer

    def writerow(self, row):
        return self._writer.writerow([cell_neutralise(value) for value in row])

    def writerows(self, rows):
        for row in rows:
            self.writerow(row)


def csv_writer(stream, **options):
    """`csv.writer(stream)` whose every cell goes through `cell_neutralise`."""
    return _NeutralisingWriter(csv.writer(stream, **options))
