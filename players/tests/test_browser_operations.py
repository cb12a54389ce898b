"""Operations' day in a real browser, in Chinese: import a messy GBK file from the player
list by clicking (upload, read the preview's row errors, confirm), see the outcome, then
export a list. Fixtures and helpers (page, base_data, shot) are in crm/tests/browser.py."""

import csv
import io
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from crm.tests.browser import no_horizontal_scroll, shot
from players.models import ExportRecord, ImportJob, ImportStatus, Player

FILES = Path(__file__).parent / "files"


@pytest.fixture
def operations_user(base_data, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    user = get_user_model().objects.create_user(
        username="wang", password="browser-pw-ops", first_name="芳", last_name="王", is_staff=True
    )
    user.groups.add(Group.objects.get(name="Operations"))
    # one player the file will update (a new nickname and level)
    Player.objects.create(account_id="10003", server="s1", nickname="赵六", level=1)
    return user


def cells(page, selector) -> list[list[str]]:
    return [
        [cell.strip() for cell in row.locator("th, td").all_inner_texts()]
        for row in page.locator(f"{selector} tr").all()
    ]


def test_operations_imports_a_messy_gbk_file_and_exports_a_list_in_chinese(page, live_server, operations_user):
    base = live_server.url

    # log in and switch to Chinese
    page.goto(f"{base}/admin/login/")
    page.fill("#id_username", "wang")
    page.fill("#id_password", "browser-pw-ops")
    page.click("input[type=submit]")
    page.wait_for_load_state()
    with page.expect_navigation():
        page.select_option("#wp-language-select", "zh-hans")

    # from the player list, "导入"
    page.goto(f"{base}/admin/players/player/")
    page.get_by_role("link", name="导入", exact=True).click()
    page.wait_for_selector("#id_file")
    assert "导入玩家或充值记录" in page.locator("#content").inner_text()
    assert no_horizontal_scroll(page)
    shot(page, "ops-01-upload")

    # upload the GBK file, leaving the encoding on "detect"
    page.set_input_files("#id_file", str(FILES / "messy_players_gbk.csv"))
    page.get_by_role("button", name="检查文件").click()
    page.wait_for_selector("#import-errors")

    # the preview: counts, and each bad row with its row, its column and why, in Chinese
    content = page.locator("#content").inner_text()
    assert "已检查，等待确认" in page.locator("#import-status").inner_text()
    counts = cells(page, "#content table:not(#import-errors)")
    assert counts[0] == ["行数", "新增", "更新", "未变", "无效"]
    assert counts[1] == ["13", "4", "1", "1", "7"]
    errors = cells(page, "#import-errors")
    assert errors[0] == ["行号", "账号", "列", "原因", "处理结果"]
    assert ["4", "10002", "手机号", "138-bad 不是有效的电话号码。", "无效，未导入"] in errors
    assert ["7", "10005", "生日", "1990-13-45 不是真实存在的日期。", "无效，未导入"] in errors
    assert ["11", "10001", "账号", "与第 2 行相同，已跳过。", "重复，已跳过"] in errors
    assert "is not" not in content and "invalid" not in content and "row" not in content
    assert not Player.objects.filter(account_id="10001").exists()  # nothing written before confirming
    assert no_horizontal_scroll(page)
    shot(page, "ops-02-preview")

    # confirm: the good rows are imported, the bad ones are not, and the page says so
    assert "将跳过 7 个无效行。" in content
    page.get_by_role("button", name="导入", exact=True).click()
    page.wait_for_function("document.querySelector('#import-status').innerText.includes('已导入')")
    counts = cells(page, "#content table:not(#import-errors)")
    assert counts[1] == ["13", "4", "1", "1", "7"]
    assert "正在进行" not in page.locator("#content").inner_text()  # it is done, not "running"
    shot(page, "ops-03-imported")
    job = ImportJob.objects.get()
    assert (job.status, job.language) == (ImportStatus.DONE, "zh-hans")
    assert Player.objects.get(account_id="10003").level == 3
    assert set(Player.objects.values_list("account_id", flat=True)) == {"10001", "10003", "10004", "10007", "10011"}

    # the problem report downloads in Chinese
    with page.expect_download() as report:
        page.get_by_role("link", name="下载所有问题行的报告（CSV）").click()
    rows = list(csv.reader(io.StringIO(Path(report.value.path()).read_text(encoding="utf-8-sig"))))
    assert rows[0] == ["行号", "账号", "列", "原因", "处理结果"]
    assert rows[1] == ["4", "10002", "手机号", "138-bad 不是有效的电话号码。", "无效，未导入"]

    # the imports list shows the outcome in Chinese too
    page.goto(f"{base}/admin/players/importjob/")
    listing = page.locator("#result_list").inner_text()
    assert "已导入" in listing and "messy_players_gbk.csv" in listing and "更新时间" not in listing
    assert no_horizontal_scroll(page)
    shot(page, "ops-04-import-list")

    # export the players of server s1 as CSV, from the filtered list
    page.goto(f"{base}/admin/players/player/?server=s1")
    page.wait_for_selector("#result_list")
    shot(page, "ops-05-player-list")
    with page.expect_download() as export:
        page.get_by_role("link", name="导出 CSV").click()
    exported = list(csv.reader(io.StringIO(Path(export.value.path()).read_text(encoding="utf-8-sig"))))
    header, body = exported[0], exported[1:]
    assert "账号" in header
    assert sorted(row[header.index("账号")] for row in body) == ["10001", "10003", "10004"]
    assert ExportRecord.objects.get().row_count == 3
