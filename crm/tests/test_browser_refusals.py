"""Dead ends, walked in Chromium in Chinese: the site's root, the icon, a manager opening a
supervisor's page, a page that does not exist, and a case move the case's state refuses.
Every refusal is a page in the admin's frame, in the user's language, saying why and where
to go. Fixtures and helpers (page, base_data, login, shot) are in crm/tests/browser.py."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from crm.tests.browser import login, no_horizontal_scroll, shot
from players.models import Case, CaseStatus, Player
from players.services.cases import case_open

PASSWORD = "browser-pw-refusals"


@pytest.fixture
def manager_in_chinese(page, live_server, base_data):
    manager = get_user_model().objects.create_user(
        username="wang", password=PASSWORD, first_name="芳", last_name="王", is_staff=True
    )
    manager.groups.add(Group.objects.get(name="VIP manager"))
    page.context.add_cookies([{"name": "django_language", "value": "zh-hans", "url": live_server.url}])
    login(page, live_server.url, "wang", PASSWORD)
    return manager


def _refusal(page):
    return page.locator("#refusal")


def test_the_site_root_and_its_icon_lead_into_the_workplace(page, live_server, manager_in_chinese):
    base = live_server.url

    page.goto(f"{base}/")
    page.wait_for_selector("#section-my_day")
    assert page.url == f"{base}/admin/"
    header = page.locator("#header").inner_text()
    assert "查看站点" not in header and "View site" not in header  # no link to a page that is not there
    assert "我的今天" in page.locator("#content").inner_text()

    icon = page.locator("link[rel=icon]").get_attribute("href")
    answer = page.request.get(f"{base}{icon}")
    assert answer.status == 200 and answer.headers["content-type"].startswith("image/svg")
    assert page.request.get(f"{base}/favicon.ico").status == 200  # browsers that ask for it by name
    shot(page, "refusals-01-root-is-the-workplace")


def test_a_manager_opening_a_supervisors_page_is_told_why_in_chinese_and_where_to_go(
    page, live_server, manager_in_chinese
):
    base = live_server.url
    page.goto(f"{base}/admin/")
    page.wait_for_selector("#section-my_day")

    answer = page.goto(f"{base}/admin/players/payerstatuschange/report/", referer=f"{base}/admin/")

    assert answer.status == 403
    refusal = _refusal(page).inner_text()
    assert page.locator("#content h1").inner_text() == "无权访问"
    assert "您的角色无权使用此页面" in refusal and "主管" in refusal
    assert "Forbidden" not in page.content() and "403" not in refusal
    assert page.locator("#header #site-name").is_visible()  # in the admin's frame, with its header
    assert no_horizontal_scroll(page)
    shot(page, "refusals-02-manager-on-supervisor-page")

    page.locator("#refusal a", has_text="返回上一页").click()
    page.wait_for_selector("#section-my_day")
    page.goto(f"{base}/admin/campaigns/campaign/")  # campaigns are the supervisors'
    assert "您的角色无权使用此页面" in _refusal(page).inner_text()
    page.locator("#refusal a", has_text="回到我的工作台").click()
    page.wait_for_selector("#section-my_day")
    assert "我的今天" in page.locator("#content").inner_text()


def test_a_page_that_does_not_exist_says_so_in_chinese(page, live_server, manager_in_chinese):
    answer = page.goto(f"{live_server.url}/admin/players/case/999999/do/start/")

    assert answer.status == 404
    refusal = _refusal(page).inner_text()
    assert "没有这个页面" in refusal and "不属于您负责的玩家" in refusal
    assert "Not Found" not in page.content()
    shot(page, "refusals-03-not-found")
    page.locator("#refusal a", has_text="回到我的工作台").click()
    page.wait_for_selector("#section-my_day")


def test_a_case_move_the_state_refuses_is_refused_before_any_form(page, live_server, manager_in_chinese):
    player = Player.objects.create(account_id="p-100", nickname="小明", manager=manager_in_chinese)
    case = case_open(player=player, category="complaint", subject="充值未到账", actor=manager_in_chinese)
    assert case.status == CaseStatus.NEW

    page.goto(f"{live_server.url}/admin/players/case/{case.pk}/do/reopen/")

    message = page.locator("ul.messagelist li.error").inner_text()
    assert "不能执行“重新打开”" in message and "新建" in message
    assert page.url.endswith(f"/admin/players/case/{case.pk}/change/")  # back on the case, which says why
    assert page.locator("textarea[name=note]").count() == 0  # no reopen reason asked
    assert Case.objects.get(pk=case.pk).status == CaseStatus.NEW
    shot(page, "refusals-04-case-move-refused")
