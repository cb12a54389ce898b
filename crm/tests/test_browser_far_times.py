"""A supervisor opens a player whose stored last login is in year 9999 (written before the
range rule): the page opens, and the form refuses a time out of range, in Chinese, naming
the field, until it is corrected."""

from datetime import UTC, datetime

from django.contrib.auth import get_user_model

from crm.tests.browser import login, shot
from players.models import Player


def test_a_player_with_a_far_future_login_opens_and_the_form_asks_for_a_sane_time(page, live_server, base_data):
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
    page.wait_for_selector("#id_last_login_at_0")
    assert page.input_value("#id_last_login_at_0") == "9999/12/31"
    page.fill("#id_nickname", "远方来客二")
    page.click("input[name=_save]")

    error = page.locator(".field-last_login_at .errorlist").inner_text()
    assert "24 小时" in error and "hours" not in error
    shot(page, "far-times-02-refused")
    page.fill("#id_last_login_at_0", "1999/12/31")
    page.click("input[name=_save]")
    assert page.locator(".field-last_login_at .errorlist").inner_text().strip() == "不能早于 2000-01-01。"

    page.fill("#id_last_login_at_0", "2026/11/20")
    page.fill("#id_last_login_at_1", "10:00:00")
    page.click("input[name=_save]")
    page.wait_for_selector("ul.messagelist")
    player.refresh_from_db()
    assert (player.nickname, player.last_login_at) == ("远方来客二", datetime(2026, 11, 20, 2, 0, tzinfo=UTC))
    shot(page, "far-times-03-saved")
