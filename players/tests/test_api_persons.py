"""POST /api/v1/players/<account_id>/person/ (players.api.persons): a game server links an
account to a VIP person and unlinks it, signed, exactly once per request id; hostile
bodies, server-bound clients, erased players; copies at once on PostgreSQL."""

from decimal import Decimal

import pytest

from players.models import PersonLinkRequest, PersonMerge, Player
from players.tests.test_api_concurrency import fire_at_once, post


def url(account_id):
    return f"/api/v1/players/{account_id}/person/"


def link(request_id, person="10086"):
    return {"request_id": request_id, "action": "link", "person_account_id": person}


def test_link_then_retry_then_unlink(api, make_player, pay, tiers):
    main = make_player(account_id="10086", server="s1")
    alt = make_player(account_id="20086", server="s2")
    pay(main, "600.00")
    pay(alt, "600.00")

    first = api.post(url("20086"), link("bind-1"))
    again = api.post(url("20086"), link("bind-1"))

    assert first.status_code == 200
    assert first.json() == {
        "status": "linked",
        "request_id": "bind-1",
        "account_id": "20086",
        "person_account_id": "10086",
        "accounts": ["10086", "20086"],
    }
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert PersonMerge.objects.count() == 1
    assert Player.objects.get(pk=alt.pk).person_account_id == main.pk
    # the API keeps working per account id: each account reads the person's tier
    assert api.get("/api/v1/players/20086/").json()["vip"]["tier"] == "V5"
    assert api.get("/api/v1/players/20086/").json()["total_spend"] == "600.00"
    assert api.post(url("20086"), link("bind-2")).json()["status"] == "unchanged"

    unlinked = api.post(url("20086"), {"request_id": "unbind-1", "action": "unlink"})

    assert unlinked.json() | {} == {
        "status": "unlinked",
        "request_id": "unbind-1",
        "account_id": "20086",
        "person_account_id": "20086",
        "accounts": ["20086"],
    }
    assert api.get("/api/v1/players/20086/").json()["vip"]["tier"] == "V4"


def test_same_request_id_with_another_body_is_a_conflict_and_changes_nothing(api, make_player):
    make_player(account_id="10086")
    make_player(account_id="20086")
    make_player(account_id="30086")
    api.post(url("20086"), link("bind-1"))

    answer = api.post(url("30086"), link("bind-1"))

    assert answer.status_code == 409
    assert answer.json()["error"] == "conflict" and answer.json()["request_id"] == "bind-1"
    assert Player.objects.get(account_id="30086").person_account_id is None


def test_state_conflicts_are_409_naming_the_field(api, make_player):
    make_player(account_id="10086")
    make_player(account_id="20086")
    make_player(account_id="30086")
    api.post(url("20086"), link("bind-1"))

    linked_elsewhere = api.post(url("20086"), link("bind-2", person="30086"))
    main_of_a_person = api.post(url("10086"), link("bind-3", person="30086"))
    unlink_main = api.post(url("10086"), {"request_id": "bind-4", "action": "unlink"})

    for answer in (linked_elsewhere, main_of_a_person, unlink_main):
        assert answer.status_code == 409, answer.json()
        assert "account_id" in answer.json()["fields"]
    assert not PersonLinkRequest.objects.filter(request_id__in=["bind-2", "bind-3", "bind-4"]).exists()


@pytest.mark.parametrize(
    "body, field",
    [
        ({"action": "link", "person_account_id": "10086"}, "request_id"),
        ({"request_id": "", "action": "link", "person_account_id": "10086"}, "request_id"),
        ({"request_id": "x" * 129, "action": "link", "person_account_id": "10086"}, "request_id"),
        ({"request_id": " pad ", "action": "link", "person_account_id": "10086"}, "request_id"),
        ({"request_id": "a\x00b", "action": "link", "person_account_id": "10086"}, "request_id"),
        ({"request_id": "r", "action": "merge", "person_account_id": "10086"}, "action"),
        ({"request_id": "r", "action": "link"}, "person_account_id"),
        ({"request_id": "r", "action": "unlink", "person_account_id": "10086"}, "person_account_id"),
        ({"request_id": "r", "action": "link", "person_account_id": ["10086"]}, "person_account_id"),
        ({"request_id": "r", "action": "link", "person_account_id": "y" * 65}, "person_account_id"),
        ({"request_id": ["r"], "action": "link", "person_account_id": "10086"}, "request_id"),
    ],
)
def test_hostile_bodies_are_400_naming_the_field(api, make_player, body, field):
    make_player(account_id="10086")
    make_player(account_id="20086")

    answer = api.post(url("20086"), body)

    assert answer.status_code == 400, answer.content
    assert field in answer.json()["fields"]
    assert not PersonMerge.objects.exists()


def test_not_json_unsigned_unknown_and_self(api, make_player):
    make_player(account_id="10086")
    assert api.post(url("10086"), raw=b"[1, 2]").status_code == 400
    assert api.post(url("10086"), raw=b"{not json").status_code == 400
    assert api.post(url("10086"), link("r1", person="10086"), sign=False).status_code == 401
    assert api.post(url("10086"), link("r1", person="10086"), secret="wrong").status_code == 401
    assert api.post(url("nobody"), link("r1")).status_code == 404
    missing = api.post(url("10086"), link("r1", person="nobody"))
    assert missing.status_code == 404 and "person_account_id" in missing.json()["fields"]
    assert api.post(url("10086"), link("r2", person="10086")).json()["status"] == "unchanged"  # itself
    assert not PersonMerge.objects.exists()


def test_a_client_bound_to_a_server_links_only_its_own_accounts(api, make_player):
    client = api.credentials.client
    client.server = "s1"
    client.save()
    make_player(account_id="10086", server="s1")
    make_player(account_id="20086", server="s2")
    make_player(account_id="30086", server="s1")

    assert api.post(url("20086"), link("r1")).status_code == 403
    assert api.post(url("10086"), link("r2", person="20086")).status_code == 403
    answer = api.post(url("30086"), link("r3"))
    assert answer.status_code == 200 and answer.json()["accounts"] == ["10086", "30086"]
    assert not Player.objects.filter(account_id="20086", person_account__isnull=False).exists()


def test_erased_players_are_410(api, make_player, erase):
    make_player(account_id="10086")
    erase(make_player(account_id="20086"))  # the game still names it by its own id

    assert api.post(url("10086"), link("r1", person="20086")).status_code == 410
    assert api.post(url("20086"), link("r2")).status_code == 410
    assert api.post(url("20086"), {"request_id": "r3", "action": "unlink"}).status_code == 410
    assert not PersonMerge.objects.exists()


def test_many_copies_of_one_link_at_once_link_once(requires_postgres, api_live_server, api_credentials):
    credentials = {"key": api_credentials.key, "signing_secret": api_credentials.signing_secret}
    Player.objects.create(account_id="10086", total_spend=Decimal("0"))
    Player.objects.create(account_id="20086")

    responses = fire_at_once(8, lambda: post(api_live_server.url, url("20086"), credentials, link("bind-at-once")))

    statuses = sorted(r.json()["status"] for r in responses)
    assert statuses == ["duplicate"] * 7 + ["linked"], [r.content for r in responses]
    assert PersonMerge.objects.count() == 1
    assert PersonLinkRequest.objects.count() == 1
