# ruff: noqa: F811 (the fixtures desk and team come from their own modules)
"""Issue 22's remaining flows in Chromium by clicking, in Chinese and in English: call scripts
of campaigns and greeting calls from the script library (话术库), a script inserted into a task,
survey results per manager and per category on the daily report and the dashboard, key
customers booked beside the top spenders, the year-end summary read from its table.
Fixtures and helpers are in crm/tests/browser.py."""

from datetime import timedelta

from django.utils import timezone

from campaigns.models import Campaign, GreetingRule, OutreachTask
from campaigns.services.campaigns import campaign_launch
from campaigns.services.top_spenders import half_month_before
from campaigns.tests.fixtures import library_script
from crm.tests.browser import in_language, login, no_horizontal_scroll, shot
from crm.tests.test_browser_reports_top_spenders import PASSWORD as TEAM_PASSWORD
from crm.tests.test_browser_reports_top_spenders import _table, team  # noqa: F401 (a fixture)
from crm.tests.test_browser_service_desk import desk, second_page  # noqa: F401 (a fixture)
from crm.tests.test_browser_supervisor_day import PASSWORD, in_chinese
from players.models import CallScript, Player, SatisfactionSurvey, Tag
from players.services import contact_log_create
from players.services.surveys import survey_answer


def test_campaign_and_greeting_calls_take_their_scripts_from_the_library(page, live_server, desk):
    base = live_server.url
    winback = library_script("您好{nickname}，我是您的专属客服{me}，好久不见，回归礼包已为您备好。", "win_back")
    winback.name = "流失挽回"
    winback.save()
    birthday = library_script("{occasion}快到了，我是{me}，提前祝您生日快乐！", "greeting_call")
    birthday.name = "生日问候"
    birthday.save()
    today = timezone.localdate()
    in_chinese(page, base)
    login(page, base, "zhangwei", PASSWORD)

    # a phone campaign: the message box is not the place for the call's words
    page.goto(f"{base}/admin/campaigns/campaign/add/")
    page.fill("input[name=name]", "唤回老玩家")
    page.select_option("select[name=channel]", "phone_task")
    page.fill("textarea[name=template]", "{nickname}您好，我是您的专属客服")
    page.fill("input[name=start_date]", today.isoformat())
    page.fill("input[name=due_date]", (today + timedelta(days=7)).isoformat())
    page.fill("input[name=holdout_percent]", "0")
    page.locator("input[name=_save]").click()
    assert "话术库" in page.wait_for_selector(".field-call_script .errorlist").inner_text()
    assert "话术库" in page.locator(".field-template .errorlist").inner_text()
    shot(page, "lib-01-campaign-script-refused")
    page.fill("textarea[name=template]", "")
    page.select_option("select[name=call_script]", value=str(winback.pk))
    page.locator("input[name=_save]").click()
    page.wait_for_selector("ul.messagelist li")
    campaign = Campaign.objects.get(name="唤回老玩家")
    assert campaign.call_script == winback and campaign.template == ""
    shot(page, "lib-02-campaign-saved-with-library-script")

    # a greeting rule: the call task's script is chosen from the greeting-call scripts
    page.goto(f"{base}/admin/campaigns/greetingrule/add/")
    page.fill("input[name=name]", "VIP 生日电话")
    page.select_option("select[name=occasion]", "birthday")
    page.fill("input[name=task_lead_days]", "1")
    options = page.locator("select[name=call_script] option").all_inner_texts()
    assert any("生日问候" in o for o in options) and not any("流失挽回" in o for o in options)
    page.select_option("select[name=call_script]", value=str(birthday.pk))
    shot(page, "lib-03-greeting-rule-call-script")
    page.locator("input[name=_save]").click()
    page.wait_for_selector("ul.messagelist li")
    assert GreetingRule.objects.get(name="VIP 生日电话").call_script == birthday

    # 李娜's worklist: the campaign's call reads the library's script, filled in for her
    campaign_launch(campaign=campaign, actor=desk["boss"])
    lina = second_page(page, base, "lina")
    lina.goto(f"{base}/admin/campaigns/worklisttask/")
    row = lina.locator("tr[id^=task-]", has_text="星河")
    assert "您好星河，我是您的专属客服李娜，好久不见" in row.inner_text()
    shot(lina, "lib-04-worklist-script-from-library")
    winback.refresh_from_db()
    assert winback.usage_count == OutreachTask.objects.filter(campaign=campaign).count() >= 2  # a use per call


