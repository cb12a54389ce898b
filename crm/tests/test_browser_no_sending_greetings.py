"""A no-sending holiday that lets the festival's greeting go, clicked in Chinese in Chromium:
a supervisor makes 春节 a no-sending holiday for marketing (greetings not held: the default)
and a day of mourning that holds greetings too; the list says of each whether greetings
still go out. Then the 春节 greeting due on the festival goes out that day while a campaign's
promotion waits for the break's end. The clock is pinned to 2031-01-10 in Shanghai."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from campaigns.models import Message, MessageStatus, NoSendDay
from campaigns.services.messaging import message_queue, messages_deliver_due
from crm.tests.browser import login, shot
from crm.tests.test_browser_supervisor_day import PASSWORD, _staff, in_chinese
from players.models import Player

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2031, 1, 10, 10, tzinfo=SH)
CHUNJIE = datetime(2031, 1, 23, 10, tzinfo=SH)  # 春节 2031, in its break 01-22 .. 01-27


@pytest.fixture
def people(base_data, settings):
    settings.CRM_MESSAGE_BACKENDS = {
        **settings.CRM_MESSAGE_BACKENDS,
        "in_game": {"BACKEND": "campaigns.channels.ConsoleBackend"},
    }
    settings.CRM_CONSOLE_BACKEND_ALLOWED = True
    return {"boss": _staff("zhangwei", "张", "伟", "Supervisor")}


def test_chunjie_blocks_marketing_and_its_greeting_still_goes(page, live_server, people):
    base = live_server.url
    with time_machine.travel(NOW, tick=True):
        in_chinese(page, base)
        login(page, base, "zhangwei", PASSWORD)

        # 春节 for marketing only: the box "greetings too" is left as it comes, unticked
        page.goto(f"{base}/admin/campaigns/nosendday/add/")
        page.select_option("select[name=holiday]", label="春节")
        box = page.locator(".field-greetings_too")
        assert "祝福也暂停" in box.inner_text() and "节日祝福在节日当天发出" in box.inner_text()
        assert not page.locator("input[name=greetings_too]").is_checked()
        page.fill("input[name=note]", "春节不发营销")
        shot(page, "no-sending-greetings-01-chunjie-form")
        page.locator("input[name=_save]").click()
        page.wait_for_selector("ul.messagelist li")

        # a day of mourning holds greetings too: ticked
        page.goto(f"{base}/admin/campaigns/nosendday/add/")
        page.fill("input[name=date]", "2031-04-04")
        page.locator("input[name=greetings_too]").check()
        page.fill("input[name=note]", "全国哀悼日")
        page.locator("input[name=_save]").click()
        page.wait_for_selector("ul.messagelist li")

        # the list says of each whether greetings still go out, in Chinese
        assert page.locator("#result_list thead").inner_text().count("祝福") == 1
        chunjie = page.locator("#result_list tbody tr", has_text="春节不发营销")
        mourning = page.locator("#result_list tbody tr", has_text="全国哀悼日")
        assert "照常发出" in chunjie.inner_text() and "也暂停" not in chunjie.inner_text()
        assert "也暂停" in mourning.inner_text()
        shot(page, "no-sending-greetings-02-list")
    assert NoSendDay.objects.get(holiday="spring_festival").greetings_too is False

    # on the festival: its greeting goes out, a campaign's promotion waits for the break's end
    player = Player.objects.create(account_id="p-1", nickname="春节玩家")
    greeting = message_queue(
        player=player, channel="in_game", body="新年快乐", source="greeting:1:20310123", send_at=CHUNJIE
    )
    promo = message_queue(player=player, channel="in_game", body="年货节", source="campaign:9", send_at=CHUNJIE)
    messages_deliver_due(now=CHUNJIE)
    greeting.refresh_from_db(), promo.refresh_from_db()
    assert greeting.status == MessageStatus.SENT and promo.status == MessageStatus.POSTPONED
    assert Message.objects.filter(status=MessageStatus.SENT).count() == 1
