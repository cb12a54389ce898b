"""VIP people, clicked through in Chromium in Chinese: a supervisor opens a possible
duplicate's merge, sees the two people side by side, takes one value from the other, merges
(the customer card then shows both game accounts, their tier counted on their spend together),
and undoes it from the list of merges; a VIP manager sees no merge button and is refused the
merge page; a reader without the personal-data permission sees the values masked.
Screenshots in test-artifacts/ (persons-*.png)."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission

from crm.tests.browser import horizontal_overflows, in_chinese, login, shot
from players.models import ContactLog, PersonMerge, Player
from players.services import contact_log_create
from players.services.duplicates import duplicates_find
from players.services.ledger import payment_record
from players.services.persons import account_link

PASSWORD = "browser-pw-persons"
DUPLICATES = "/admin/players/duplicatecandidate/"
MERGES = "/admin/players/personmerge/"


def _user(username, *, role=None, permissions=(), **names):
    user = get_user_model().objects.create_user(username=username, password=PASSWORD, is_staff=True, **names)
    if role:
        user.groups.add(Group.objects.get(name=role))
    if permissions:
        user.user_permissions.add(*Permission.objects.filter(codename__in=permissions))
    return user


def _pay(player, amount, n):
    from datetime import timedelta
    from decimal import Decimal

    from django.utils import timezone

    payment_record(
        account_id=player.account_id,
        event_id=f"{player.account_id}-{n}",
        kind="purchase",
        amount=Decimal(amount),
        currency="CNY",
        occurred_at=timezone.now() - timedelta(days=3),
        source="manual",
    )


@pytest.fixture
def zhao(base_data):
    li = _user("li", role="VIP manager", first_name="娜", last_name="李")
    boss = _user("boss", role="Supervisor", first_name="伟", last_name="陈")
    s1 = Player.objects.create(
        account_id="100201", server="s1", nickname="赵云", phone="+8613812345678", real_name="赵云", manager=li
    )
    s2 = Player.objects.create(
        account_id="200317", server="s2", nickname="常山赵子龙", phone="+8613812345678", qq="88886666", manager=li
    )
    _pay(s1, "600.00", 1)
    _pay(s2, "600.00", 1)
    contact_log_create(player=s2, staff=li, channel="phone", topic="回访", summary="二区账号也是他")
    duplicates_find()
    return li, boss, s1, s2


def test_a_supervisor_merges_a_duplicate_pair_side_by_side_and_undoes_it(page, live_server, zhao):
    li, boss, s1, s2 = zhao
    base = live_server.url
    in_chinese(page, base)
    login(page, base, "boss", PASSWORD)

    page.goto(f"{base}{DUPLICATES}")
    page.locator("#result_list tbody tr").first.get_by_role("link", name="合并…").click()
    sides = page.locator("#person-merge-sides")
    assert "赵云" in sides.inner_text() and "常山赵子龙" in sides.inner_text()
    assert "88886666" in page.locator("tr[data-field=qq]").inner_text()  # the supervisor may see it
    assert "合并两位客户" in page.locator("#content h1").inner_text()
    assert horizontal_overflows(page) == []
    shot(page, "persons-01-side-by-side-zh")

    page.check("input[name=keep][value=a]")  # keep 赵云 (s1)
    page.check("tr[data-field=qq] input[value=b]")
    page.click("#person-merge-form input[type=submit]")
    page.wait_for_selector(".messagelist")
    assert "已合并" in page.locator(".messagelist").inner_text()

    # the customer card of the person kept: both accounts, the tier of 1,200 together
    card = page.locator("#person-accounts")
    text = card.inner_text()
    assert "该客户的 2 个游戏账号" in text and "100201" in text and "200317" in text
    assert "¥1,200.00" in text and "主账号" in text and "V5" in text
    assert horizontal_overflows(page) == []
    shot(page, "persons-02-card-two-accounts-zh")
    main = Player.objects.get(pk=s1.pk)
    assert (main.qq, main.tier.name) == ("88886666", "V5")
    # the linked account's page: the same person (the contact logged on it before is the person's now)
    page.locator("#person-accounts").get_by_role("link", name="200317").click()
    assert "当前账号" in page.locator("tr[data-account='200317']").inner_text()
    assert (
        "回访" in page.locator("[data-fact=last_contact]").inner_text()
        or "电话" in page.locator("[data-fact=last_contact]").inner_text()
    )
    assert "V5" in page.locator(".wp-card-head").inner_text()
    shot(page, "persons-02b-linked-account-card-zh")
    assert ContactLog.objects.get().player_id == s1.pk

    # undo from the list of merges
    page.goto(f"{base}{MERGES}")
    page.locator("#result_list tbody tr").first.locator("input.action-select").check()
    page.select_option("select[name=action]", "undo")
    page.click("button[name=index]")
    page.wait_for_selector(".messagelist")
    assert "已撤销 1 次合并" in page.locator(".messagelist").inner_text()
    shot(page, "persons-03-undone-zh")
    assert Player.objects.get(pk=s2.pk).person_account_id is None
    assert Player.objects.get(pk=s1.pk).qq == "" and Player.objects.get(pk=s1.pk).tier.name == "V4"
    assert ContactLog.objects.get().player_id == s2.pk
    page.goto(f"{base}/admin/players/player/{s1.pk}/change/")
    assert page.locator("#person-accounts").count() == 0


def test_a_manager_has_no_merge_and_is_refused_the_page(page, live_server, zhao):
    li, boss, s1, s2 = zhao
    base = live_server.url
    in_chinese(page, base)
    login(page, base, "li", PASSWORD)
    page.goto(f"{base}{DUPLICATES}")
    assert page.get_by_role("link", name="合并…").count() == 0
    answer = page.goto(f"{base}{MERGES}add/?a={s1.pk}&b={s2.pk}")
    assert answer.status == 403
    assert not PersonMerge.objects.exists()


def test_without_the_personal_data_permission_the_sides_are_masked(page, live_server, zhao):
    li, boss, s1, s2 = zhao
    _user("audit", permissions=["view_all_players", "merge_people", "view_personmerge", "view_duplicatecandidate"])
    base = live_server.url
    login(page, base, "audit", PASSWORD)
    page.goto(f"{base}{MERGES}add/?a={s1.pk}&b={s2.pk}")
    sides = page.locator("#person-merge-sides").inner_text()
    assert "138****5678" in sides and "88886666" not in sides and "13812345678" not in sides
    shot(page, "persons-04-masked-en")
    # hostile ids: nothing to merge, no error page beyond a 404
    assert page.goto(f"{base}{MERGES}add/?a={s1.pk}&b={s1.pk}").status == 404
    assert page.goto(f"{base}{MERGES}add/?a=x&b=%00").status == 404
    assert page.goto(f"{base}{MERGES}add/?a={s1.pk}&b=999999").status == 404


def test_a_manager_logs_a_contact_on_a_linked_account_s_page_and_it_is_the_person_s(page, live_server, zhao):
    li, boss, s1, s2 = zhao
    account_link(person=s1, account=s2, actor=boss)  # linked (绑定账号) beforehand
    ContactLog.objects.all().delete()
    base = live_server.url
    in_chinese(page, base)
    login(page, base, "li", PASSWORD)

    # the linked account's page: its quick contact form
    page.goto(f"{base}/admin/players/player/{s2.pk}/change/")
    page.wait_for_selector("#timeline")
    page.click("#log-contact summary")
    page.select_option("#log-contact select[name=channel]", "wechat")
    page.fill("#log-contact input[name=topic]", "二区活动")
    page.fill("#log-contact textarea[name=summary]", "周末在二区上线。")
    shot(page, "persons-05-linked-account-log-contact-zh")
    page.click("#log-contact input[type=submit]")
    page.wait_for_selector("ul.messagelist li")

    # the contact is the person's: on the main account; the linked page's card shows it as the last contact
    assert list(ContactLog.objects.values_list("player_id", "topic", "channel")) == [(s1.pk, "二区活动", "wechat")]
    assert "微信" in page.locator("[data-fact=last_contact]").inner_text()
    assert horizontal_overflows(page) == []
    shot(page, "persons-05b-linked-account-contact-logged-zh")
    page.goto(f"{base}/admin/players/player/{s1.pk}/change/")
    assert "二区活动" in page.locator("#timeline").inner_text()
