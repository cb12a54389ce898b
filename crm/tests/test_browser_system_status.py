"""The system status page, walked in Chromium in Chinese: a supervisor finds it from the
dashboard and reads whether the game's events are counted (up to date, or how many
players wait and since when); a VIP manager has no link and is refused the page.
Fixtures and helpers (page, base_data, login, shot) are in crm/tests/browser.py."""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from crm.tests.browser import in_chinese, login, no_horizontal_scroll, shot
from players.models import Player, ProjectionPending

PASSWORD = "browser-pw-status"


def _staff(username, role):
    user = get_user_model().objects.create_user(username=username, password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    return user


def test_a_supervisor_reads_whether_the_games_events_are_counted(page, live_server, base_data, settings):
    settings.CRM_PROJECTION_LAG_WARN_SECONDS = 30
    _staff("zhao", "Supervisor")
    base = live_server.url
    in_chinese(page, base)
    login(page, base, "zhao", PASSWORD)

    # from the dashboard's side column
    page.goto(f"{base}/admin/")
    page.click("#system-status-link a")
    page.wait_for_selector("#system-status")
    assert page.locator("#content h1").inner_text() == "系统状态"
    assert page.locator("#projection-state").inner_text() == "已是最新"
    assert page.locator("#projection-pending").inner_text() == "0"
    assert "网站进程" in page.locator("#projection-where").inner_text()  # no task queue in the tests
    shot(page, "system-status-01-up-to-date")

    # when payments of two players wait, the oldest for two minutes
    players = [Player.objects.create(account_id=f"st-{i}") for i in range(2)]
    now = timezone.now()
    ProjectionPending.objects.create(player_id=players[0].pk, since=now - timedelta(seconds=125), ledger=True)
    ProjectionPending.objects.create(player_id=players[1].pk, since=now - timedelta(seconds=5), ledger=True)
    page.reload()

    assert page.locator("#projection-state").inner_text() == "滞后"
    assert page.locator("#projection-pending").inner_text() == "2"
    lag = page.locator("#projection-lag").inner_text()
    assert lag.endswith("秒前") and 125 <= int(lag.split()[0]) < 185
    assert "没有丢失" in page.locator("#content").inner_text()
    assert no_horizontal_scroll(page)
    shot(page, "system-status-02-lagging")


def test_a_vip_manager_has_no_link_and_is_refused_the_page(page, live_server, base_data):
    _staff("qian", "VIP manager")
    base = live_server.url
    in_chinese(page, base)
    login(page, base, "qian", PASSWORD)

    page.goto(f"{base}/admin/")
    page.wait_for_selector("#section-my_day")
    assert page.locator("#system-status-link").count() == 0

    answer = page.goto(f"{base}/admin/workplace/system-status/")
    assert answer.status == 403
    assert page.locator("#content h1").inner_text() == "无权访问"
