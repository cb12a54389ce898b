"""Possible duplicates and server merges (合服), clicked through in Chromium: a VIP manager in
Chinese reviews the pairs of their own players (not another manager's), a reader without the
permission to see personal data sees the shared values masked, an operations user merges two
servers after seeing what moves, and a manager is refused the merge page. Screenshots in
test-artifacts/ (duplicates-*.png, servers-*.png)."""

from datetime import date

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import connection

from crm.tests.browser import horizontal_overflows, in_chinese, login, shot
from players.models import DuplicateCandidate, DuplicateStatus, Player, ServerMerge
from players.services.duplicates import duplicates_find

PASSWORD = "browser-pw-dup"
LIST = "/admin/players/duplicatecandidate/"
MERGE = "/admin/players/servermerge/add/"


def _user(username, *, role=None, permissions=(), **names):
    user = get_user_model().objects.create_user(username=username, password=PASSWORD, is_staff=True, **names)
    if role:
        user.groups.add(Group.objects.get(name=role))
    if permissions:
        user.user_permissions.add(*Permission.objects.filter(codename__in=permissions))
    return user


@pytest.fixture
def books(base_data):
    li = _user("li", role="VIP manager", first_name="娜", last_name="李")
    wang = _user("wang", role="VIP manager", first_name="芳", last_name="王")
    make = Player.objects.create
    make(account_id="100201", server="s1", nickname="赵云", phone="+8613812345678", manager=li)
    make(account_id="200317", server="s2", nickname="常山赵子龙", phone="+8613812345678", qq="88886666", manager=li)
    make(account_id="100877", server="s1", nickname="关羽", real_name="关云长", birthday=date(1990, 6, 24), manager=li)
    make(
        account_id="300021", server="s3", nickname="美髯公", real_name="关云长", birthday=date(1990, 6, 24), manager=li
    )
    make(account_id="100555", server="s1", nickname="别人的玩家", qq="31415926", manager=wang)
    make(account_id="100556", server="s1", nickname="我的玩家", qq="31415926", manager=li)
    duplicates_find()
    return li, wang


def test_a_manager_reviews_the_possible_duplicates_of_their_players_in_chinese(page, live_server, books):
    base = live_server.url
    in_chinese(page, base)
    login(page, base, "li", PASSWORD)

    page.goto(f"{base}{LIST}")
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 2  # the pair across two managers' books is nobody's to review here
    table = page.locator("#result_list").inner_text()
    assert "常山赵子龙" in table and "200317" in table and "美髯公" in table
    assert "别人的玩家" not in table and "31415926" not in table
    assert "手机号相同" in table and "真实姓名和生日相同" in table
    assert "+8613812345678" in table  # a manager sees their players' personal data
    assert "可能重复的账号" in page.locator("#content h1").inner_text()
    assert horizontal_overflows(page) == []
    shot(page, "duplicates-01-manager-list-zh")

    # the first pair is not one person
    rows.first.locator("input.action-select").check()
    page.select_option("select[name=action]", "dismiss")
    page.click("button[name=index]")
    page.wait_for_selector(".messagelist")
    assert "已标记 1 对为不是同一人" in page.locator(".messagelist").inner_text()
    assert DuplicateCandidate.objects.filter(status=DuplicateStatus.DISMISSED, reviewed_by=books[0]).count() == 1
    page.goto(f"{base}{LIST}?status__exact=open")
    assert page.locator("#result_list tbody tr").count() == 1
    shot(page, "duplicates-02-after-review-zh")


def test_without_the_permission_the_shared_values_are_masked(page, live_server, books):
    _user("audit", permissions=["view_duplicatecandidate", "view_all_players"])
    base = live_server.url
    login(page, base, "audit", PASSWORD)

    page.goto(f"{base}{LIST}")
    table = page.locator("#result_list").inner_text()
    assert page.locator("#result_list tbody tr").count() == 3
    assert "138****5678" in table and "关**" in table and "3******6" in table
    assert "13812345678" not in table and "关云长" not in table and "31415926" not in table
    assert "same phone" in table
    assert page.locator("select[name=action]").count() == 0  # reading is not reviewing
    shot(page, "duplicates-03-masked-en")
    # a filter on a personal value, typed into the address, is refused
    answer = page.goto(f"{base}{LIST}?player_a__phone__startswith=%2B86138")
    assert answer.status == 400


def test_operations_merge_two_servers_after_seeing_what_moves(page, live_server, books):
    _user("ops", role="Operations", first_name="强", last_name="张")
    base = live_server.url
    in_chinese(page, base)
    login(page, base, "ops", PASSWORD)

    page.goto(f"{base}{MERGE}")
    page.fill("#id_game", "三国")
    page.fill("#id_old_servers", "s1，s2, nowhere")
    page.fill("#id_new_server", "s100")
    page.click("#server-merge-form input[type=submit]")
    assert "nowhere" in page.locator(".errorlist").inner_text()  # a typo is named, nothing moved
    shot(page, "servers-01-typo-zh")

    page.fill("#id_old_servers", "s1，s2")
    page.click("#server-merge-form input[type=submit]")
    plan = page.locator("#server-merge-plan").inner_text()
    assert "s1" in plan and "4" in plan and "s2" in plan and "5" in plan  # 4 + 1 accounts, total 5
    assert not ServerMerge.objects.exists()
    # 5 of the 6 accounts move: on PostgreSQL the table is rewritten and the page says what that means
    rewrite = page.locator("#server-merge-rewrite")
    if connection.vendor == "postgresql":
        assert "所有读取玩家的页面和 API 调用都会等待" in rewrite.inner_text()
    else:
        assert rewrite.count() == 0
    shot(page, "servers-02-plan-zh")

    page.click("#server-merge-confirm input[type=submit]")
    page.wait_for_selector(".messagelist")
    assert "5 个账号已移到服务器 s100" in page.locator(".messagelist").inner_text()
    assert set(Player.objects.values_list("server", flat=True)) == {"s100", "s3"}
    assert horizontal_overflows(page) == []
    shot(page, "servers-03-done-zh")


def test_a_manager_may_not_open_the_merge_page(page, live_server, books):
    base = live_server.url
    in_chinese(page, base)
    login(page, base, "li", PASSWORD)
    answer = page.goto(f"{base}{MERGE}")
    assert answer.status == 403
    assert page.locator("#content h1").inner_text() == "无权访问"
    assert not ServerMerge.objects.exists()
