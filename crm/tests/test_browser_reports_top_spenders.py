"""The weekly and monthly work reports, the top spenders and the year-end spend summary, in
Chromium by clicking, in Chinese and in English. Fixtures and helpers (page, base_data, login,
shot) are in crm/tests/browser.py."""

import csv
import io
from datetime import datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from campaigns.models import OutreachTask
from campaigns.services.gifts import gift_record
from campaigns.services.top_spenders import half_month_before
from crm.tests.browser import in_language, login, no_horizontal_scroll, shot
from players.models import ExportRecord, Player
from players.services import contact_log_create, payment_record

PASSWORD = "browser-pw-rp"


def _staff(username, family, given, role, **extra):
    user = get_user_model().objects.create_user(
        username=username, password=PASSWORD, first_name=given, last_name=family, is_staff=True, **extra
    )
    user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def team(base_data):
    """A supervisor, two managers with spenders on two servers in the last half month, an
    operations colleague (no personal data), contacts and a gift this week."""
    people = {
        "boss": _staff("zhangwei", "张", "伟", "Supervisor"),
        "lina": _staff("lina", "李", "娜", "VIP manager"),
        "wang": _staff("wangqiang", "王", "强", "VIP manager"),
        "ops": _staff("ops", "赵", "敏", "Operations"),
    }
    start, _end = half_month_before(timezone.localdate())
    paid_at = timezone.make_aware(datetime.combine(start + timedelta(days=2), time(12)))
    players = {}
    for n, (account, nickname, server, owner, amount) in enumerate(
        [
            ("top-1", "龙王", "s1", "lina", "8800"),
            ("top-2", "凤凰", "s1", "wang", "6400"),
            ("top-3", "麒麟", "s2", "wang", "3000"),
            ("top-4", "白虎", "s2", "lina", "1200"),
        ]
    ):
        player = Player.objects.create(
            account_id=account,
            nickname=nickname,
            server=server,
            manager=people[owner],
            phone=f"+8613800138{n:03d}",
            real_name="王小明",
        )
        payment_record(
            account_id=account,
            event_id=f"bp-{account}",
            kind="purchase",
            amount=Decimal(amount),
            currency="CNY",
            occurred_at=paid_at,
            source="api",
        )
        players[account] = player
    today = timezone.localdate()
    for owner, player in (("lina", "top-1"), ("lina", "top-4"), ("wang", "top-2")):
        contact_log_create(
            player=players[player], staff=people[owner], channel="phone", outcome="reached", topic="回访"
        )
    gift_record(
        player=players["top-1"], kind="item", item="月饼礼盒", value=Decimal("188"), actor=people["lina"], on=today
    )
    return people, players


def _table(page, selector) -> list[list[str]]:
    return [
        [cell.inner_text().strip() for cell in row.locator("td, th").all()]
        for row in page.locator(f"{selector} tr").all()
    ]