def test_a_script_inserted_into_a_task(page, live_server, desk):
    base = live_server.url
    library_script("您好{nickname}！我是您的专属客服{me}。您是我们的{tier}贵宾，新赛季礼包已备好。", "return_visit")
    CallScript.objects.filter(category="return_visit").update(name="季度回访")
    today = timezone.localdate()
    mine = OutreachTask.objects.create(player=desk["player"], assignee=desk["lina"], title="回访", due_date=today)
    newcomer = Player.objects.create(account_id="acc-3003", nickname="新人", manager=desk["lina"], server="s1")
    bare = OutreachTask.objects.create(player=newcomer, assignee=desk["lina"], title="新人回访", due_date=today)

    in_chinese(page, base)
    login(page, base, "lina", PASSWORD)
    page.goto(f"{base}/admin/campaigns/outreachtask/{mine.pk}/change/")
    page.select_option(".field-script select.script-insert-choice", label="季度回访")
    page.locator(".field-script .script-insert-button").click()
    page.wait_for_function("document.querySelector('textarea[name=script]').value.length > 0")
    script = page.locator("textarea[name=script]").input_value()
    assert script.startswith("您好星河！我是您的专属客服李娜。") and "V3贵宾" in script
    shot(page, "lib-05-task-script-inserted")
    page.locator("input[name=_save]").click()
    page.wait_for_selector("ul.messagelist li")
    mine.refresh_from_db()
    assert mine.script.replace("\r\n", "\n") == script

    # a player without a tier: {tier} stays, and the task is not saved until it is filled in
    page.goto(f"{base}/admin/campaigns/outreachtask/{bare.pk}/change/")
    page.select_option(".field-script select.script-insert-choice", label="季度回访")
    page.locator(".field-script .script-insert-button").click()
    page.wait_for_function("document.querySelector('textarea[name=script]').value.length > 0")
    page.locator("input[name=_save]").click()
    assert "{tier}" in page.wait_for_selector(".field-script .errorlist").inner_text()
    shot(page, "lib-06-task-unresolved-refused")
    bare.refresh_from_db()
    assert bare.script == ""
    page.fill("textarea[name=script]", page.locator("textarea[name=script]").input_value().replace("{tier}", "新晋"))
    page.locator("input[name=_save]").click()
    page.wait_for_selector("ul.messagelist li")
    bare.refresh_from_db()
    assert "新晋贵宾" in bare.script

    # in English the control reads in English
    page.context.clear_cookies()
    in_language(page, base, "en")
    login(page, base, "lina", PASSWORD)
    page.goto(f"{base}/admin/campaigns/outreachtask/{mine.pk}/change/")
    assert page.locator(".field-script .script-insert-button").inner_text() == "Insert script"
    shot(page, "lib-07-task-script-en")


