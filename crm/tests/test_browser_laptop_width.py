"""Issue 17, item 8: at 1366 px with both sidebars open, every list a VIP team works from
reads without scrolling sideways, in Chinese and in English; long text is cut with an
ellipsis and shown whole in its tooltip; times read "12-06 14:43" with the full time in
the tooltip. Columns: crm/admin_columns.py; look: crm/static/crm/admin.css."""

import re

import pytest
from django.utils import timezone

from crm.tests.browser import horizontal_overflows, in_language, login, shot

LISTS = {
    "player": "/admin/players/player/",
    "case": "/admin/players/case/",
    "at-risk": "/admin/players/atriskplayer/",
    "gift": "/admin/campaigns/giftentry/",
    "message": "/admin/campaigns/message/",
    "contact": "/admin/players/contactlog/",
    "task": "/admin/campaigns/outreachtask/",
    "status-change": "/admin/players/payerstatuschange/",
}
LONG_REASON = "玩家在游戏内设置了免打扰时段，系统将在免打扰结束后的第一个工作时段重新尝试发送这条问候消息。"
LONG_SUBJECT = "充值到账延迟超过两小时，玩家要求补发首充双倍奖励并说明原因，已多次联系客服未果"
LONG_ITEM = "新春限定礼包：坐骑·踏雪寻梅（永久）+ 888 绑定元宝 + 至尊称号"


@pytest.fixture
def long_texts(demo_day):
    """The demo's rows with the longest texts a team writes (set as a user would leave them)."""
    from campaigns.models import GiftEntry, Message
    from players.models.service_records import Case

    Message.objects.filter(pk=Message.objects.order_by("-scheduled_for").values("pk")[:1]).update(
        status_reason=LONG_REASON
    )
    Case.objects.filter(pk=Case.objects.order_by("-opened_at").values("pk")[:1]).update(subject=LONG_SUBJECT)
    GiftEntry.objects.filter(pk=GiftEntry.objects.order_by("-given_on", "-pk").values("pk")[:1]).update(item=LONG_ITEM)


@pytest.mark.parametrize(
    "language, username", [("zh-hans", "supervisor"), ("en", "supervisor"), ("zh-hans", "manager_li")]
)
def test_every_working_list_fits_a_laptop_without_scrolling_sideways(page, live_server, long_texts, language, username):
    base = live_server.url
    in_language(page, base, language)
    login(page, base, username, "browser-pw-3")
    assert page.viewport_size["width"] == 1366
    overflowing = {}
    for name, path in LISTS.items():
        page.goto(f"{base}{path}")
        page.wait_for_selector("#changelist")
        assert page.locator("#nav-sidebar").is_visible()  # "with the sidebar open"
        shot(page, f"laptop-{language}-{username}-{name}")
        if found := horizontal_overflows(page):
            overflowing[name] = found
    assert not overflowing, overflowing


def test_long_text_and_times_are_cut_short_with_the_whole_in_the_tooltip(page, live_server, long_texts):
    base = live_server.url
    in_language(page, base, "zh-hans")
    login(page, base, "supervisor", "browser-pw-3")

    for path, text in [
        (LISTS["message"], LONG_REASON),
        (LISTS["case"], LONG_SUBJECT),
        (LISTS["gift"], LONG_ITEM),
    ]:
        page.goto(f"{base}{path}")
        cell = page.locator("#result_list .crm-trunc", has_text=text[:6]).first
        cell.hover()
        assert cell.get_attribute("title") == text
        shown, full = cell.evaluate("e => [e.clientWidth, e.scrollWidth]")
        assert shown < full, "the cell shows the whole text: nothing was cut"
        assert shown <= 9 * 13 + 1  # 9em at the list's 13 px font
        shot(page, f"laptop-tooltip-{path.strip('/').replace('/', '-')}")

    # times: short, the full time in the tooltip
    page.goto(f"{base}{LISTS['message']}")
    cell = page.locator("#result_list td.field-scheduled_for_short .crm-when").first
    assert re.fullmatch(r"\d\d-\d\d \d\d:\d\d", cell.inner_text().strip())  # this year: no year, no seconds
    assert re.fullmatch(rf"{timezone.localdate().year}-\d\d-\d\d \d\d:\d\d", cell.get_attribute("title"))

    page.goto(f"{base}{LISTS['at-risk']}")
    reasons = page.locator("#result_list td.field-reasons .crm-lines").first
    lines = reasons.locator(".crm-trunc").all_inner_texts()  # the ellipsis is drawn, the text stays whole
    assert reasons.get_attribute("title").split("\n") == lines and 1 <= len(lines) <= 3
    box = reasons.bounding_box()
    assert box["height"] <= 3 * 17, "reasons are one short line each"


def test_a_manager_sees_the_player_list_in_chinese_with_nothing_hidden_on_the_right(page, live_server, demo_day):
    base = live_server.url
    in_language(page, base, "zh-hans")
    login(page, base, "manager_li", "browser-pw-3")
    page.goto(f"{base}{LISTS['player']}")
    last_column = page.locator("#result_list thead th").last
    assert last_column.inner_text().strip() == "最近登录"
    box = last_column.bounding_box()
    results = page.locator("#changelist .results").bounding_box()
    assert box["x"] + box["width"] <= results["x"] + results["width"] + 1
