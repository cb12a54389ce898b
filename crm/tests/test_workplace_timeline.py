"""The player timeline: everything about a player, newest first, in bounded pages."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Message, MessageChannel
from crm.workplace.timeline import Cursor, player_timeline, sources
from players.services import contact_log_create
from vip.services import players_assign_manager, tier_pin


@pytest.fixture
def history(make_player, pay, supervisor, manager, make_task, tiers):
    """A player with one event of every kind, an hour apart (oldest first)."""
    player = make_player(nickname="历史")
    start = timezone.now() - timedelta(days=2)
    pay(player, "100", at=start, event_id="p1")
    pay(player, "20", kind="refund", at=start + timedelta(hours=1), event_id="r1")
    contact_log_create(
        player=player, staff=manager, channel="wechat", topic="Birthday wishes", contacted_at=start + timedelta(hours=2)
    )
    players_assign_manager(players=type(player).objects.filter(pk=player.pk), manager=manager, actor=supervisor)
    make_task(player, manager, title="Win back call")
    Message.objects.create(
        player=player, channel=MessageChannel.SMS, body="Happy birthday", scheduled_for=start + timedelta(hours=3)
    )
    tier_pin(
        player=player, tier=tiers["V6"], actor=supervisor, reason="Whale", expires_at=timezone.now() + timedelta(days=9)
    )
    return player


def test_the_timeline_shows_every_kind_of_event_newest_first(history, supervisor):
    page = player_timeline(player=history, user=supervisor)

    kinds = [e.source for e in page.entries]
    assert set(kinds) == {"payment", "tier", "assignment", "contact", "task", "message", "payer_status"}
    times = [e.at for e in page.entries]
    assert times == sorted(times, reverse=True)
    assert page.next_cursor is None and page.first
    refund = next(e for e in page.entries if e.kind == "Refund")
    assert refund.title == "−¥20.00" and refund.tone == "bad"


def test_pages_cover_everything_once_even_with_equal_timestamps(make_player, pay, manager):
    # given: 23 payments and 23 contacts, many sharing the very same instant
    player = make_player()
    base = timezone.now() - timedelta(days=1)
    for n in range(23):
        at = base + timedelta(minutes=n // 5)
        pay(player, "1", at=at, event_id=f"e{n}")
        contact_log_create(player=player, staff=manager, channel="phone", topic=f"c{n}", contacted_at=at)

    # when: walking the pages of 10
    seen, cursor, pages = [], None, 0
    while True:
        page = player_timeline(player=player, user=manager, before=cursor, limit=10)
        seen += [(e.source, e.pk) for e in page.entries]
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            break

    # then: 46 entries (and the first payment made the player V1 and an active payer), none twice
    expected = 46 + 2
    assert len(seen) == expected and len(set(seen)) == expected
    assert pages == 5


def test_a_page_costs_one_query_per_source_however_long_the_history(
    make_player, pay, manager, django_assert_max_num_queries
):
    player = make_player()
    for n in range(60):
        pay(player, "1", event_id=f"x{n}", at=timezone.now() - timedelta(hours=n))
    manager.has_perm("players.view_payment")  # permissions are loaded once per request
    with django_assert_max_num_queries(len(sources())):
        page = player_timeline(player=player, user=manager, limit=20)
    assert len(page.entries) == 20 and page.next_cursor


def test_staff_see_only_the_kinds_they_may_view(history, operations):
    page = player_timeline(player=history, user=operations)
    assert {e.source for e in page.entries} == {"payment", "tier"}


def test_a_malformed_cursor_shows_the_first_page(history, supervisor):
    for junk in ("", "nonsense", "2026-01-01~payment~x", "2026-01-01T00:00:00~payment~1"):
        assert Cursor.decode(junk) is None
        assert player_timeline(player=history, user=supervisor, before=junk).first


def test_the_player_page_shows_the_timeline_and_quick_actions(history, manager):
    history.manager = manager
    history.save()
    client = Client()
    client.force_login(manager)

    response = client.get(reverse("admin:players_player_change", args=[history.pk]))

    text = response.content.decode()
    assert response.status_code == 200
    assert 'id="timeline"' in text and "Win back call" in text and "Birthday wishes" in text
    for action in ("contact", "task", "pin"):
        assert f'data-action="{action}"' in text
    assert 'id="log-contact"' in text


def test_the_player_page_pages_through_the_timeline(make_player, pay, manager):
    player = make_player(manager=manager)
    for n in range(25):
        pay(player, "1", event_id=f"old{n}", at=timezone.now() - timedelta(days=10, hours=n))
    client = Client()
    client.force_login(manager)
    url = reverse("admin:players_player_change", args=[player.pk])

    first = client.get(url)
    older = first.content.decode().split("?timeline=")[1].split("#")[0]
    second = client.get(url, {"timeline": __import__("urllib.parse").parse.unquote(older)})

    assert first.content.decode().count('class="wp-entry') == 20
    # 5 payments, the V1 tier change and the payer status change (non-payer → active)
    assert second.content.decode().count('class="wp-entry') == 7
    assert "old24" in second.content.decode()


def test_case_events_are_on_the_timeline(make_player, make_case, manager):
    from players.services.cases import case_start

    player = make_player(manager=manager)
    case = make_case(player, actor=manager, subject="Lost items", opened_at=timezone.now() - timedelta(hours=2))
    case_start(case=case, actor=manager, note="Checking the logs")

    page = player_timeline(player=player, user=manager)

    cases = [e for e in page.entries if e.source == "case"]
    assert len(cases) == 2
    assert all(e.title.startswith(f"#{case.pk} Lost items") for e in cases)
    assert "In progress" in cases[0].detail and "Checking the logs" in cases[0].detail


def test_payer_status_changes_are_on_the_timeline_with_their_reasons(make_player, pay, manager):
    from players.services.payer_status import churn_scan

    player = make_player(manager=manager)
    pay(player, "648", at=timezone.now() - timedelta(days=2))
    churn_scan(now=timezone.now() + timedelta(days=38))  # 40 days without a purchase

    statuses = [e for e in player_timeline(player=player, user=manager).entries if e.source == "payer_status"]

    assert [(e.title, e.actor, e.tone) for e in statuses] == [
        ("Active → Churned", "System · Nightly scan", "bad"),
        ("Non-payer → Active", "System · Payment", "good"),
    ]
    assert "last purchase 40 days before" in statuses[0].detail


def test_every_entry_says_who_did_it(history, supervisor, manager):
    from campaigns.models import OutreachTask

    OutreachTask.objects.filter(player=history).update(created_by=supervisor)
    entries = player_timeline(player=history, user=supervisor).entries

    assert all(e.actor for e in entries), [(e.source, e.title) for e in entries if not e.actor]
    by_source = {e.source: e.actor for e in entries}
    assert by_source["payment"] == "Manual entry"  # no staff user recorded it: its source
    assert by_source["contact"] == manager.username
    assert by_source["assignment"] == supervisor.username
    assert by_source["task"] == supervisor.username  # who created it; the assignee is in the detail
    task = next(e for e in entries if e.source == "task")
    assert f"for {manager.username}" in task.detail
    assert by_source["message"] == "System"
