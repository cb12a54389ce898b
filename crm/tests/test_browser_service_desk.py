"""The service desk the handbooks describe, in Chromium by clicking, in Chinese and in
English: company days off and the week's holidays, a case opened on the eve of Spring
Festival 2027 with its working-time due, a compensation approved and one refused.
Fixtures and helpers are in crm/tests/browser.py."""

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.utils import timezone

from crm.formatting import when
from crm.models import CompanyDayOff
from crm.tests.browser import VIEWPORT, in_language, login, no_horizontal_scroll, shot
from crm.tests.test_browser_supervisor_day import PASSWORD, _staff, in_chinese
from players.models import Case, CaseEvent, CompensationApprovalRule, CompensationProposal, Player, ProposalStatus
from vip.models import Tier

SH = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def desk(base_data, settings):
    settings.CRM_WORKING_HOURS = "09:00-18:00"
    boss = _staff("zhangwei", "张", "伟", "Supervisor")
    lina = _staff("lina", "李", "娜", "VIP manager")
    wang = _staff("wangqiang", "王", "强", "VIP manager")
    v3 = Tier.objects.get(name="V3")
    player = Player.objects.create(account_id="acc-1001", nickname="星河", manager=lina, tier=v3, server="s1")
    stranger = Player.objects.create(account_id="acc-2002", nickname="别人的玩家", manager=wang, tier=v3, server="s1")
    return {"boss": boss, "lina": lina, "wang": wang, "player": player, "stranger": stranger}


def second_page(page, base, username, language="zh-hans"):
    context = page.context.browser.new_context(viewport=VIEWPORT, locale="zh-CN", timezone_id=settings.TIME_ZONE)
    other = context.new_page()
    other.set_default_timeout(15000)
    in_language(other, base, language)
    login(other, base, username, PASSWORD)
    return other


def test_a_company_day_off_shows_on_the_managers_week(page, live_server, desk):
    base = live_server.url
    tomorrow = timezone.localdate() + timedelta(days=1)
    in_chinese(page, base)
    login(page, base, "zhangwei", PASSWORD)

    # the supervisor adds tomorrow as a company day off
    page.goto(f"{base}/admin/crm/companydayoff/add/")
    page.fill("input[name=day]", tomorrow.isoformat())
    page.fill("input[name=reason]", "公司年会")
    shot(page, "desk-01-company-day-off-form")
    page.locator("input[name=_save]").click()
    page.wait_for_selector("ul.messagelist li")
    assert CompanyDayOff.objects.get(day=tomorrow).created_by == desk["boss"]
    assert "公司年会" in page.locator("#result_list").inner_text()
    shot(page, "desk-02-company-days-off")
    # the same date twice is refused, naming the field
    page.goto(f"{base}/admin/crm/companydayoff/add/")
    page.fill("input[name=day]", tomorrow.isoformat())
    page.locator("input[name=_save]").click()
    assert "该日期已是公司休息日" in page.locator(".errorlist").first.inner_text()

    # a manager may look but not add
    lina = second_page(page, base, "lina")
    panel = lina.locator("#panel-birthdays")
    assert "公司年会" in panel.inner_text() and "公司休息日" in panel.inner_text()
    shot(lina, "desk-03-manager-week-company-day-off")
    response = lina.goto(f"{base}/admin/crm/companydayoff/add/")
    assert response.status == 403


