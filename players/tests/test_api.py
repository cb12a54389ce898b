"""The game API's player, payment and login endpoints, through the whole stack."""

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from players.models import PayerStatus, Payment, Player
from vip.models import TierChange, TierChangeReason

PAYMENTS = "/api/v1/payments/"
BATCH = "/api/v1/payments/batch/"
# An hour before the suite started, in the game's offset: recent enough that the churn
# rules see an active payer whatever day the suite runs, and the same in every event.
RECENTLY = (
    (timezone.now() - timedelta(hours=1)).astimezone(timezone.get_fixed_timezone(480)).isoformat(timespec="seconds")
)
LOGINS = "/api/v1/logins/batch/"


def event(event_id="ord-1", **fields):
    return {
        "event_id": event_id,
        "type": "purchase",
        "account_id": "10086",
        "server": "s1",
        "amount": "648.00",
        "currency": "CNY",
        "occurred_at": RECENTLY,
        **fields,
    }


def test_new_event_is_created_and_an_unknown_account_becomes_a_player(api, tiers):
    response = api.post(PAYMENTS, event())

    assert response.status_code == 201
    assert response.json() == {"status": "created", "event_id": "ord-1"}
    player = Player.objects.get(account_id="10086")
    assert (player.server, player.total_spend, player.tier) == ("s1", Decimal("648.00"), tiers["V4"])
    payment = Payment.objects.get()
    assert (payment.source, payment.source_ref) == ("api", str(api.credentials.client.pk))
    assert TierChange.objects.get(player=player).reason == TierChangeReason.PAYMENT


def test_same_event_again_is_a_duplicate_and_changes_nothing(api):
    api.post(PAYMENTS, event())
    response = api.post(PAYMENTS, event())

    assert response.status_code == 200
    assert response.json() == {"status": "duplicate", "event_id": "ord-1"}
    assert Player.objects.get(account_id="10086").total_spend == Decimal("648.00")


def test_same_id_with_other_content_is_a_409_logged_with_both_digests(api, caplog):
    api.post(PAYMENTS, event())
    response = api.post(PAYMENTS, event(amount="6.00"))

    assert response.status_code == 409
    assert response.json()["error"] == "conflict"
    assert Player.objects.get(account_id="10086").total_spend == Decimal("648.00")
    stored = Payment.objects.get().fingerprint
    warning = next(r for r in caplog.records if "conflict" in r.getMessage())
    assert warning.levelname == "WARNING" and stored in warning.getMessage()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"amount": "0"}, "amount"),
        ({"amount": "-1"}, "amount"),
        ({"amount": "1.005"}, "amount"),
        ({"amount": "1000000.01"}, "amount"),
        ({"amount": "lots"}, "amount"),
        ({"currency": "USD"}, "currency"),
        ({"type": "gift"}, "type"),
        ({"occurred_at": "2026-11-22T10:00:00"}, "occurred_at"),
        ({"occurred_at": "yesterday"}, "occurred_at"),
        ({"event_id": ""}, "event_id"),
        ({"event_id": "x" * 129}, "event_id"),
        ({"account_id": None}, "account_id"),
        ({"server": 5.5}, "server"),
        ({"occurred_at": "9999-12-31T23:59:59+00:00"}, "occurred_at"),
        ({"occurred_at": "9999-12-31T23:59:59-12:00"}, "occurred_at"),
        ({"occurred_at": "1999-12-31T23:59:59+00:00"}, "occurred_at"),
        ({"occurred_at": "0001-01-01T00:00:00+00:00"}, "occurred_at"),
    ],
)
def test_invalid_event_is_a_400_naming_the_field_and_nothing_is_stored(api, change, field):
    response = api.post(PAYMENTS, event(**change))

    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid" and field in body["fields"]
    assert not Payment.objects.exists()


def test_event_more_than_a_day_ahead_is_refused(api):
    ahead = (timezone.now() + timedelta(hours=25)).isoformat()
    assert api.post(PAYMENTS, event(occurred_at=ahead)).json()["fields"]["occurred_at"]


def test_configured_foreign_currency_is_converted(api, settings):
    settings.CRM_CURRENCY_RATES = {"USD": "7.10"}
    assert api.post(PAYMENTS, event(currency="usd", amount="10")).status_code == 201
    assert Player.objects.get(account_id="10086").total_spend == Decimal("71.00")


