"""A supervisor opens a player whose stored last login is in year 9999 (written before the
range rule): the list and the player page open, showing the stored value."""

from datetime import UTC, datetime

from django.contrib.auth import get_user_model

from crm.tests.browser import login, shot
from players.models import Player


def test_a_player_with_a_far_future_login_is_listed_and_opens(page, live_server, base_data):
    get_user_model().objects.create_superuser(username="boss", password="browser-pw-1", email="b@example.com")
    player = Player.objects.create(account_id="far-1", nickname="远方来客", server="s1")
    Player.objects.filter(pk=player.pk).update(last_login_at=datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC))

    login(page, live_server.url, "boss", "browser-pw-1")
    page.goto(f"{live_server.url}/admin/")
    with page.expect_navigation():
        page.select_option("#wp-language-select", "zh-hans")
    page.goto(f"{live_server.url}/admin/players/player/")
    row = page.locator("#result_list tr", has_text="远方来客")
    assert "9999-12-31" in row.inner_text()
    shot(page, "far-times-01-list")

    row.locator("a", has_text="far-1").first.click()
    page.wait_for_selector("#timeline")
    content = page.locator("#content").inner_text()
    assert "远方来客" in content and "9999" in content and "Server Error" not in content
    shot(page, "far-times-02-player-page")