def test_a_case_opened_on_spring_festival_eve_is_due_after_the_holiday(page, live_server, desk):
    import time_machine

    base = live_server.url
    # Thursday 2027-02-04 15:50 in Shanghai: the last working afternoon before the holiday
    with time_machine.travel(datetime(2027, 2, 4, 15, 50, tzinfo=SH), tick=True):
        in_chinese(page, base)
        login(page, base, "zhangwei", PASSWORD)

        # the supervisor puts complaints on working hours: 27 h to resolve, 2 h to answer
        page.goto(f"{base}/admin/players/slapolicy/add/")
        page.select_option("select[name=category]", "complaint")
        page.select_option("select[name=clock]", "working_hours")
        page.fill("input[name=first_response_hours]", "2")
        page.fill("input[name=hours]", "27")
        page.fill("input[name=head_after_hours]", "9")
        shot(page, "desk-04-sla-policy-working-hours")
        page.locator("input[name=_save]").click()
        page.wait_for_selector("ul.messagelist li")
        # a policy with nonsense hours is refused, naming the field
        page.goto(f"{base}/admin/players/slapolicy/add/")
        page.select_option("select[name=category]", "bug")
        page.fill("input[name=first_response_hours]", "0")
        page.fill("input[name=hours]", "0")
        page.locator("input[name=_save]").click()
        page.wait_for_selector(".errornote")
        assert page.locator(".field-hours .errorlist").count() == 1
        assert page.locator(".field-first_response_hours .errorlist").count() == 1

        # 李娜 opens a complaint for 星河 from his page
        lina = second_page(page, base, "lina")
        lina.goto(f"{base}/admin/players/case/add/?player={desk['player'].pk}")
        lina.wait_for_selector("#case_form")
        lina.select_option("select[name=category]", "complaint")
        lina.fill("input[name=subject]", "除夕活动奖励没到账")
        lina.locator("input[name=_save]").click()
        lina.wait_for_selector("ul.messagelist li")
        case = Case.objects.get(player=desk["player"])
        lina.goto(f"{base}/admin/players/case/{case.pk}/change/")
        sla = lina.locator(".field-sla_display").inner_text()
        shot(lina, "desk-05-case-on-festival-eve")

    # opened at 15:50 and some seconds (the clock ticks while the browser clicks): a little
    # over 2 working hours that afternoon, the holiday 2-05 .. 2-10 skipped, 2-11 and 2-12
    # (18 h), the rest on Monday 2-15: due at the same time of day eleven days later; the
    # first answer two hours later on the eve itself
    opened = case.opened_at.astimezone(SH)
    assert opened.date() == date(2027, 2, 4) and opened.hour == 15
    assert case.sla_due_at - case.opened_at == timedelta(days=11)
    assert case.first_response_due_at - case.opened_at == timedelta(hours=2)
    assert f"截止时间: {when(case.sla_due_at)}" in sla and when(case.sla_due_at).startswith("2027-02-15 15:5")
    assert "工作时间" in sla
    assert f"首次答复截止: {when(case.first_response_due_at)}" in sla
    assert when(case.first_response_due_at).startswith("2027-02-04 17:5")
    timeline = CaseEvent.objects.get(case=case, type="opened")
    assert timeline.parameters["clock"] == "working_hours"


