"""The page of a player erased on request (PIPL Art. 47), in Chinese in Chromium: no link
leads to a form that would refuse to save (record a consent, log a contact, create a task,
open a case), and the page says why where they were. A player not erased, beside it, still
has them. Screenshot in test-artifacts/."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from crm.tests.browser import in_chinese, login, shot
from players.models import Player
from players.services.privacy import erasure_confirm, erasure_request

NOTICE = "该玩家的个人信息已应其请求删除（个保法第四十七条）：不再为其记录任何新内容，也不再联系该玩家。"
ADD_LINKS = ("记录同意情况", "记录联系", "创建任务", "新建工单")


def _people():
    User = get_user_model()
    staff = {}
    for username, first, last, group in (
        ("li", "娜", "李", "VIP manager"),
        ("wang", "芳", "王", "Supervisor"),
        ("zhao", "敏", "赵", "Supervisor"),
    ):
        staff[username] = User.objects.create_user(
            username=username, password="browser-pw-5", first_name=first, last_name=last, is_staff=True
        )
        staff[username].groups.add(Group.objects.get(name=group))
    return staff


def test_an_erased_players_page_offers_no_add_link_and_says_why(page, live_server, base_data):
    staff = _people()
    live = Player.objects.create(account_id="acct-1", server="s1", nickname="龙王", manager=staff["li"])
    gone = Player.objects.create(
        account_id="acct-2", server="s1", nickname="凤凰", phone="+8613955556666", manager=staff["li"]
    )
    request = erasure_request(player=gone, actor=staff["wang"], reason="玩家来电要求删除个人信息")
    erasure_confirm(request=request, actor=staff["zhao"])
    base = live_server.url
    in_chinese(page, base)
    login(page, base, "li", "browser-pw-5")

    page.goto(f"{base}/admin/players/player/{live.pk}/change/")
    page.wait_for_selector("#quick-actions")
    for name in ADD_LINKS:  # what the manager sees on a player still worked on
        assert page.get_by_text(name, exact=True).count() >= 1, name
    assert page.get_by_text(NOTICE).count() == 0

    page.goto(f"{base}/admin/players/player/{gone.pk}/change/")
    page.wait_for_selector("#erased-note")
    for name in ADD_LINKS:
        assert page.get_by_text(name, exact=True).count() == 0, name
    added = page.locator("#content a[href*='/consentevent/add/']")  # not the sidebar's add links
    assert added.count() == 0, [added.nth(i).evaluate("e => e.outerHTML") for i in range(added.count())]
    assert page.locator("#quick-actions a, #quick-actions summary").count() == 0
    assert page.locator("#erased-actions-note").inner_text() == NOTICE
    assert page.locator("#consent-erased").inner_text() == NOTICE
    assert page.get_by_role("link", name="历史").count() >= 1  # the consent history stays readable
    page.locator("#erased-actions-note").scroll_into_view_if_needed()
    shot(page, "erased-player-page-zh-hans")
    page.locator("#consent-erased").scroll_into_view_if_needed()
    shot(page, "erased-player-consents-zh-hans")