def test_refund_lowers_spend_and_tier(api, tiers):
    api.post(PAYMENTS, event("big", amount="500"))
    response = api.post(PAYMENTS, event("back", type="refund", amount="450", refund_of="big"))

    assert response.status_code == 201
    player = Player.objects.get(account_id="10086")
    assert (player.total_spend, player.tier) == (Decimal("50.00"), tiers["V2"])
    assert TierChange.objects.filter(player=player).first().reason == TierChangeReason.REFUND


def test_refund_beyond_the_purchase_is_a_400_on_amount(api):
    api.post(PAYMENTS, event("p", amount="10"))
    response = api.post(PAYMENTS, event("r", type="refund", amount="11", refund_of="p"))

    assert response.status_code == 400
    assert "amount" in response.json()["fields"]
    assert Player.objects.get(account_id="10086").total_spend == Decimal("10.00")


def test_client_bound_to_a_server_may_not_write_for_another(api):
    client = api.credentials.client
    client.server = "s1"
    client.save()

    assert api.post(PAYMENTS, event(server="s2")).status_code == 403
    assert api.post(PAYMENTS, event("x", server="")).status_code == 201
    assert Player.objects.get(account_id="10086").server == "s1"
    assert not Payment.objects.filter(server="s2").exists()


def test_batches_refuse_only_the_events_of_another_server_for_a_bound_client(api):
    # given a client bound to server s1
    client = api.credentials.client
    client.server = "s1"
    client.save()
    at = timezone.now().replace(microsecond=0).isoformat()

    # when its batches mix events for s1, for no server, and for s2
    payments = api.post(
        BATCH, {"events": [event("a", server="s2"), event("b"), event("c", account_id="p9", server="")]}
    ).json()
    logins = api.post(
        LOGINS,
        {"events": [{"account_id": "l1", "occurred_at": at}, {"account_id": "l2", "server": "s2", "occurred_at": at}]},
    ).json()

    # then only the s2 events are refused, each at its own position, and the others are stored for s1
    assert payments["created"] == 2
    assert [(e["index"], e["event_id"], e["error"]) for e in payments["errors"]] == [(0, "a", "forbidden")]
    assert "server" in payments["errors"][0]["fields"]
    assert logins["created"] == 1
    assert [(e["index"], e["error"]) for e in logins["errors"]] == [(1, "forbidden")]
    assert not Payment.objects.filter(server="s2").exists()
    assert Player.objects.get(account_id="p9").server == "s1"
    assert not Player.objects.filter(account_id="l2").exists()


def test_bound_client_gets_403_for_another_servers_player_whatever_the_request_says(api, make_player, pay):
    # given a client bound to s1, and a paying player of s2
    client = api.credentials.client
    client.server = "s1"
    client.save()
    theirs = make_player(account_id="p2", server="s2", nickname="对方玩家", level=30)
    pay(theirs, "648.00", event_id="buy-p2")
    make_player(account_id="p1", server="s1")
    now = timezone.now().replace(microsecond=0).isoformat()

    # when it writes and reads that player by every door, saying s1 or no server
    single = [
        api.post(PAYMENTS, event("s1-said", account_id="p2", server="s1")).status_code,
        api.post(PAYMENTS, event("none-said", account_id="p2", server="")).status_code,
        api.post(PAYMENTS, {**event("refund", account_id="p2", amount="600"), "type": "refund"}).status_code,
        api.put("/api/v1/players/p2/", {"server": "s1", "nickname": "改名", "level": 1}).status_code,
        api.put("/api/v1/players/p2/", {"nickname": "改名"}).status_code,
        api.get("/api/v1/players/p2/").status_code,
    ]
    payments = api.post(
        BATCH, {"events": [event("b0", account_id="p1"), event("b1", account_id="p2"), event("b2", account_id=" p2 ")]}
    ).json()
    logins = api.post(
        LOGINS, {"events": [{"account_id": "p2", "occurred_at": now}, {"account_id": "p1", "occurred_at": now}]}
    ).json()
    listed = [p["account_id"] for p in api.get("/api/v1/players/").json()["results"]]

    # then every one is refused (the batches at the s2 player's positions) and the player is as it was
    assert single == [403] * 6
    assert payments["created"] == 1
    assert [(e["index"], e["error"]) for e in payments["errors"]] == [(1, "forbidden"), (2, "forbidden")]
    assert logins["created"] == 1 and [(e["index"], e["error"]) for e in logins["errors"]] == [(0, "forbidden")]
    assert listed == ["p1"]
    theirs.refresh_from_db()
    assert (theirs.server, theirs.nickname, theirs.level, theirs.total_spend, theirs.last_login_at) == (
        "s2",
        "对方玩家",
        30,
        Decimal("648.00"),
        None,
    )
    assert Payment.objects.filter(player=theirs).count() == 1