def test_a_compensation_approved_and_one_refused(page, live_server, desk):
    base = live_server.url
    CompensationApprovalRule.objects.create(tier=None, above=Decimal("50"))
    from players.services.cases import case_open

    case = case_open(player=desk["player"], category="complaint", subject="充值未到账", actor=desk["lina"])
    theirs = case_open(player=desk["stranger"], category="complaint", subject="别人的工单", actor=desk["wang"])

    # 李娜 proposes two compensations above the threshold, in Chinese
    in_chinese(page, base)
    login(page, base, "lina", PASSWORD)
    for item, value, reason in (("限定皮肤", "128", "充值三天未到账"), ("9999 钻石", "999", "玩家要求")):
        page.goto(f"{base}/admin/players/case/{case.pk}/do/compensate/")
        page.fill("input[name=item]", item)
        page.fill("input[name=value]", value)
        page.fill("textarea[name=reason]", reason)
        shot(page, "desk-06-propose-compensation")
        page.locator("form input[type=submit]").first.click()
        page.wait_for_selector("ul.messagelist li")
    outcome = page.locator(".field-compensation_display").inner_text()
    assert "待审批" in outcome and "限定皮肤" in outcome
    shot(page, "desk-07-case-proposals-waiting")
    # a manager has no approvals to make: no buttons, and the decision page is refused
    page.goto(f"{base}/admin/players/compensationproposal/")
    assert page.locator("a.proposal-approve").count() == 0
    first = CompensationProposal.objects.get(item="限定皮肤")
    assert page.goto(f"{base}/admin/players/compensationproposal/{first.pk}/decide/approve/").status == 403
    # and cannot propose on another manager's case
    assert page.goto(f"{base}/admin/players/case/{theirs.pk}/do/compensate/").status == 404

    # 张伟, the supervisor, works the approvals queue in English
    boss = second_page(page, base, "zhangwei", language="en")
    boss.goto(f"{base}/admin/players/compensationproposal/")
    rows = boss.locator("#result_list tbody tr")
    assert rows.count() == 2
    shot(boss, "desk-08-approvals-queue-en")
    assert no_horizontal_scroll(boss)
    boss.locator("#result_list tbody tr", has_text="限定皮肤").locator("a.proposal-approve").click()
    boss.wait_for_selector("#proposal-decision")
    boss.fill("textarea[name=note]", "OK, within policy")
    shot(boss, "desk-09-approve-form-en")
    boss.locator("#proposal-decision input[type=submit]").click()
    boss.wait_for_selector("ul.messagelist li")
    assert "Approved and given" in boss.locator("ul.messagelist").inner_text()

    boss.locator("#result_list tbody tr", has_text="9999").locator("a.proposal-refuse").click()
    boss.wait_for_selector("#proposal-decision")
    boss.locator("#proposal-decision input[type=submit]").click()  # no reason: refused, says why
    assert "Say why the compensation is refused" in boss.wait_for_selector(".errorlist").inner_text()
    boss.fill("textarea[name=note]", "Too much: offer 50 diamonds instead")
    boss.locator("#proposal-decision input[type=submit]").click()
    boss.wait_for_selector("ul.messagelist li")
    assert boss.locator("#result_list tbody tr").count() == 0 or "9999" not in boss.locator("#content").inner_text()
    shot(boss, "desk-10-queue-empty-en")

    statuses = dict(CompensationProposal.objects.values_list("item", "status"))
    assert statuses == {"限定皮肤": ProposalStatus.APPROVED, "9999 钻石": ProposalStatus.REFUSED}
    case.refresh_from_db()
    assert (case.compensation_item, case.compensation_value) == ("限定皮肤", Decimal("128.00"))

    # 李娜 sees both decisions on the case's timeline, in Chinese
    page.goto(f"{base}/admin/players/case/{case.pk}/change/")
    timeline = page.locator(".field-timeline").inner_text()
    assert "补偿已批准" in timeline and "补偿被驳回" in timeline and "offer 50 diamonds" in timeline
    shot(page, "desk-11-case-timeline-decisions")
    assert date.today()  # the screenshots are looked at by a person


