"""An expired satisfaction survey says why and when, read in Chinese in Chromium: a
supervisor's survey list shows, under "已过期", that the player did not answer within the
link's 14 days and when the link stopped working (Shanghai time); the survey's page says it
whole; a survey expired by an erasure says so. The clock is pinned to 2027-03-31 10:00 in Shanghai."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from crm.tests.browser import login, shot
from crm.tests.test_browser_supervisor_day import PASSWORD, _staff, in_chinese
from players.models import Player, SatisfactionSurvey, SurveyStatus
from players.services.surveys import surveys_expire_erased, surveys_remind

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2027, 3, 31, 10, tzinfo=SH)
SENT = datetime(2027, 3, 1, 15, 30, tzinfo=SH)
NO_ANSWER = "发出后 14 天内未作答：链接已于 2027-03-15 15:30 失效。"
ERASED = "玩家的个人信息已于 2027-03-31 10:00 应其请求删除：不再接收答复。"


@pytest.fixture
def surveys(base_data):
    boss = _staff("zhangwei", "张", "伟", "Supervisor")
    lina = _staff("lina", "李", "娜", "VIP manager")
    quiet = Player.objects.create(account_id="quiet-1", nickname="不回答的人", manager=lina)
    gone = Player.objects.create(account_id="gone-1", nickname="要求删除的人", manager=lina)
    answered = Player.objects.create(account_id="happy-1", nickname="满意的人", manager=lina)
    made = {}
    for player in (quiet, gone, answered):
        made[player.account_id] = SatisfactionSurvey.objects.create(
            player=player, kind="return_visit", manager=lina, category="return_visit", channel="sms", sent_at=SENT
        )
    SatisfactionSurvey.objects.filter(player=answered).update(
        status=SurveyStatus.ANSWERED, score=5, answered_at=SENT + timedelta(hours=2), answered_via="link"
    )
    surveys_expire_erased(player=gone, now=NOW)
    surveys_remind(now=NOW)  # 30 days after sending: the link's 14 days are past
    return {"boss": boss, **made}


def test_an_expired_survey_says_why_and_when_in_chinese(page, live_server, surveys):
    base = live_server.url
    with time_machine.travel(NOW, tick=True):
        in_chinese(page, base)
        login(page, base, "zhangwei", PASSWORD)

        page.goto(f"{base}/admin/players/satisfactionsurvey/")
        quiet = page.locator("#result_list tbody tr", has_text="不回答的人").locator("td.field-status_display")
        assert quiet.inner_text().startswith("已过期")
        assert quiet.locator("span.crm-trunc").get_attribute("title") == NO_ANSWER
        gone = page.locator("#result_list tbody tr", has_text="gone-1").locator("td.field-status_display")
        assert gone.locator("span.crm-trunc").get_attribute("title") == ERASED
        happy = page.locator("#result_list tbody tr", has_text="满意的人").locator("td.field-status_display")
        assert happy.inner_text() == "已回答"
        assert "no_answer" not in page.locator("#result_list").inner_text()
        shot(page, "surveys-expired-01-list")

        page.goto(f"{base}/admin/players/satisfactionsurvey/{surveys['quiet-1'].pk}/change/")
        why = page.locator(".field-expiry_display")
        assert "过期原因" in why.inner_text() and NO_ANSWER in why.inner_text()
        why.scroll_into_view_if_needed()
        shot(page, "surveys-expired-02-survey")
