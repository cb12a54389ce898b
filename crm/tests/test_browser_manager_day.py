"""A VIP manager's day in Chromium, in Chinese, by clicking: my day with overdue / today /
later tasks, working the worklist, logging a contact, a case from open to closed with
compensation, the greetings coming up. Fixtures and helpers are in crm/tests/browser.py."""

from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns.models import Campaign, Greeting, GreetingRule, OutreachTask, TaskStatus
from campaigns.services.campaigns import campaign_launch, campaign_save
from campaigns.services.greetings import greetings_run
from campaigns.tests.fixtures import library_script
from crm.calendar import lunar_of, lunar_to_solar
from crm.tests.browser import login, no_horizontal_scroll, shot
from crm.tests.test_browser_supervisor_day import PASSWORD, _staff, in_chinese, tiles
from players.models import Case, CaseStatus, ContactLog, PayerStatus, Player
from players.services.birthdays import birthdays_refresh
from vip.models import Tier


@pytest.fixture
def book(base_data):
    """李娜 and her book: a task overdue, one due today, a running campaign's calls due
    later, and birthdays all month (one of them lunar)."""
    boss = _staff("zhangwei", "张", "伟", "Supervisor")
    lina = _staff("lina", "李", "娜", "VIP manager")
    today = timezone.localdate()
    v5, v3 = Tier.objects.get(name="V5"), Tier.objects.get(name="V3")
    whale = Player.objects.create(
        account_id="whale-1", nickname="龙王", manager=lina, tier=v5, payer_status=PayerStatus.AT_RISK, total_spend=1800
    )
    quiet = Player.objects.create(account_id="quiet-1", nickname="沉默的人", manager=lina, tier=v3)
    OutreachTask.objects.create(player=whale, assignee=lina, title="回访充值问题", due_date=today - timedelta(days=2))
    OutreachTask.objects.create(player=quiet, assignee=lina, title="新赛季邀请", due_date=today)
    campaign = campaign_save(
        campaign=Campaign(
            name="周末活动邀请",
            call_script=library_script("{nickname}您好，我是您的专属客服{manager}。", "return_visit"),
            start_date=today - timedelta(days=1),
            due_date=today + timedelta(days=6),
            segment={"tier_min": 5},
            holdout_percent=0,
        ),
        actor=boss,
    )
    campaign_launch(campaign=campaign, actor=boss)
    # 60 birthdays over the next four weeks (a page of greetings is 50), one lunar
    born = []
    for n in range(60):
        day = today + timedelta(days=1 + n % 28)
        born.append(
            Player.objects.create(
                account_id=f"bday-{n}",
                nickname=f"寿星{n}",
                manager=lina,
                birthday=day.replace(year=1990),
            )
        )
    # 寿星0 celebrates the lunar anniversary: born in 1990 on the lunar date of a coming day.
    # Not a 30th (1990's month may lack it, and the anniversary would fall on the 29th:
    # today, already greeted), nor a leap month.
    coming = next(
        lunar
        for lunar in (lunar_of(today + timedelta(days=d)) for d in range(1, 5))
        if lunar.day <= 29 and not lunar.is_leap_month
    )
    born[0].birthday = lunar_to_solar(1990, coming.month, coming.day)
    born[0].birthday_is_lunar = True
    born[0].save(update_fields=["birthday", "birthday_is_lunar"])
    birthdays_refresh(player_ids=[p.pk for p in born])
    rule = GreetingRule(name="生日问候", occasion="birthday", task_lead_days=3)
    rule.full_clean()
    rule.save()
    greetings_run(on=today)  # calls for the birthdays three days ahead: scheduled, not yet greeted
    return {"lina": lina, "whale": whale, "quiet": quiet, "campaign": campaign}