def test_a_script_inserted_into_a_contact_and_a_case_reply(page, live_server, desk):
    from players.models import CallScript, ContactLog
    from players.services.cases import case_open
    from players.services.scripts import script_save

    base = live_server.url
    in_chinese(page, base)
    login(page, base, "zhangwei", PASSWORD)
    # the supervisor writes a return-visit script; an unknown variable is refused first
    page.goto(f"{base}/admin/players/callscript/add/")
    page.fill("input[name=name]", "季度回访")
    page.select_option("select[name=category]", "return_visit")
    page.fill("textarea[name=step_verify]", "您好！请问是{nickname}吗？")
    page.fill("textarea[name=step_introduce]", "我是您的专属客服{me}，工号 8001。")
    page.fill("textarea[name=step_convenient]", "现在方便说两句吗？")
    page.fill("textarea[name=step_purpose]", "您是我们的{tier}贵宾，{phone}")
    page.fill("textarea[name=step_close]", "感谢您的支持，祝您游戏愉快！")
    page.locator("input[name=_save]").click()
    assert "{phone}" in page.wait_for_selector(".field-step_purpose .errorlist").inner_text()
    page.fill("textarea[name=step_purpose]", "您是我们的{tier}贵宾，本月再消费{spend_to_keep_tier}元即可保级。")
    shot(page, "desk-12-script-form")
    page.locator("input[name=_save]").click()
    page.wait_for_selector("ul.messagelist li")
    shot(page, "desk-13-script-library")
    no_tier = Player.objects.create(account_id="acc-3003", nickname="新人", manager=desk["lina"], server="s1")
    faq = script_save(
        script=CallScript(
            name="充值未到账", category="inbound_faq", step_purpose="{nickname}您好，充值一般 5 分钟内到账。"
        ),
        actor=desk["boss"],
    )

    # 李娜 logs a contact with 星河 and inserts the script: filled in for him
    lina = second_page(page, base, "lina")
    lina.goto(f"{base}/admin/players/contactlog/add/?player={desk['player'].pk}")
    lina.select_option(".field-summary select.script-insert-choice", label="季度回访")
    lina.locator(".field-summary .script-insert-button").click()
    lina.wait_for_function("document.querySelector('textarea[name=summary]').value.length > 0")
    summary = lina.locator("textarea[name=summary]").input_value()
    assert summary.startswith("您好！请问是星河吗？") and "专属客服李娜" in summary and "V3贵宾" in summary
    shot(lina, "desk-14-contact-script-inserted")
    lina.locator("input[name=_save]").click()
    lina.wait_for_selector("ul.messagelist li")
    assert ContactLog.objects.get(player=desk["player"]).summary.replace("\r\n", "\n") == summary
    assert CallScript.objects.get(name="季度回访").usage_count == 1

    # for a player without a tier the {tier} stays, and saving is refused until it is filled
    lina.goto(f"{base}/admin/players/contactlog/add/?player={no_tier.pk}")
    lina.select_option(".field-summary select.script-insert-choice", label="季度回访")
    lina.locator(".field-summary .script-insert-button").click()
    lina.wait_for_function("document.querySelector('textarea[name=summary]').value.length > 0")
    lina.locator("input[name=_save]").click()
    assert "{tier}" in lina.wait_for_selector(".field-summary .errorlist").inner_text()
    shot(lina, "desk-15-contact-unresolved-refused")
    assert not ContactLog.objects.filter(player=no_tier).exists()

    # another manager's player: the script is not filled in for them
    response = lina.goto(f"{base}/admin/players/callscript/{faq.pk}/insert/?player={desk['stranger'].pk}")
    assert response.status == 404
    response = lina.goto(f"{base}/admin/players/callscript/{faq.pk}/insert/?player=1%27%20OR%201=1")
    assert response.status == 400

    # a case reply with the FAQ answer
    case = case_open(player=desk["player"], category="payment", subject="充值未到账", actor=desk["lina"])
    lina.goto(f"{base}/admin/players/case/{case.pk}/do/reply/")
    lina.select_option("select.script-insert-choice", label="充值未到账")
    lina.locator(".script-insert-button").click()
    lina.wait_for_function("document.querySelector('textarea[name=text]').value.length > 0")
    lina.locator("form input[type=submit]").first.click()
    lina.wait_for_selector("ul.messagelist li")
    case.refresh_from_db()
    assert case.first_responded_at is not None
    assert "星河您好，充值一般 5 分钟内到账。" in lina.locator(".field-timeline").inner_text()
    shot(lina, "desk-16-case-reply-from-script")


PHONE = {"width": 390, "height": 844}


