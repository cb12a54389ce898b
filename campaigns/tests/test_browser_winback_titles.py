"""Win-back task titles read in the reader's language, whoever created them: an English-
speaking supervisor and a Chinese one create tasks from the at-risk list by clicking, and each
manager reads their task's title in their own language on their worklist. Fixtures and helpers
(page, base_data, login, shot) are in crm/tests/browser.py."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from campaigns.models import OutreachTask
from crm.tests.browser import in_language, login, shot
from players.models import Player
from players.services import payment_record
from players.services.payer_status import churn_scan

PASSWORD = "browser-pw-wb"


def _staff(username, family, given, role):
    user = get_user_model().objects.create_user(
        username=username, password=PASSWORD, first_name=given, last_name=family, is_staff=True
    )
    user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def at_risk(base_data):
    """Two payers of two managers gone quiet: overdue for their rhythm and not seen lately."""
    boss = _staff("boss", "Smith", "Anna", "Supervisor")
    lina = _staff("lina", "李", "娜", "VIP manager")
    tom = _staff("tom", "Brown", "Tom", "VIP manager")
    now = timezone.now()
    players = {}
    for name, manager in (("鲸鱼", lina), ("whale", tom)):
        player = Player.objects.create(account_id=f"wb-{manager.username}", nickname=name, manager=manager, server="s1")
        payment_record(
            account_id=player.account_id,
            event_id=f"wb-{name}",
            kind="purchase",
            amount="5000.00",
            currency="CNY",
            occurred_at=now - timedelta(days=20),
            source="api",
        )
        players[name] = player
    churn_scan(now=now)
    return boss, lina, tom, players


def _create_winback(page, base, player):
    page.goto(f"{base}/admin/players/atriskplayer/")
    page.check(f"input[name=_selected_action][value='{player.pk}']")
    page.select_option("select[name=action]", "create_winback_tasks")
    page.click("button[name=index]")
    page.wait_for_load_state()


def _worklist_row(page, base, nickname):
    page.goto(f"{base}/admin/campaigns/worklisttask/")
    return page.locator("tbody tr", has_text=nickname).first.locator("td").nth(2).inner_text()


def test_each_manager_reads_the_win_back_title_in_their_own_language(page, live_server, at_risk):
    boss, lina, tom, players = at_risk
    base = live_server.url

    # the supervisor creates 鲸鱼's task in English, then whale's in Chinese
    login(page, base, boss.username, PASSWORD)
    _create_winback(page, base, players["鲸鱼"])
    assert page.locator(".messagelist .success").inner_text() == "1 win-back task created."
    shot(page, "winback_created_en")
    in_language(page, base, "zh-hans")
    _create_winback(page, base, players["whale"])
    assert page.locator(".messagelist .success").inner_text() == "已创建 1 个挽回任务。"
    shot(page, "winback_created_zh")
    assert OutreachTask.objects.filter(kind="win_back", title_code="win_back").count() == 2

    # 李娜 reads in Chinese the task made in English
    page.context.clear_cookies()
    in_language(page, base, "zh-hans")
    login(page, base, lina.username, PASSWORD)
    title = _worklist_row(page, base, "鲸鱼")
    assert title.startswith("挽回 鲸鱼（"), title
    assert "付费间隔超出其习惯" in title and "近期未登录" in title, title
    shot(page, "winback_worklist_zh")

    # Tom reads in English the task made in Chinese
    page.context.clear_cookies()
    in_language(page, base, "en")
    login(page, base, tom.username, PASSWORD)
    title = _worklist_row(page, base, "whale")
    assert title.startswith("Win back whale ("), title
    assert "Payment overdue for their rhythm" in title and "No recent login" in title, title
    shot(page, "winback_worklist_en")
