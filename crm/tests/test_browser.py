"""A real browser through a manager's morning: log in, read the dashboard, open a player,
log a contact, run a bulk action, switch to Chinese; and a supervisor's team dashboard.
Fixtures and helpers (page, base_data, shot) are in crm/tests/browser.py."""

import contextlib
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from campaigns.models import OutreachTask
from crm.tests.browser import no_horizontal_scroll, shot
from players.models import ContactLog, PayerStatus, Player
from players.services.birthdays import birthdays_refresh
from vip.models import Tier


@pytest.fixture
def morning(base_data):
    """A VIP manager with a book of players: a task due, a birthday today, an at-risk VIP."""
    manager = get_user_model().objects.create_user(
        username="li", password="browser-pw-1", first_name="小李", is_staff=True
    )
    manager.groups.add(Group.objects.get(name="VIP manager"))
    today = timezone.localdate()
    v5 = Tier.objects.get(name="V5")
    whale = Player.objects.create(
        account_id="whale-1",
        nickname="Whale One",
        manager=manager,
        tier=v5,
        total_spend=1800,
        payer_status=PayerStatus.AT_RISK,
        last_paid_at=timezone.now() - timedelta(days=20),
    )
    girl = Player.objects.create(
        account_id="bday-1", nickname="Birthday Girl", manager=manager, birthday=today.replace(year=1995)
    )
    birthdays_refresh(player_ids=[girl.pk])
    Player.objects.create(account_id="quiet-1", nickname="Quiet Guy", manager=manager)
    OutreachTask.objects.create(player=whale, assignee=manager, title="Call about the new season", due_date=today)
    return manager


def test_a_managers_morning_in_the_browser(page, live_server, morning):
    base = live_server.url

    # log in
    page.goto(f"{base}/admin/login/")
    page.fill("#id_username", "li")
    page.fill("#id_password", "browser-pw-1")
    page.click("input[type=submit]")

    # the dashboard: my day
    page.wait_for_selector("#section-my_day")
    assert page.locator("#panel-tasks").inner_text().count("Call about the new season") == 1
    assert "Birthday Girl" in page.locator("#panel-birthdays").inner_text()
    assert "Whale One" in page.locator("#panel-at_risk").inner_text()
    assert no_horizontal_scroll(page)
    shot(page, "01-dashboard-manager")

    # open a player from the at-risk panel
    page.locator("#panel-at_risk a", has_text="Whale One").click()
    page.wait_for_selector("#timeline")
    assert "Call about the new season" in page.locator("#timeline").inner_text()
    shot(page, "02-player-page")

    # log a contact from the player page
    page.click("#log-contact summary")
    page.select_option("#log-contact select[name=channel]", "wechat")
    page.select_option("#log-contact select[name=outcome]", "promised_return")
    page.fill("#log-contact input[name=topic]", "New season gift pack")
    page.fill("#log-contact textarea[name=summary]", "Will log in this weekend.")
    shot(page, "03-log-contact-form")
    page.click("#log-contact input[type=submit]")
    page.wait_for_selector("ul.messagelist li.success")
    assert "Contact logged" in page.locator("ul.messagelist").inner_text()
    assert "New season gift pack" in page.locator("#timeline").inner_text()
    assert ContactLog.objects.filter(player__account_id="whale-1", channel="wechat", staff=morning).count() == 1
    shot(page, "04-contact-logged")

    # a bulk action on the player list: pin a tier for two players
    page.goto(f"{base}/admin/players/player/")
    for account in ("bday-1", "quiet-1"):
        page.locator("#result_list tr", has_text=account).locator("input.action-select").check()
    page.select_option("select[name=action]", "pin_tier")
    page.click("button[name=index]")
    page.wait_for_selector("select[name=tier]")
    page.select_option("select[name=tier]", label="V3")
    until = (timezone.localtime() + timedelta(days=14)).strftime("%Y-%m-%dT%H:%M")
    page.fill("input[name=expires_at]", until)
    page.fill("input[name=reason]", "Guild event")
    shot(page, "05-bulk-action-form")
    page.click("input[type=submit]")
    page.wait_for_selector("ul.messagelist li.success")
    assert "2 players" in page.locator("ul.messagelist").inner_text()
    assert set(Player.objects.filter(tier__name="V3").values_list("account_id", flat=True)) == {"bday-1", "quiet-1"}
    shot(page, "06-bulk-action-done")

    # switch to Chinese from the dashboard
    page.goto(f"{base}/admin/")
    with page.expect_navigation():
        page.select_option("#wp-language-select", "zh-hans")
    page.wait_for_selector("#section-my_day")
    text = page.locator("#content").inner_text()
    assert "我的今天" in text and "待办任务" in text and "My day" not in text
    assert no_horizontal_scroll(page)
    shot(page, "07-dashboard-chinese")

    page.locator("#panel-at_risk a", has_text="Whale One").click()
    page.wait_for_selector("#timeline")
    assert "时间线" in page.locator("#timeline").inner_text()
    shot(page, "08-player-page-chinese")


def test_a_supervisor_sees_the_team_with_charts(page, live_server, base_data, fresh_dashboard_cache):
    from players.services import payment_record

    boss = get_user_model().objects.create_user(username="boss", password="browser-pw-2", is_staff=True)
    boss.groups.add(Group.objects.get(name="Supervisor"))
    now = timezone.now()
    for n in range(40):
        payment_record(
            account_id=f"p{n % 9}",
            event_id=f"e{n}",
            kind="purchase",
            amount=Decimal(6 * (n + 1)),
            currency="CNY",
            occurred_at=now - timedelta(days=9 * n),
            source="manual",
        )

    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "boss")
    page.fill("#id_password", "browser-pw-2")
    page.click("input[type=submit]")

    page.wait_for_selector("#section-team")
    tiles = page.locator("#panel-kpis .wp-tile").all_inner_texts()
    assert any("Revenue, 30 days" in t for t in tiles)
    assert "Figures from" in page.locator("#section-team .wp-age").inner_text()
    chart_drawn = (
        "typeof Chart !== 'undefined' && !!Chart.getChart(document.querySelector('#panel-revenue_trend canvas'))"
    )
    # the chart is drawn after the page's scripts run: wait for it, under load too
    with contextlib.suppress(PlaywrightTimeoutError):
        page.wait_for_function(chart_drawn, timeout=30_000)
    assert page.locator("#panel-revenue_trend canvas").count() == 1, "the revenue panel is missing"
    assert page.evaluate("typeof Chart") != "undefined", "Chart.js did not load (make install fetches it)"
    assert page.evaluate(chart_drawn), "the revenue chart was not drawn"
    assert no_horizontal_scroll(page)
    shot(page, "09-dashboard-supervisor")