def test_surveys_answered_on_a_phone_and_in_the_game_then_on_the_dashboard(page, live_server, desk, client):
    import re

    from campaigns.models import Message, OutreachTask
    from crm.api.authentication import client_cache
    from crm.services import api_client_create
    from crm.tests.fixtures import SignedApi
    from players.models import SatisfactionSurvey
    from players.services.cases import case_open, case_resolve
    from players.services.service_records import contact_log_create
    from players.services.surveys import survey_token

    base = live_server.url
    second = Player.objects.create(
        account_id="acc-4004", nickname="夜雨", manager=desk["lina"], server="s1", preferred_channel="in_game"
    )
    desk["player"].preferred_channel = "sms"
    desk["player"].save(update_fields=["preferred_channel"])
    # 李娜 resolves 星河's case and makes a return visit to 夜雨: a survey each, on their channels
    case = case_open(player=desk["player"], category="payment", subject="充值未到账", actor=desk["lina"])
    case_resolve(case=case, actor=desk["lina"], resolution="已补发")
    contact_log_create(player=second, staff=desk["lina"], channel="phone", outcome="reached", topic="季度回访")
    by_link = SatisfactionSurvey.objects.get(case=case)
    in_game = SatisfactionSurvey.objects.get(player=second)
    sms = Message.objects.get(source=f"survey:{by_link.pk}:first")
    assert sms.channel == "sms" and "满意" in sms.body
    link = re.search(r"https?://\S+/survey/[^/]+/", sms.body).group(0)
    path = link[link.index("/survey/") :]

    # 星河 opens the link on his phone (Chinese), first sends nothing, then 2 stars and why
    phone_context = page.context.browser.new_context(
        viewport=PHONE, locale="zh-CN", extra_http_headers={"Accept-Language": "zh-CN,zh;q=0.9"}, is_mobile=True
    )
    phone = phone_context.new_page()
    phone.goto(f"{base}{path}")
    assert "星河" in phone.locator("h1").inner_text() and "满意" in phone.locator("h1").inner_text()
    shot(phone, "desk-17-survey-phone-zh")
    assert no_horizontal_scroll(phone)
    phone.locator("button[type=submit]").click()
    assert "1 到 5 的整数" in phone.wait_for_selector(".error").inner_text()
    phone.locator("label", has_text="不满意").first.click()
    phone.fill("textarea[name=reason]", "等了三天才补发")
    phone.locator("button[type=submit]").click()
    phone.wait_for_selector("#survey-done")
    shot(phone, "desk-18-survey-phone-thanks-zh")
    case.refresh_from_db()
    assert (case.satisfaction, case.satisfaction_note) == (2, "等了三天才补发")
    # the link answers once; a mangled one names nothing
    phone.goto(f"{base}{path}")
    assert "已经回答过" in phone.locator("#survey-done").inner_text()
    phone.goto(f"{base}{path[:-3]}xx/")
    assert phone.locator("#survey-invalid").count() == 1
    # in English for an English phone
    english = page.context.browser.new_context(viewport=PHONE, locale="en-US", is_mobile=True).new_page()
    english.goto(f"{base}/survey/{survey_token(in_game)}/")
    assert "how did we do" in english.locator("h1").inner_text()
    shot(english, "desk-19-survey-phone-en")

    # 夜雨 answers in the game: the game server submits it through the signed API
    client_cache.clear()
    game = SignedApi(client, api_client_create(name="game-s1", game="Legends", server="s1"))
    answer = {"token": survey_token(in_game), "account_id": "acc-4004", "score": 5, "reason": "客服很耐心"}
    assert game.post("/api/v1/surveys/answer/", answer).status_code == 200
    assert game.post("/api/v1/surveys/answer/", answer).status_code == 409

    # the low score is a follow-up task for the supervisor
    task = OutreachTask.objects.get(source=f"survey:{by_link.pk}")
    assert task.assignee == desk["boss"]

    # 张伟 sees the results per manager and per category on the dashboard
    from crm.workplace.aggregates import dashboard_refresh

    dashboard_refresh()
    in_chinese(page, base)
    login(page, base, "zhangwei", PASSWORD)
    panel = page.locator("#panel-satisfaction")
    text = panel.inner_text()
    assert "李娜" in text and "充值问题" in text and "回访" in text and "★ 3.5" in text
    shot(page, "desk-20-dashboard-satisfaction")
    panel.locator("a", has_text="李娜").first.click()
    page.wait_for_selector("#result_list")
    assert page.locator("#result_list tbody tr").count() == 2
    shot(page, "desk-21-survey-list")