def test_bound_client_creates_and_updates_its_own_servers_players(api, make_player):
    client = api.credentials.client
    client.server = "s1"
    client.save()
    make_player(account_id="p1", server="s1")

    assert api.put("/api/v1/players/new/", {"nickname": "新人"}).status_code == 201
    assert api.put("/api/v1/players/p1/", {"nickname": "老玩家", "server": ""}).status_code == 200
    assert api.put("/api/v1/players/p1/", {"server": "s2"}).status_code == 403
    assert api.get("/api/v1/players/p1/").status_code == 200
    assert dict(Player.objects.values_list("account_id", "server")) == {"new": "s1", "p1": "s1"}


@pytest.mark.parametrize("server", ["", "s1"])
def test_lone_surrogates_and_nul_in_event_ids_are_refused_not_echoed(api, make_player, server):
    # given a client bound to s1 or to no server, and a player of s2
    client = api.credentials.client
    client.server = server
    client.save()
    make_player(account_id="p2", server="s2")
    bad_ids = ["\ud800", "a\udfffb", "nul\x00", "x" * 500]

    # when a batch carries those ids, for a player it may not write and for one it may
    response = api.post(
        BATCH,
        {
            "events": [event(i, account_id="p2", server="s2") for i in bad_ids]
            + [event(i, amount="-1") for i in bad_ids]
        },
    )

    # then it is an ordinary 200 that judges each event and echoes none of those ids
    assert response.status_code == 200
    body = response.json()
    assert body["created"] == 0 and len(body["errors"]) == 2 * len(bad_ids)
    assert all(e["event_id"] is None for e in body["errors"])
    assert not Payment.objects.exists()


def test_batch_judges_each_event_alone(api, tiers):
    api.post(PAYMENTS, event("old", account_id="a1", amount="6"))
    events = [
        event("n1", account_id="a1", amount="30"),  # created
        event("bad", account_id="a1", amount="0"),  # invalid
        event("old", account_id="a1", amount="6"),  # duplicate of a stored event
        event("old", account_id="a1", amount="7"),  # conflict with a stored event
        event("n2", account_id="new-player", amount="100"),  # created, unknown account
        event("n1", account_id="a1", amount="30"),  # duplicate within the batch
        event("n2", account_id="new-player", amount="1"),  # conflict within the batch
        "not an object",  # invalid
        event("r1", account_id="a1", type="refund", amount="10", refund_of="n1"),  # created
        event("r2", account_id="a1", type="refund", amount="999"),  # invalid: exceeds spend
    ]

    response = api.post(BATCH, {"events": events})

    assert response.status_code == 200
    body = response.json()
    assert (body["created"], body["duplicates"], body["conflicts"]) == (3, 2, 2)
    assert {(e["index"], e["error"]) for e in body["errors"]} == {
        (1, "invalid"),
        (3, "conflict"),
        (6, "conflict"),
        (7, "invalid"),
        (9, "invalid"),
    }
    assert next(e for e in body["errors"] if e["index"] == 1)["fields"] == {"amount": ["Must be greater than 0."]}
    a1 = Player.objects.get(account_id="a1")
    assert (a1.total_spend, a1.purchase_count, a1.tier) == (Decimal("26.00"), 2, tiers["V1"])
    new = Player.objects.get(account_id="new-player")
    assert (new.total_spend, new.tier, new.payer_status) == (Decimal("100.00"), tiers["V3"], PayerStatus.ACTIVE)