def test_survey_results_per_manager_and_category_on_the_daily_report_and_the_dashboard(page, live_server, desk):
    from players.services.cases import case_open, case_resolve

    base = live_server.url
    now = timezone.now()
    # two return visits of 李娜 answered (one low), a payment case of 王强 answered
    for score in (5, 1):
        contact = contact_log_create(
            player=desk["player"], staff=desk["lina"], channel="phone", outcome="reached", topic="回访"
        )
        survey_answer(survey=SatisfactionSurvey.objects.get(contact=contact), score=score, via="link", now=now)
    case = case_open(player=desk["stranger"], category="payment", subject="充值未到账", actor=desk["wang"])
    case_resolve(case=case, actor=desk["wang"], resolution="已补发")
    survey_answer(survey=SatisfactionSurvey.objects.get(case=case), score=4, via="in_game", now=now)

    in_chinese(page, base)
    login(page, base, "zhangwei", PASSWORD)
    page.goto(f"{base}/admin/players/case/report/")
    header = [cell.inner_text().strip() for cell in page.locator("#work-report thead th").all()]
    assert header[8:11] == ["问卷回复", "问卷评分", "低分"], header
    rows = {row[1]: row for row in _table(page, "#work-report tbody")}
    assert rows["李娜"][8:11] == ["2", "3.0", "1"] and rows["王强"][8:11] == ["1", "4.0", "0"]
    categories = {row[0]: row[1:] for row in _table(page, "#survey-categories tbody")}
    assert categories == {"充值问题": ["1", "4.0", "0"], "回访": ["2", "3.0", "1"]}, categories
    assert no_horizontal_scroll(page)
    shot(page, "lib-08-daily-report-surveys-zh")

    # the dashboard's satisfaction panel (its figures as the periodic job computes them)
    from crm.workplace.aggregates import dashboard_refresh

    dashboard_refresh()
    page.goto(f"{base}/admin/")
    panel = page.wait_for_selector("#panel-satisfaction")
    text = panel.inner_text()
    assert "李娜" in text and "王强" in text and "回访" in text and "充值问题" in text
    panel.scroll_into_view_if_needed()
    shot(page, "lib-09-dashboard-satisfaction-zh")

    page.context.clear_cookies()
    in_language(page, base, "en")
    login(page, base, "zhangwei", PASSWORD)
    page.goto(f"{base}/admin/players/case/report/")
    assert page.locator("#survey-categories-title").inner_text() == "Satisfaction surveys by category"
    categories = {row[0]: row[1:] for row in _table(page, "#survey-categories tbody")}
    assert categories == {"Payment problem": ["1", "4.0", "0"], "Return visit": ["2", "3.0", "1"]}
    shot(page, "lib-10-daily-report-surveys-en")


def test_key_customers_are_booked_beside_the_top_spenders_and_the_year_reads_its_sums(page, live_server, team):
    people, players = team
    base = live_server.url
    # 白虎 (No. 2 on s2) and a quiet player who spent nothing are key customers
    key = Tag.objects.create(name="重点客户")
    quiet = Player.objects.create(account_id="key-9", nickname="老朋友", server="s1", manager=people["lina"])
    for player in (players["top-4"], quiet):
        player.tags.add(key)

    start, end = half_month_before(timezone.localdate())
    query = f"?start={start}&end={end}&top=1&per=server"
    in_language(page, base, "zh-hans")
    login(page, base, "zhangwei", TEAM_PASSWORD)
    page.goto(f"{base}/admin/workplace/top-spenders/{query}")
    page.wait_for_selector("#key-customers")
    assert page.locator("#key-customers-title").inner_text() == "前列之外的重点客户"
    rows = _table(page, "#key-customers tbody")
    assert [(r[1].split("\n")[0], r[4]) for r in rows] == [("白虎", "¥1,200.00"), ("老朋友", "¥0.00")]
    assert "重点客户" in page.locator(".crm-note").inner_text()
    shot(page, "lib-11-top-spenders-key-customers-zh")
    page.goto(f"{base}/admin/workplace/top-spenders/")
    page.click("#book-calls")
    page.wait_for_load_state()
    assert OutreachTask.objects.filter(source__startswith="top-spender:", player=quiet).count() == 1

    # 李娜 reads the key customers' calls on her worklist
    page.context.clear_cookies()
    in_language(page, base, "zh-hans")
    login(page, base, "lina", TEAM_PASSWORD)
    page.goto(f"{base}/admin/campaigns/worklisttask/")
    titles = [row.locator("td").nth(2).inner_text() for row in page.locator("tr[id^=task-]").all()]
    assert any(t.startswith("回访：老朋友，重点客户，") for t in titles), titles
    shot(page, "lib-12-key-customer-call-zh")

    # the year-end summary says when its sums were taken from the payments
    page.goto(f"{base}/admin/workplace/year-spend/")
    assert "每晚更新" in page.locator("#year-summed-at").inner_text()
    shot(page, "lib-13-year-spend-summed-at-zh")
    page.context.clear_cookies()
    in_language(page, base, "en")
    login(page, base, "zhangwei", TEAM_PASSWORD)
    page.goto(f"{base}/admin/workplace/top-spenders/{query}")
    assert page.locator("#key-customers-title").inner_text() == "Key customers beyond the top spenders"
    shot(page, "lib-14-top-spenders-key-customers-en")
