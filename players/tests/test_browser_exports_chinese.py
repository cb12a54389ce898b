"""Issue 17, item 4, in a real browser and in Chinese: a supervisor filters the player list by
clicking, downloads it, and the file reads 是/否 and Chinese labels (no false/true, no at_risk);
the export record reads the filters as labels and values; the daily report's row for what the
system did reads 系统."""

import csv
import io
from datetime import timedelta
from pathlib import Path

from django.utils import timezone
from openpyxl import load_workbook

from crm.tests.browser import in_chinese, login, no_horizontal_scroll, shot
from players.models import ExportRecord, PayerStatus, Player

CODES = {"true", "false", "True", "False", "at_risk", "active", "churned", "non_payer", "wechat", "phone", "in_game"}


def test_a_supervisor_exports_at_risk_players_and_reads_the_file_in_chinese(page, live_server, demo_day, tmp_path):
    base = live_server.url
    in_chinese(page, base)
    login(page, base, "supervisor", "browser-pw-3")

    page.goto(f"{base}/admin/players/player/")
    page.locator("#changelist-filter a", has_text="有流失风险").click()
    page.wait_for_url("**payer_status**")
    shot(page, "zh-export-01-filtered")
    at_risk = set(Player.objects.filter(payer_status=PayerStatus.AT_RISK).values_list("account_id", flat=True))

    with page.expect_download() as download:
        page.get_by_role("link", name="导出 XLSX").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.suffix == ".xlsx"
    sheet = load_workbook(saved).active
    header, *rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    cells = [dict(zip(header, row, strict=True)) for row in rows]
    assert {c["账号"] for c in cells} == at_risk and at_risk
    assert {c["付费状态"] for c in cells} == {"有流失风险"}
    for column in ("农历生日",):
        assert {c[column] for c in cells} <= {"是", "否"}, column
    consent_columns = [name for name in header if "营销" in str(name)]  # the marketing consent per channel
    assert len(consent_columns) >= 4, header
    for column in consent_columns:
        assert {c[column] for c in cells} <= {"同意", "拒绝", "撤回", "", None}, column
    assert {c["首选联系方式"] for c in cells} <= {"", None, "电话", "QQ", "微信", "短信", "电子邮件", "游戏内邮件"}
    assert not CODES & {str(value) for row in rows for value in row}

    with page.expect_download() as download:
        page.get_by_role("link", name="导出 CSV").click()
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    header, *rows = list(csv.reader(io.StringIO(text)))
    assert header[0] == "账号" and "付费状态" in header
    assert not CODES & {value for row in rows for value in row}

    # the export records: who, when, and the filter as the supervisor chose it
    page.goto(f"{base}/admin/players/exportrecord/")
    listing = page.locator("#result_list").inner_text()
    assert "付费状态: 有流失风险" in listing and "payer_status" not in listing
    assert ExportRecord.objects.count() == 2
    assert no_horizontal_scroll(page)
    shot(page, "zh-export-02-records")


def test_the_daily_report_names_the_systems_row_in_chinese(page, live_server, demo_day):
    base = live_server.url
    in_chinese(page, base)
    login(page, base, "supervisor", "browser-pw-3")

    page.goto(f"{base}/admin/players/case/report/")
    page.fill("#id_start", (timezone.localdate() - timedelta(days=30)).isoformat())
    page.click("form.crm-report-form input[type=submit]")
    page.wait_for_selector("#work-report")
    names = [n.strip() for n in page.locator("#work-report tbody tr td:nth-child(2)").all_inner_texts()]
    shot(page, "zh-export-03-daily-report")
    assert "系统" in names and "-" not in names