def test_batch_moves_tiers_once_per_player_with_history(api, tiers):
    events = [event(f"e{i}", account_id="whale", amount="1000") for i in range(5)]
    api.post(BATCH, {"events": events})

    player = Player.objects.get(account_id="whale")
    assert (player.total_spend, player.purchase_count, player.tier) == (Decimal("5000.00"), 5, tiers["V7"])
    assert [(c.from_tier, c.to_tier) for c in TierChange.objects.filter(player=player)] == [(None, tiers["V7"])]


def test_batch_over_the_limit_or_without_a_list_is_a_400(api):
    assert api.post(BATCH, {"events": [event(f"e{i}") for i in range(1001)]}).status_code == 400
    assert api.post(BATCH, {"events": "x"}).json()["fields"]["events"]
    assert api.post(BATCH, [1, 2]).status_code == 400
    assert not Payment.objects.exists()


def test_logins_move_last_login_forward_only_and_create_unknown_players(api, make_player):
    now = timezone.now().replace(microsecond=0)
    make_player(account_id="p1", last_login_at=now)
    events = [
        {"account_id": "p1", "occurred_at": (now - timedelta(days=1)).isoformat()},
        {"account_id": "p2", "server": "s9", "occurred_at": (now - timedelta(hours=2)).isoformat()},
        {"account_id": "p2", "occurred_at": (now - timedelta(hours=1)).isoformat()},
        {"account_id": "p3", "occurred_at": "not a time"},
    ]

    response = api.post(LOGINS, {"events": events})

    assert response.status_code == 200
    body = response.json()
    assert body["created"] == 3 and [e["index"] for e in body["errors"]] == [3]
    assert "duplicates" not in body
    assert Player.objects.get(account_id="p1").last_login_at == now
    p2 = Player.objects.get(account_id="p2")
    assert (p2.last_login_at, p2.server) == (now - timedelta(hours=1), "s9")
    assert not Player.objects.filter(account_id="p3").exists()


def test_put_creates_then_updates_never_touching_staff_fields(api, manager):
    body = {"nickname": "龙傲天", "server": "s1", "level": 50, "channel": "taptap", "phone": "138 1234 5678"}
    created = api.put("/api/v1/players/42/", body)
    player = Player.objects.get(account_id="42")
    player.manager, player.notes = manager, "calls after 8pm"
    player.save()

    updated = api.put("/api/v1/players/42/", {"nickname": "新名字", "last_login_at": "2026-11-20T10:00:00+08:00"})

    assert (created.status_code, updated.status_code) == (201, 200)
    assert updated.json()["nickname"] == "新名字"
    player.refresh_from_db()
    assert (player.manager, player.notes, player.level, str(player.phone)) == (
        manager,
        "calls after 8pm",
        50,
        "+8613812345678",
    )


def test_put_refuses_staff_fields_silently_ignored_and_bad_values(api):
    response = api.put("/api/v1/players/42/", {"level": -1, "birthday": "2999-01-01", "phone": "12"})
    assert response.status_code == 400
    assert {"level"} <= set(response.json()["fields"])
    response = api.put("/api/v1/players/42/", {"birthday": "2999-01-01", "phone": "12"})
    assert response.status_code == 400
    assert {"birthday", "phone"} <= set(response.json()["fields"])
    assert not Player.objects.filter(account_id="42").exists()


@pytest.mark.parametrize("field", ["registered_at", "last_login_at"])
@pytest.mark.parametrize("value", ["9999-12-31T23:59:59+00:00", "1999-12-31T23:59:59+00:00", "0001-01-01T00:00:00Z"])
def test_put_refuses_profile_times_out_of_range_and_the_player_still_reads(api, make_player, field, value):
    make_player(account_id="42", server="s1")

    response = api.put("/api/v1/players/42/", {field: value})

    assert response.status_code == 400
    assert response.json()["error"] == "invalid" and field in response.json()["fields"]
    assert getattr(Player.objects.get(account_id="42"), field) is None
    assert api.get("/api/v1/players/42/").status_code == 200
    assert api.get("/api/v1/players/").status_code == 200


