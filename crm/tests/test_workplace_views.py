"""Quick actions from the player page."""

from datetime import timedelta

from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from players.models import ContactLog


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


def test_logging_a_contact_from_the_player_page(manager, make_player):
    player = make_player(manager=manager)
    tomorrow = timezone.localdate() + timedelta(days=1)

    response = client_for(manager).post(
        reverse("workplace:log_contact", args=[player.pk]),
        {
            "channel": "wechat",
            "direction": "outbound",
            "outcome": "reached",
            "topic": "VIP gift",
            "summary": "Liked it",
            "next_follow_up": tomorrow.isoformat(),
        },
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("admin:players_player_change", args=[player.pk])
    contact = ContactLog.objects.get(player=player)
    assert (contact.channel, contact.staff, contact.topic, contact.next_follow_up) == (
        "wechat",
        manager,
        "VIP gift",
        tomorrow,
    )


def test_an_empty_contact_is_refused_with_a_message(manager, make_player):
    player = make_player(manager=manager)
    client = client_for(manager)

    response = client.post(
        reverse("workplace:log_contact", args=[player.pk]),
        {"channel": "phone", "direction": "outbound", "next_follow_up": "2001-01-01"},
    )

    assert response.status_code == 302 and response["Location"].endswith("#quick-actions")
    texts = [str(m) for m in get_messages(response.wsgi_request)]
    assert any("topic, a summary or an outcome" in t for t in texts)
    assert any(t.startswith("next follow-up:") for t in texts)
    assert not ContactLog.objects.exists()


def test_a_manager_cannot_log_contacts_for_anothers_player(manager, other_manager, make_player):
    player = make_player(manager=other_manager)
    response = client_for(manager).post(
        reverse("workplace:log_contact", args=[player.pk]), {"channel": "phone", "direction": "outbound", "topic": "x"}
    )
    assert response.status_code == 404
    assert not ContactLog.objects.exists()


def test_operations_may_not_log_contacts(operations, make_player):
    player = make_player()
    response = client_for(operations).post(reverse("workplace:log_contact", args=[player.pk]), {"topic": "x"})
    assert response.status_code == 403


def test_pinning_a_tier_from_the_player_page(supervisor, make_player, tiers):
    player = make_player()
    client = client_for(supervisor)
    url = reverse("workplace:pin_tier", args=[player.pk])
    assert client.get(url).status_code == 200

    bad = client.post(url, {"tier": tiers["V7"].pk, "expires_at": "2001-01-01T00:00", "reason": " "})
    assert bad.status_code == 200 and bad.context["form"].errors
    until = (timezone.localtime() + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M")
    good = client.post(url, {"tier": tiers["V7"].pk, "expires_at": until, "reason": "Guild leader"})

    assert good.status_code == 302
    player.refresh_from_db()
    assert player.tier == tiers["V7"] and player.tier_pinned_until
