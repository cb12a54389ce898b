"""A supervisor's day in Chromium, in Chinese, by clicking: launch a campaign with 启动 and
see its tasks reach the managers' days, read its results, the daily report and the churn
report. Fixtures and helpers (page, base_data, login, shot) are in crm/tests/browser.py."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from campaigns.models import Campaign, CampaignStatus, OutreachTask
from campaigns.services.campaigns import campaign_save
from campaigns.tests.fixtures import library_script
from crm.tests.browser import VIEWPORT, login, no_horizontal_scroll, shot
from players.models import PayerStatusChange, Player
from vip.models import Tier

PASSWORD = "browser-pw-9"


def in_chinese(page, base_url):
    """The browser of a Chinese team: the language cookie the language switch sets."""
    page.context.add_cookies([{"name": settings.LANGUAGE_COOKIE_NAME, "value": "zh-hans", "url": base_url}])


def tiles(panel) -> dict[str, str]:
    """A panel's tiles as {label: value}, as they read."""
    return {
        tile.locator(".wp-tile-label").inner_text(): tile.locator(".wp-tile-value").inner_text()
        for tile in panel.locator(".wp-tile").all()
    }


def _staff(username, family, given, role):
    user = get_user_model().objects.create_user(
        username=username, password=PASSWORD, first_name=given, last_name=family, is_staff=True
    )
    user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def team(base_data):
    """A supervisor, two managers with quiet V3 players, and a draft win-back campaign that
    runs from today for two weeks."""
    boss = _staff("zhangwei", "张", "伟", "Supervisor")
    lina = _staff("lina", "李", "娜", "VIP manager")
    wang = _staff("wangqiang", "王", "强", "VIP manager")
    v3 = Tier.objects.get(name="V3")
    quiet = timezone.now() - timedelta(days=30)
    for n in range(6):
        Player.objects.create(account_id=f"li-{n}", nickname=f"李的玩家{n}", manager=lina, tier=v3, last_login_at=quiet)
    for n in range(4):
        Player.objects.create(
            account_id=f"wang-{n}", nickname=f"王的玩家{n}", manager=wang, tier=v3, last_login_at=quiet
        )
    today = timezone.localdate()
    campaign = campaign_save(
        campaign=Campaign(
            name="唤回沉默大户",
            # the call's script from the library (话术库): {me} is whoever makes the call
            call_script=library_script(
                "{nickname}您好，我是您的专属客服{me}，新赛季礼包已经为您准备好了。", "win_back"
            ),
            start_date=today,
            due_date=today + timedelta(days=14),
            segment={"tier_min": 3},
            holdout_percent=0,
        ),
        actor=boss,
    )
    return {"boss": boss, "lina": lina, "wang": wang, "campaign": campaign}