def test_logins_out_of_range_are_refused_by_index(api, make_player):
    make_player(account_id="42", server="s1")
    events = [
        {"account_id": "42", "server": "s1", "occurred_at": "9999-12-31T23:59:59+00:00"},
        {"account_id": "42", "server": "s1", "occurred_at": "1990-01-01T00:00:00+00:00"},
    ]

    body = api.post(LOGINS, {"events": events}).json()

    assert body["created"] == 0
    assert [(e["index"], list(e["fields"])) for e in body["errors"]] == [(0, ["occurred_at"]), (1, ["occurred_at"])]
    assert Player.objects.get(account_id="42").last_login_at is None


def test_get_player_answers_the_contract_shape(api, make_player, pay, tiers):
    player = make_player(account_id="10086", nickname="玩家", server="s1")
    pay(player, "1296.00")

    response = api.get("/api/v1/players/10086/")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {
        "account_id",
        "nickname",
        "server",
        "vip",
        "total_spend",
        "last_paid_at",
        "last_login_at",
        "payer_status",
    }
    assert body["vip"]["tier"] == "V5" and body["vip"]["level"] == 5
    assert body["total_spend"] == "1296.00" and body["payer_status"] == "active"
    assert body["vip"]["since"].endswith("+08:00")


def test_unknown_player_is_a_404(api):
    response = api.get("/api/v1/players/nobody/")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_list_filters_paginates_and_pins_its_queries(api, make_player, tiers, django_assert_num_queries, settings):
    # The process re-reads its API clients every CRM_API_CLIENT_CHECK_SECONDS (0.5 s): on a
    # busy machine that passed between the warming call and the pinned one (2 queries, not 1).
    settings.CRM_API_CLIENT_CHECK_SECONDS = 3600
    for i in range(5):
        make_player(account_id=f"v{i}", server="s1", tier=tiers["V3"], payer_status=PayerStatus.AT_RISK)
    make_player(account_id="low", server="s1", tier=tiers["V1"], payer_status=PayerStatus.AT_RISK)
    make_player(account_id="other", server="s2", tier=tiers["V5"], payer_status=PayerStatus.AT_RISK)
    api.get("/api/v1/vip/tiers/")  # warm the client cache: the pinned count is the list's own

    with django_assert_num_queries(1):
        response = api.get(
            "/api/v1/players/", {"vip_level_min": 3, "payer_status": "at_risk", "server": "s1", "page_size": 3}
        )

    body = response.json()
    assert [p["account_id"] for p in body["results"]] == ["v4", "v3", "v2"]
    following = api.get(body["next"].replace("http://testserver", "")).json()
    assert [p["account_id"] for p in following["results"]] == ["v1", "v0"]
    assert api.get("/api/v1/players/", {"payer_status": "bogus"}).status_code == 400


def test_tiers_are_listed_lowest_first(api):
    body = api.get("/api/v1/vip/tiers/").json()
    assert [t["level"] for t in body] == sorted(t["level"] for t in body)
    assert body[0] == {"name": "V1", "level": 1, "min_spend": "6.00", "window_days": None}


def test_personal_data_never_leaves_through_the_api(api, make_player, pay):
    phone, name, qq, wechat, email = "+8613812345678", "张三丰", "123456789", "wx_zhang", "zhang@example.com"
    player = make_player(account_id="pii", real_name=name, phone=phone, qq=qq, wechat=wechat, email=email)
    player.birthday = timezone.localdate().replace(year=1990)
    player.save()
    pay(player, "6")
    responses = [
        api.get("/api/v1/players/pii/"),
        api.get("/api/v1/players/"),
        api.put("/api/v1/players/pii/", {"phone": "13812345678", "birthday": "1990-05-06", "nickname": "n"}),
        api.put("/api/v1/players/pii/", {"phone": "13999999999999999", "birthday": "1990-02-31"}),
        api.post(PAYMENTS, event(account_id="pii")),
        api.post(BATCH, {"events": [event(account_id="pii", phone=phone)]}),
    ]
    for response in responses:
        text = response.content.decode()
        for secret in (phone, "13812345678", "13999999999999999", name, qq, wechat, email, "1990-05-06", "1990-"):
            assert secret not in text, (response.request["PATH_INFO"], secret)
        data = json.loads(text)
        for item in data.get("results", [data]):
            assert not set(Player.PERSONAL_FIELDS) & set(item)
