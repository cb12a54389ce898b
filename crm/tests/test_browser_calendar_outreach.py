"""The Chinese calendar in outreach, clicked in Chinese in Chromium: a supervisor makes 清明
a no-sending holiday once (its days come from the statutory calendar, 调休 included) and
plans a campaign on 除夕 without typing its date; a VIP manager's week shows the holiday,
the days no marketing goes out and the festival. The clock is pinned to Wednesday
2027-03-31 in Shanghai: 清明 2027 is Monday 04-05, its break 04-03 .. 04-05."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from campaigns.models import Campaign, NoSendDay
from crm.tests.browser import login, shot
from crm.tests.test_browser_service_desk import second_page
from crm.tests.test_browser_supervisor_day import PASSWORD, _staff, in_chinese

SH = ZoneInfo("Asia/Shanghai")
WEDNESDAY = datetime(2027, 3, 31, 10, tzinfo=SH)


@pytest.fixture
def people(base_data):
    return {"boss": _staff("zhangwei", "张", "伟", "Supervisor"), "lina": _staff("lina", "李", "娜", "VIP manager")}


def test_qingming_as_a_no_sending_holiday_and_a_campaign_on_chuxi(page, live_server, people):
    base = live_server.url
    with time_machine.travel(WEDNESDAY, tick=True):
        in_chinese(page, base)
        login(page, base, "zhangwei", PASSWORD)

        # the supervisor makes 清明 a no-sending holiday: no date typed in
        page.goto(f"{base}/admin/campaigns/nosendday/add/")
        page.select_option("select[name=holiday]", label="清明节")
        page.fill("input[name=note]", "清明不发营销")
        shot(page, "calendar-01-no-sending-holiday-form")
        page.locator("input[name=_save]").click()
        page.wait_for_selector("ul.messagelist li")
        row = page.locator("#result_list tbody tr", has_text="清明节（每年）")
        assert "清明不发营销" in row.inner_text()
        # this year's days, from the statutory calendar: Saturday 04-03 to Monday 04-05
        assert row.locator("span.crm-when[title='2027-04-03']").count() == 1
        assert row.locator("span.crm-when[title='2027-04-05']").count() == 1
        shot(page, "calendar-02-no-sending-list")
        assert NoSendDay.objects.get().holiday == "qingming"

        # the same holiday twice, or a date and a holiday at once, is refused naming why
        page.goto(f"{base}/admin/campaigns/nosendday/add/")
        page.select_option("select[name=holiday]", label="清明节")
        page.locator("input[name=_save]").click()
        page.wait_for_selector(".errornote")
        assert "该法定节假日已是禁发日" in " ".join(page.locator("ul.errorlist").all_inner_texts())
        page.goto(f"{base}/admin/campaigns/nosendday/add/")
        page.fill("input[name=date]", "2027-05-01")
        page.select_option("select[name=holiday]", label="劳动节")
        page.locator("input[name=_save]").click()
        assert "二者只能选其一" in page.locator(".field-holiday .errorlist").inner_text()

        # a campaign on 除夕, chosen among the festivals, its dates left empty
        page.goto(f"{base}/admin/campaigns/campaign/add/")
        page.fill("#id_name", "除夕红包")
        page.select_option("#id_channel", "in_game")
        page.fill("#id_template", "{nickname}，除夕快乐！")
        groups = page.locator("#id_festival optgroup").evaluate_all("gs => gs.map(g => g.label)")
        assert groups == ["节日", "二十四节气"]
        page.select_option("#id_festival", label="除夕")
        page.locator("#id_festival").scroll_into_view_if_needed()
        shot(page, "calendar-03-campaign-on-chuxi")
        page.locator("input[name=_save]").click()
        page.wait_for_selector("ul.messagelist li")
        assert page.locator(".errorlist").count() == 0
        # 除夕 of lunar 2027 is 腊月廿九 (a 29-day twelfth month): 2028-01-25
        row = page.locator("#result_list tbody tr", has_text="除夕红包")
        assert "除夕" in row.inner_text() and row.inner_text().count("2028年1月25日") == 2  # start and due
        shot(page, "calendar-04-campaign-list")
        campaign = Campaign.objects.get(name="除夕红包")
        assert (campaign.festival, campaign.start_date) == ("chuxi", date(2028, 1, 25))

        # a start on another day is refused, the festival's day named
        page.goto(f"{base}/admin/campaigns/campaign/{campaign.pk}/change/")
        page.fill("#id_start_date", "2028-01-26")
        page.locator("input[name=_save]").click()
        error = page.locator(".field-start_date .errorlist").inner_text()
        assert "除夕 不在 2028-01-26：下一次是 2029-02-12" in error

        # 李娜's week: the 清明 holiday and the days no marketing goes out
        lina = second_page(page, base, "lina")
        panel = lina.locator("#panel-birthdays")
        holiday = panel.locator("li", has_text="法定节假日")
        assert "清明节" in holiday.inner_text() and "04-03" in holiday.inner_text()  # the whole break
        no_send = panel.locator("li", has_text="禁发日")
        assert "清明不发营销" in no_send.inner_text() and "04-03" in no_send.inner_text()
        shot(lina, "calendar-05-manager-week-qingming")