def test_a_supervisor_launches_a_campaign_by_clicking_and_its_tasks_reach_the_managers(page, live_server, team):
    base = live_server.url
    in_chinese(page, base)
    login(page, base, "zhangwei", PASSWORD)
    page.wait_for_selector("#section-team")
    shot(page, "sup-01-dashboard")

    # the campaign list, then the draft campaign's page
    page.goto(f"{base}/admin/campaigns/campaign/")
    shot(page, "sup-02-campaign-list")
    page.locator("#result_list a", has_text="唤回沉默大户").first.click()
    page.wait_for_selector("#campaign_form")
    assert "10 名玩家" in page.locator("#campaign_form").inner_text()
    managers = page.locator("select[name=segment__managers] option").all_inner_texts()
    assert {"李娜", "王强", "张伟"} <= set(managers) and "娜 李" not in managers  # the picker names people
    shot(page, "sup-03-campaign-draft")

    # 启动: the click sends the launch and lands on the results
    launch = page.get_by_role("button", name="启动", exact=True)
    launch.scroll_into_view_if_needed()
    shot(page, "sup-04-launch-button")
    with page.expect_navigation():
        launch.click()
    page.wait_for_selector("ul.messagelist li")
    assert "已启动：10 名玩家" in page.locator("ul.messagelist").inner_text()
    campaign = Campaign.objects.get(pk=team["campaign"].pk)
    assert campaign.status == CampaignStatus.LAUNCHED
    assert OutreachTask.objects.filter(campaign=campaign, assignee=team["lina"]).count() == 6
    shot(page, "sup-05-results-after-launch")
    assert no_horizontal_scroll(page)

    # the tasks are on 李娜's day today, due in two weeks: under "later", with counts
    manager = page.context.browser.new_context(viewport=VIEWPORT, locale="zh-CN", timezone_id=settings.TIME_ZONE)
    other = manager.new_page()
    in_chinese(other, base)
    login(other, base, "lina", PASSWORD)
    other.wait_for_selector("#section-my_day")
    tasks = other.locator("#panel-tasks")
    text = tasks.inner_text()
    assert "今天没有待办任务" not in text
    assert "唤回沉默大户" in text or "李的玩家" in text
    assert tiles(tasks) == {"逾期": "0", "今天到期": "0", "以后": "6"}
    shot(other, "sup-06-manager-day-after-launch")
    tasks.locator("h3 a").first.click()
    other.wait_for_load_state()
    rows = other.locator("#worklist tbody tr")
    assert rows.count() == 6
    assert "我是您的专属客服李娜" in rows.first.inner_text()
    shot(other, "sup-07-manager-worklist-after-launch")
    manager.close()


def test_a_supervisor_reads_tasks_daily_report_and_churn(page, live_server, team):
    from campaigns.services.campaigns import campaign_launch, task_outcome_record

    campaign = team["campaign"]
    campaign_launch(campaign=campaign, actor=team["boss"])
    for task in OutreachTask.objects.filter(assignee=team["lina"])[:2]:
        task_outcome_record(task=task, outcome="reached", note="", actor=team["lina"])
    # three payers became payers this month and churned this month: no rate, but churns
    month_start = timezone.localtime().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    for player in Player.objects.filter(manager=team["wang"])[:3]:
        for status_from, status_to, hours in (("non_payer", "active", 1), ("active", "churned", 2)):
            PayerStatusChange.objects.create(
                player=player,
                from_status=status_from,
                to_status=status_to,
                changed_at=month_start + timedelta(hours=hours),
                trigger="scan",
            )
    base = live_server.url
    in_chinese(page, base)
    login(page, base, "zhangwei", PASSWORD)

    # outreach tasks: filtered by campaign, then by assignee (named 李娜 in the picker)
    page.goto(f"{base}/admin/campaigns/outreachtask/")
    filters = page.locator("#changelist-filter")
    filters.get_by_role("link", name="唤回沉默大户").click()
    page.wait_for_load_state()
    page.locator("#changelist-filter").get_by_role("link", name="李娜", exact=True).click()
    page.wait_for_load_state()
    assert page.locator("#result_list tbody tr").count() == 6
    assert "娜 李" not in page.locator("#changelist-filter").inner_text()
    assert "王强" in page.locator("#changelist-filter").inner_text()
    shot(page, "sup-08-tasks-by-campaign-and-assignee")

    # the daily report: each manager's row under their name, family name first
    page.goto(f"{base}/admin/players/case/report/")
    today = timezone.localdate().isoformat()
    page.fill("input[name=start]", today)
    page.fill("input[name=end]", today)
    page.get_by_role("button", name="显示").or_(page.locator("input[type=submit][value=显示]")).first.click()
    page.wait_for_load_state()
    report = page.locator("#content").inner_text()
    assert "李娜" in report and "娜 李" not in report
    shot(page, "sup-09-daily-report")

    # the churn report: a month whose rate is undefined shows how many churned
    page.goto(f"{base}/admin/players/payerstatuschange/report/")
    month = timezone.localdate().strftime("%Y-%m")
    row = page.locator(".churn-table tbody tr", has_text=month).first
    assert "流失 3 人" in row.inner_text()
    shot(page, "sup-10-churn-report")
