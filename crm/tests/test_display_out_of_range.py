"""A stored time outside the range a door accepts today (an old row, a database edit) must
not take a page down: every screen and API answer that shows it still works."""

from datetime import UTC, datetime

import pytest
from django.test import Client
from django.urls import reverse

from players.models import Payment, Player

FAR_FUTURE = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
FAR_PAST = datetime(1, 1, 1, tzinfo=UTC)


@pytest.fixture
def stored_out_of_range(make_player, pay, manager, make_case):
    """Players whose stored times overflow in local time (+08:00 or -xx:00), inserted directly."""
    future = make_player(account_id="far-future", server="s1", manager=manager)
    pay(future, "648.00", event_id="far-buy")
    Player.objects.filter(pk=future.pk).update(
        registered_at=FAR_FUTURE, last_login_at=FAR_FUTURE, last_paid_at=FAR_FUTURE, tier_since=FAR_FUTURE
    )
    Payment.objects.filter(event_id="far-buy").update(occurred_at=FAR_FUTURE)
    case = make_case(future)
    case.events.update(at=FAR_FUTURE)
    type(case).objects.filter(pk=case.pk).update(opened_at=FAR_FUTURE)
    future.case = case
    past = make_player(account_id="far-past", server="s1", manager=manager)
    Player.objects.filter(pk=past.pk).update(registered_at=FAR_PAST, last_login_at=FAR_PAST)
    return future, past


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_admin_pages_showing_far_times_still_answer(stored_out_of_range, superuser, manager, settings, language):
    future, past = stored_out_of_range
    for user in (superuser, manager):
        client = Client(headers={"accept-language": language})
        client.force_login(user)
        for url in (
            reverse("admin:players_player_changelist"),
            reverse("admin:players_player_change", args=[future.pk]),
            reverse("admin:players_player_change", args=[past.pk]),
            reverse("admin:players_player_history", args=[future.pk]),
            reverse("admin:players_payment_changelist"),
            reverse("admin:players_case_changelist"),
            reverse("admin:players_case_change", args=[future.case.pk]),
            reverse("admin:index"),
        ):
            response = client.get(url)
            assert response.status_code == 200, (user, url)


def test_api_reads_and_writes_of_a_player_with_far_times_still_answer(stored_out_of_range, api):
    assert api.get("/api/v1/players/").status_code == 200
    shown = {}
    for account_id in ("far-future", "far-past"):
        got = api.get(f"/api/v1/players/{account_id}/")
        assert got.status_code == 200
        shown[account_id] = got.json()["last_login_at"]
        assert api.put(f"/api/v1/players/{account_id}/", {"nickname": "改名"}).status_code == 200
    # shown as stored, in UTC, where the CRM's zone cannot write the time
    assert shown == {"far-future": "9999-12-31T23:59:59Z", "far-past": "0001-01-01T00:00:00Z"}


def test_the_team_figures_are_all_computed_beside_a_payment_dated_in_year_9999(
    stored_out_of_range, make_player, pay, fresh_dashboard_cache
):
    """On PostgreSQL the revenue trend once truncated such a payment to '10000-01-01',
    which the driver cannot read: the figure failed and the supervisors' revenue chart
    vanished from the dashboard. Every figure is computed, and the far payment (outside
    the chart's twelve months) is not counted in it."""
    from crm.workplace.aggregates import _registered, dashboard_refresh

    pay(make_player(account_id="this-month", server="s1"), "30.00")
    snapshot = dashboard_refresh()
    assert set(snapshot["data"]) == set(_registered())
    trend = snapshot["data"]["revenue_trend"]
    assert len(trend) == 12 and sum(amount for _start, amount in trend) == 30