def test_a_managers_day_in_chinese(page, live_server, book):
    base = live_server.url
    in_chinese(page, base)
    login(page, base, "lina", PASSWORD)

    # my day: the header and greeting name me 李娜; tasks overdue, today and later
    page.wait_for_selector("#section-my_day")
    assert "李娜" in page.locator("#user-tools").inner_text()
    assert "您好，李娜" in page.locator(".wp-head h1").inner_text()
    tasks = page.locator("#panel-tasks")
    open_tasks = OutreachTask.objects.filter(assignee=book["lina"], status=TaskStatus.OPEN)
    greeting_calls = open_tasks.filter(kind="greeting").count()
    assert greeting_calls >= 3  # the birthday calls the job created (three days ahead, and caught up)
    assert tiles(tasks) == {"逾期": "1", "今天到期": str(1 + greeting_calls), "以后": "1"}
    rows = tasks.locator(".wp-rows li").all_inner_texts()
    assert "回访充值问题" in rows[0] and "逾期 2 天" in rows[0].replace("\n", " ")
    assert "新赛季邀请" in rows[1]
    # the birthday calls the job wrote (in English, the job's language) read in Chinese
    today = timezone.localdate()
    birthday_calls = [r for r in rows if "生日：致电 寿星" in r]
    assert birthday_calls and "Birthday" not in tasks.inner_text() and ": call" not in tasks.inner_text()
    assert OutreachTask.objects.filter(kind="greeting", title__contains=": call ").exists()  # stored in English
    assert no_horizontal_scroll(page)
    shot(page, "mgr-01-my-day")

    # the overdue tile opens the worklist on the overdue task; reach the player with a note
    tasks.locator(".wp-tile", has_text="逾期").click()
    page.wait_for_selector("#worklist")
    assert page.locator("#worklist-filters a.selected").inner_text().startswith("逾期")
    row = page.locator("#worklist tbody tr")
    assert row.count() == 1 and "龙王" in row.inner_text()
    shot(page, "mgr-02-worklist-overdue")
    row.locator("input[name=note]").fill("已解释充值延迟，玩家满意")
    with page.expect_navigation():
        row.get_by_role("button", name="已联系上").click()
    assert "龙王" in page.locator("ul.messagelist").inner_text()
    assert page.locator("#worklist-filters a.selected").inner_text().startswith("逾期")  # back where I was
    assert "这里没有任务" in page.locator("#content-main").inner_text()
    shot(page, "mgr-03-worklist-after-outcome")

    # the whole worklist: today's call and the campaign's, whose script names me 李娜
    page.locator("#worklist-filters a", has_text="全部未完成").click()
    page.wait_for_selector("#worklist")
    sections = page.locator("#worklist h2.worklist-section").all_inner_texts()
    assert sections == ["今天到期", "以后"]
    assert "我是您的专属客服李娜。" in page.locator("#section-later + table").inner_text()
    worklist = page.locator("#worklist").inner_text()
    assert "生日：致电 寿星1" in worklist and "Birthday" not in worklist
    shot(page, "mgr-04-worklist-all")

    # 寿星1's birthday call (caught up by the job: due today) is made
    row = page.locator("#worklist tbody tr", has_text="寿星1").first
    with page.expect_navigation():
        row.get_by_role("button", name="已联系上").click()
    assert "寿星1" in page.locator("ul.messagelist").inner_text()

    # the player page: log a contact; the timeline says I did it, as 李娜
    page.locator("#worklist a", has_text="沉默的人").first.click()
    page.wait_for_selector("#timeline")
    page.click("#log-contact summary")
    page.select_option("#log-contact select[name=channel]", "wechat")
    page.fill("#log-contact input[name=topic]", "新赛季礼包")
    page.fill("#log-contact textarea[name=summary]", "周末会上线。")
    page.click("#log-contact input[type=submit]")
    page.wait_for_selector("ul.messagelist li")
    timeline = page.locator("#timeline").inner_text()
    assert "新赛季礼包" in timeline and "李娜" in timeline and "娜 李" not in timeline
    assert ContactLog.objects.filter(player=book["quiet"], staff=book["lina"], channel="wechat").count() == 1
    shot(page, "mgr-05-contact-logged")

    # a case from open to closed, with compensation
    page.locator("#quick-actions a", has_text="工单").click()
    page.wait_for_selector("#case_form")
    page.select_option("select[name=category]", "complaint")
    page.select_option("select[name=severity]", "high")
    page.fill("input[name=subject]", "充值未到账")
    page.fill("textarea[name=description]", "玩家说 648 元礼包没有到账。")
    shot(page, "mgr-06-case-new")
    page.locator("input[name=_save]").click()
    page.wait_for_selector("ul.messagelist li")
    case = Case.objects.get(player=book["quiet"])
    page.goto(f"{base}/admin/players/case/{case.pk}/change/")
    for button, fill in (("开始处理", None), ("解决", "补发礼包"), ("关闭", None)):
        page.locator("a.button", has_text=button).first.click()
        page.wait_for_selector("form input[type=submit]")
        if fill:
            page.fill("textarea[name=resolution]", "核实后补发 648 元礼包。")
            page.fill("input[name=compensation_item]", fill)
            page.fill("input[name=compensation_value]", "648")
            shot(page, "mgr-07-case-resolve-form")
        page.locator("form input[type=submit]").first.click()
        page.wait_for_selector("ul.messagelist li")
        assert "完成" in page.locator("ul.messagelist").inner_text()
    case.refresh_from_db()
    assert case.status == CaseStatus.CLOSED and case.compensation_item == "补发礼包"
    assert "补发礼包" in page.locator("#content-main").inner_text()
    shot(page, "mgr-08-case-closed")

    # the task list reads the greeting calls in Chinese too
    page.goto(f"{base}/admin/campaigns/outreachtask/?kind__exact=greeting")
    task_list = page.locator("#result_list").inner_text()
    assert "生日：致电 寿星2" in task_list and "Birthday" not in task_list
    shot(page, "mgr-08b-task-list-greeting-calls")

    # greetings coming up: pages of 50, the lunar birthday's lunar date, scheduled not greeted
    page.goto(f"{base}/admin/campaigns/greeting/upcoming/")
    table = page.locator("#upcoming-greetings")
    assert table.locator("tbody tr").count() == 50
    assert "共 60 条祝福" in page.locator("#upcoming-pages").inner_text()
    # only the greeting whose call 李娜 made reads greeted; the others are scheduled
    greeted = table.locator("tbody tr", has_text="已祝福")
    assert greeted.count() == 1 and "寿星1" in greeted.inner_text()
    scheduled = table.locator("tbody tr", has_text="已安排")
    assert scheduled.count() == Greeting.objects.filter(player__manager=book["lina"]).count() - 1 > 0
    assert all("计划中" not in r for r in scheduled.all_inner_texts())
    lunar_row = table.locator("tbody tr", has_text="寿星0").first
    assert "农历" in lunar_row.inner_text()
    assert "李娜" in lunar_row.inner_text()  # the call task is for 李娜
    # calls the job caught up are due today, not on a day gone by; the one made says done
    yesterday = (today - timedelta(days=1)).isoformat()
    caught_up = table.locator("tbody tr", has_text="寿星2").first.inner_text()
    assert f"李娜 的回访任务，{today.isoformat()} 到期" in caught_up and yesterday not in caught_up
    done = table.locator("tbody tr", has_text="寿星1").first.inner_text()
    assert f"李娜 的回访任务已于 {today.isoformat()} 完成" in done
    assert no_horizontal_scroll(page)
    shot(page, "mgr-09-greetings-upcoming")
    page.locator("#upcoming-pages a", has_text="2").click()
    page.wait_for_selector("#upcoming-greetings")
    assert page.locator("#upcoming-greetings tbody tr").count() == 10
    shot(page, "mgr-10-greetings-page-2")
