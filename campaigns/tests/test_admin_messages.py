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
