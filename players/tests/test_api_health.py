"""GET /api/v1/health/: how far the projection of accepted events is behind, for
operators (an API client's key; nothing about any player)."""

from datetime import timedelta

from django.utils import timezone

from players.models import ProjectionPending


def test_health_needs_a_key(api):
    response = api.client.get("/api/v1/health/")
    assert response.status_code == 401
    assert response.json()["error"]

    response = api.get("/api/v1/health/", key="not-a-key")
    assert response.status_code == 401


def test_health_says_nothing_waits_when_the_projection_is_current(api):
    response = api.get("/api/v1/health/")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "projection": {"pending_players": 0, "lag_seconds": 0.0}}


def test_health_shows_the_lag_and_says_lagging_over_the_threshold(api, make_player, settings):
    settings.CRM_PROJECTION_LAG_WARN_SECONDS = 30
    players = [make_player() for _ in range(2)]
    now = timezone.now()
    ProjectionPending.objects.create(player_id=players[0].pk, since=now - timedelta(seconds=10), ledger=True)
    ProjectionPending.objects.create(player_id=players[1].pk, since=now - timedelta(seconds=3))

    body = api.get("/api/v1/health/").json()
    assert body["status"] == "ok" and body["projection"]["pending_players"] == 2
    assert 10 <= body["projection"]["lag_seconds"] < 20

    ProjectionPending.objects.filter(player_id=players[0].pk).update(since=now - timedelta(minutes=5))
    body = api.get("/api/v1/health/").json()
    assert body["status"] == "lagging" and body["projection"]["lag_seconds"] >= 300


def test_a_client_bound_to_one_server_reads_the_same_figures_and_no_player(api, api_credentials, make_player):
    api_credentials.client.server = "s9"
    api_credentials.client.save()
    player = make_player(server="s1")
    ProjectionPending.objects.create(player_id=player.pk, since=timezone.now())

    body = api.get("/api/v1/health/", params={"player": player.account_id}).json()

    assert set(body) == {"status", "projection"} and body["projection"]["pending_players"] == 1
    assert player.account_id not in str(body)


def test_health_refuses_writes(api):
    response = api.post("/api/v1/health/", {})
    assert response.status_code == 405
    assert response.json()["error"]