def test_the_weekly_and_monthly_reports_in_chinese_and_english(page, live_server, team, tmp_path):
    people, _players = team
    base = live_server.url

    # a supervisor, in Chinese: from the cases' list to the weekly report, its chart, the month, a file
    in_language(page, base, "zh-hans")
    login(page, base, "zhangwei", PASSWORD)
    page.goto(f"{base}/admin/players/case/")
    page.get_by_role("link", name="周报").first.click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "周报"
    rows = _table(page, "#work-report")
    assert rows[0][:3] == ["员工", "联系次数", "联系成功"]
    by_name = {row[0]: row for row in rows[1:]}
    assert by_name["李娜"][1] == "2" and by_name["王强"][1] == "1" and by_name["全组"][1] == "3"
    assert by_name["李娜"][-2:] == ["1", "¥188.00"]  # the gift she gave
    assert page.locator("#report-chart").is_visible()
    assert no_horizontal_scroll(page)
    shot(page, "report-week-zh")
    page.click("#period-previous")
    page.wait_for_load_state()
    assert page.locator("#work-report tfoot th").first.inner_text() == "全组"
    page.get_by_role("link", name="月报").first.click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "月报"
    page.fill("#id_day", timezone.localdate().isoformat())
    page.click("input[type=submit]")
    page.wait_for_load_state()
    shot(page, "report-month-zh")
    with page.expect_download() as download:
        page.click("#report-csv")
    header, *lines = list(csv.reader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8-sig"))))
    assert header[:3] == ["日期", "员工", "联系次数"] and header[-2:] == ["赠送礼品数", "礼物价值"]
    assert lines[-1][1] == "全组" and lines[-1][2] == "3"
    with page.expect_download() as download:
        page.click("#report-xlsx")
    assert download.value.suggested_filename.endswith(".xlsx")

    # a manager, in English: her own row only
    page.context.clear_cookies()
    in_language(page, base, "en")
    login(page, base, "lina", PASSWORD)
    page.goto(f"{base}/admin/players/case/report/week/")
    assert page.locator("h1").inner_text() == "Weekly work report"
    names = [row[0] for row in _table(page, "#work-report tbody")]
    assert names == ["李娜"]
    assert "supervisors see the whole team" in page.locator("p.help").inner_text()
    shot(page, "report-week-en-manager")


def test_top_spenders_are_booked_and_each_manager_reads_the_call(page, live_server, team):
    people, players = team
    base = live_server.url

    login(page, base, "zhangwei", PASSWORD)
    page.goto(f"{base}/admin/workplace/top-spenders/")
    rows = _table(page, "#top-spenders tbody")
    assert [(r[0], r[1], r[2].split("\n")[0]) for r in rows] == [
        ("s1", "1", "龙王"),
        ("s1", "2", "凤凰"),
        ("s2", "1", "麒麟"),
        ("s2", "2", "白虎"),
    ]
    assert rows[0][5] == "¥8,800.00" and rows[0][7] == "¥176.00"  # 2 % of the spend
    shot(page, "top-spenders-en")
    page.click("#book-calls")
    page.wait_for_load_state()
    assert "4 return-visit calls booked" in page.locator(".messagelist .success").inner_text()
    assert OutreachTask.objects.filter(source__startswith="top-spender:").count() == 4

    # 王强 reads his calls in Chinese, and sees only his players among the top spenders
    page.context.clear_cookies()
    in_language(page, base, "zh-hans")
    login(page, base, "wangqiang", PASSWORD)
    page.goto(f"{base}/admin/campaigns/worklisttask/")
    shot(page, "top-spenders-worklist-zh")
    titles = [row.locator("td").nth(2).inner_text() for row in page.locator("tr[id^=task-]").all()]
    assert any(t.startswith("回访：凤凰，") and "s1 第 1 名" not in t and "第 2 名" in t for t in titles), titles
    assert any("建议赠送价值 ¥128.00 的礼品" in t for t in titles), titles
    shot(page, "top-spenders-worklist-zh")
    page.goto(f"{base}/admin/workplace/top-spenders/")
    assert page.locator("h1").inner_text() == "大客户消费排行"
    assert [r[2].split("\n")[0] for r in _table(page, "#top-spenders tbody")] == ["凤凰", "麒麟"]
    assert page.locator("#book-calls").count() == 0  # a manager does not book for the team
    shot(page, "top-spenders-zh-manager")


def test_the_year_end_summary_masks_personal_data_and_logs_the_export(page, live_server, team):
    base = live_server.url
    year = half_month_before(timezone.localdate())[0].year

    # operations, in Chinese, without the personal data permission
    in_language(page, base, "zh-hans")
    login(page, base, "ops", PASSWORD)
    page.goto(f"{base}/admin/workplace/year-spend/?year={year}")
    assert page.locator("h1").inner_text() == "年度消费汇总"
    rows = _table(page, "#year-spend tbody")
    assert [r[1] for r in rows] == ["top-1", "top-2", "top-3", "top-4"]
    assert rows[0][6] == "王**" and "****" in rows[0][7] and "13800138000" not in rows[0][7]  # masked
    assert rows[0][8] == "¥8,800.00"
    shot(page, "year-spend-zh-masked")
    with page.expect_download() as download:
        page.click("#year-csv")
    header, *lines = list(csv.reader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8-sig"))))
    assert header[:2] == ["名次", "账号 ID"] and len(lines) == 4
    assert all(line[6] != "王小明" for line in lines) and lines[0][8] == "8800.00"
    record = ExportRecord.objects.get()
    assert (record.user.username, record.row_count, record.personal_data) == ("ops", 4, False)

    # the supervisor, in English, sees the names; filtering by a minimum spend
    page.context.clear_cookies()
    in_language(page, base, "en")
    login(page, base, "zhangwei", PASSWORD)
    page.goto(f"{base}/admin/workplace/year-spend/")
    page.fill("#id_year", str(year))
    page.fill("#id_min_spend", "5000")
    page.click("input[type=submit]")
    page.wait_for_load_state()
    rows = _table(page, "#year-spend tbody")
    assert [(r[1], r[6]) for r in rows] == [("top-1", "王小明"), ("top-2", "王小明")]
    shot(page, "year-spend-en")
