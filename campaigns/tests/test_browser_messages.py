"""What a supervisor reads about automatic messages, in a real browser: why a message was
not sent, in their language, in the list and on the message's page."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from campaigns.models import Message
from campaigns.services.messaging import message_queue, messages_deliver_due
from crm.tests.browser import login, shot
from players.models import Player
from players.services.consents import consent_record


@pytest.fixture
def failed_and_cancelled(base_data, settings):
    """In-game mail with no delivery backend (a failed message), and a player who refused SMS."""
    settings.CRM_MESSAGE_BACKENDS = {k: v for k, v in settings.CRM_MESSAGE_BACKENDS.items() if k != "in_game"}
    settings.CRM_QUIET_HOURS = ("00:00", "00:00")  # delivered now, whatever the hour in Shanghai
    user = get_user_model().objects.create_user(
        username="liu", password="browser-pw-3", first_name="洋", last_name="刘", is_staff=True
    )
    user.groups.add(Group.objects.get(name="Supervisor"))
    failed = message_queue(
        player=Player.objects.create(account_id="mail-1"), channel="in_game", body="生日快乐", source="t:1"
    )
    refused = Player.objects.create(account_id="optout-1")
    consent_record(player=refused, channel="sms", purpose="marketing", status="refused", source="reply", evidence="TD")
    message_queue(player=refused, channel="sms", body="活动", source="t:2")
    messages_deliver_due()
    return failed


def test_a_supervisor_reads_why_messages_were_not_sent_in_chinese(page, live_server, failed_and_cancelled):
    base = live_server.url
    page.context.add_cookies([{"name": "django_language", "value": "zh-hans", "url": base}])
    login(page, base, "liu", "browser-pw-3")

    page.goto(f"{base}/admin/campaigns/message/")
    page.wait_for_selector("#result_list")
    listing = page.locator("#result_list").inner_text()
    shot(page, "messages-reasons-chinese")
    assert (
        "渠道 游戏内 未配置发送后端" in listing
        and "in_game" not in listing
        and "该玩家拒绝通过此渠道接收此类信息。" in listing
    )
    assert "channel_not_configured" not in listing and "consent_refused" not in listing

    page.goto(f"{base}/admin/campaigns/message/{failed_and_cancelled.pk}/change/")
    page.wait_for_selector("#content")
    detail = page.locator("#content").inner_text()
    shot(page, "message-failed-reason-chinese")
    assert "未配置发送后端" in detail and "channel_not_configured" not in detail
    assert Message.objects.get(pk=failed_and_cancelled.pk).status == "failed"
