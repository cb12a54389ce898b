"""Why a message did not go, read in Chinese in Chromium: the game's mail gateway cannot be
reached, so delivery retries; the supervisor reads the reason with the attempt's local time in
the message list and page, and the gateway's own words beside it; the VIP manager reads the
same reason on the player's page and the message's, without the gateway's words. The clock is
pinned to Wednesday 2027-03-31 10:00 in Shanghai (02:00 UTC)."""

import socket
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from campaigns.models import Message, MessageReason, MessageStatus
from campaigns.services.messaging import message_queue, messages_deliver_due
from crm.tests.browser import login, shot
from crm.tests.test_browser_supervisor_day import PASSWORD, _staff, in_chinese
from players.models import Player

SH = ZoneInfo("Asia/Shanghai")
WEDNESDAY = datetime(2027, 3, 31, 10, tzinfo=SH)
REASON = "投递网关未发送：无法连接服务商：未发送任何内容（unreachable）。稍后将重试。 第 1 次尝试：2027-03-31 10:00。"


@pytest.fixture
def failed_once(base_data, settings):
    """A service mail to 李娜's player through a gateway nobody listens on: tried once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.CRM_MESSAGE_BACKENDS = {
        **settings.CRM_MESSAGE_BACKENDS,
        "in_game": {
            "BACKEND": "campaigns.channels.WebhookBackend",
            "OPTIONS": {"url": f"http://127.0.0.1:{port}/", "secret": "s", "timeout": 2},
        },
    }
    boss = _staff("zhangwei", "张", "伟", "Supervisor")
    lina = _staff("lina", "李", "娜", "VIP manager")
    player = Player.objects.create(account_id="mail-1", nickname="收件人", manager=lina)
    message = message_queue(
        player=player,
        channel="in_game",
        subject="补偿邮件",
        body="维护补偿已发放",
        source="test:mail",
        is_marketing=False,
    )
    assert messages_deliver_due(now=WEDNESDAY)["retrying"] == 1
    message.refresh_from_db()
    assert message.status == MessageStatus.QUEUED and message.status_reason == MessageReason.PROVIDER_RETRY
    return {"boss": boss, "lina": lina, "player": player, "message": message}


def test_why_a_message_did_not_go_reads_in_chinese_with_local_time(page, live_server, failed_once):
    base = live_server.url
    message = failed_once["message"]
    with time_machine.travel(WEDNESDAY, tick=True):
        in_chinese(page, base)
        login(page, base, "zhangwei", PASSWORD)

        # the supervisor's message list: the reason, in Chinese, at Shanghai time
        page.goto(f"{base}/admin/campaigns/message/")
        row = page.locator("#result_list tbody tr", has_text="收件人")
        # cut to the column's width, the whole reason in its tooltip
        assert row.locator("span.crm-trunc", has_text="投递网关未发送").get_attribute("title") == REASON
        assert "UTC" not in page.locator("#result_list").inner_text()
        shot(page, "message-reasons-01-supervisor-list")

        # the message's page: the reason, and the gateway's own words for the supervisor
        page.goto(f"{base}/admin/campaigns/message/{message.pk}/change/")
        assert REASON in page.locator(".field-status_reason_display").inner_text()
        answer = page.locator(".field-last_error")
        assert "服务商原始回复" in answer.inner_text() and "refused" in answer.inner_text().lower()
        assert "UTC" not in page.locator("#content").inner_text()
        answer.scroll_into_view_if_needed()
        shot(page, "message-reasons-02-supervisor-message")

        # the VIP manager: the same reason on the player's page and the message's, not the gateway's words
        page.context.clear_cookies()
        in_chinese(page, base)
        login(page, base, "lina", PASSWORD)
        page.goto(f"{base}/admin/players/player/{failed_once['player'].pk}/change/")
        page.wait_for_selector("#timeline")
        entry = page.locator("#timeline").inner_text()
        assert "补偿邮件" in entry and "排队中" in entry
        assert REASON in entry and "UTC" not in entry and "attempt" not in entry
        page.locator("#timeline", has_text="补偿邮件").scroll_into_view_if_needed()
        shot(page, "message-reasons-03-manager-timeline")
        page.goto(f"{base}/admin/campaigns/message/{message.pk}/change/")
        assert REASON in page.locator(".field-status_reason_display").inner_text()
        assert page.locator(".field-last_error").count() == 0
        assert "服务商原始回复" not in page.locator("#content").inner_text()
        page.locator(".field-status_reason_display").scroll_into_view_if_needed()
        shot(page, "message-reasons-04-manager-message")
    assert Message.objects.get().last_error  # the words are kept, only not shown to her
