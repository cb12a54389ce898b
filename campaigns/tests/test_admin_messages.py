from django.urls import reverse

from campaigns.models import Message, MessageStatus
from campaigns.services.messaging import message_queue


def test_message_changelist_is_scoped_and_pins_its_queries(
    client, manager, other_manager, make_player, django_assert_num_queries
):
    # given messages for my players and for someone else's
    for _ in range(3):
        message_queue(player=make_player(manager=manager), channel="sms", body="x", source="c:1")
    message_queue(player=make_player(manager=other_manager), channel="sms", body="x", source="c:1")
    client.force_login(manager)
    url = reverse("admin:campaigns_message_changelist")
    client.get(url)  # warm the session and permission caches
    # when
    with django_assert_num_queries(6):
        response = client.get(url)
    # then
    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == 3


def test_supervisor_retries_failed_messages(client, supervisor, make_player):
    message = message_queue(player=make_player(), channel="sms", body="x", source="c:1")
    Message.objects.filter(pk=message.pk).update(status=MessageStatus.FAILED, attempts=5, last_error="boom")
    client.force_login(supervisor)
    response = client.post(
        reverse("admin:campaigns_message_changelist"),
        {"action": "retry_now", "_selected_action": [message.pk]},
        follow=True,
    )
    assert response.status_code == 200
    message.refresh_from_db()
    assert message.status == MessageStatus.QUEUED and message.attempts == 0


def test_manager_cannot_retry(client, manager, make_player):
    message = message_queue(player=make_player(manager=manager), channel="sms", body="x", source="c:1")
    Message.objects.filter(pk=message.pk).update(status=MessageStatus.FAILED)
    client.force_login(manager)
    client.post(
        reverse("admin:campaigns_message_changelist"), {"action": "retry_now", "_selected_action": [message.pk]}
    )
    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED


def test_a_failed_message_reads_why_in_chinese_and_only_a_supervisor_sees_the_providers_words(
    client, manager, supervisor, make_player
):
    # given a message a gateway refused (its reason with the attempt's UTC time, its own words)
    message = message_queue(player=make_player(manager=manager), channel="sms", body="x", source="c:1")
    Message.objects.filter(pk=message.pk).update(
        status=MessageStatus.FAILED,
        attempts=1,
        last_error="HTTP 400 Bad Request",
        status_reason="provider_refused",
        status_params={"provider": "webhook", "code": "HTTP 400", "attempt": 1, "at": "2026-12-06T14:03:00+00:00"},
    )
    url = reverse("admin:campaigns_message_change", args=[message.pk])
    reason = "投递网关拒绝发送：未说明原因（HTTP 400）。未发送。 第 1 次尝试：2026-12-06 22:03。"
    # when the supervisor opens it in Chinese: the reason in local time, and the gateway's own words
    client.force_login(supervisor)
    text = client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert reason in text and "服务商原始回复" in text and "HTTP 400 Bad Request" in text
    assert "UTC" not in text
    # when the VIP manager opens it: the same reason, not the provider's words
    client.force_login(manager)
    text = client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert reason in text and "服务商原始回复" not in text and "Bad Request" not in text
