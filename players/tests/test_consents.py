"""The consent ledger through each of its doors: the game API (a status or the player's
reply), the admin's recording screen, the rule in Python and SQL, the history purge."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from players.models import Consent, ConsentEvent, ContactLog
from players.selectors.consents import consent_block_reason, consent_block_reason_sql, consent_join_sql
from players.services.consents import consent_history_purge, consent_record

CONSENTS = "/api/v1/players/{}/consents/"


# --- the service ----------------------------------------------------------------------


def test_the_latest_by_the_time_given_is_in_force_and_a_late_older_one_only_history(make_player, consent):
    player = make_player()
    now = timezone.now()
    consent(player, "sms", occurred_at=now - timedelta(days=1))
    consent(player, "sms", status="withdrawn", occurred_at=now)
    consent(player, "sms", status="granted", occurred_at=now - timedelta(hours=5))  # arrives late
    assert Consent.objects.get(player=player, channel="sms").status == "withdrawn"
    assert ConsentEvent.objects.filter(player=player).count() == 3


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"channel": "visit"}, "channel"),  # a contact channel without consent
        ({"channel": "'; DROP TABLE players_player;--"}, "channel"),
        ({"purpose": "sale"}, "purpose"),
        ({"status": "maybe"}, "status"),
        ({"evidence": "x" * 2001}, "evidence"),
        ({"evidence": "bad\x00byte"}, "evidence"),
        ({"occurred_at": datetime(2026, 1, 1)}, "occurred_at"),  # naive
    ],
)
def test_hostile_values_are_refused_naming_the_field(make_player, fields, field):
    values = {"channel": "sms", "purpose": "marketing", "status": "granted", **fields}
    with pytest.raises(ValidationError) as error:
        consent_record(player=make_player(), source="staff", **values)
    assert field in error.value.message_dict
    assert not ConsentEvent.objects.exists()


def test_python_and_sql_rules_agree(make_player, consent):
    today = timezone.localdate()
    players = [
        make_player(),
        consent(make_player(), "sms", "in_game"),
        consent(make_player(), "sms", "in_game", status="refused"),
        consent(make_player(), "sms", "in_game", status="withdrawn"),
        consent(make_player(birthday=date(today.year - 10, 1, 1)), "sms", "in_game"),
        make_player(birthday=date(today.year - 30, 1, 1)),
        consent(make_player(birthday=date(today.year - 15, 6, 1)), "sms", purpose="service", status="refused"),
    ]
    for channel in ("sms", "in_game", "phone"):
        for purpose in ("marketing", "service"):
            join, join_params = consent_join_sql(player_id="p.id", alias="c", channel=channel, purpose=purpose)
            sql, params = consent_block_reason_sql(
                consent="c", birthday="p.birthday", channel=channel, purpose=purpose, today=today
            )
            with connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT p.id, {sql} FROM players_player p {join}"
                    f"WHERE p.id IN ({', '.join(['%s'] * len(players))})",
                    [*params, *join_params, *[p.pk for p in players]],
                )
                by_sql = dict(cursor.fetchall())
            by_python = {
                p.pk: consent_block_reason(player=p, channel=channel, purpose=purpose, today=today) for p in players
            }
            assert by_sql == by_python, (channel, purpose)
    assert by_python[players[0].pk] == "" and set(by_python.values()) >= {""}


GIVEN = datetime(2026, 1, 10, 2, 0, tzinfo=UTC)  # the pinned day a grant was given and recorded
WITHDRAWN = GIVEN + timedelta(days=30)


def test_the_purge_never_deletes_proof_younger_than_the_retention(make_player, consent, settings):
    settings.CRM_CONSENT_HISTORY_DAYS = 183
    player = make_player()
    consent(player, "sms", occurred_at=GIVEN, now=GIVEN)  # the proof of consent
    consent(player, "sms", status="withdrawn", occurred_at=WITHDRAWN, now=WITHDRAWN)
    # a grant given earlier arrives 100 days after the withdrawal: superseded from the start, proof all the same
    late = WITHDRAWN + timedelta(days=100)
    consent(player, "sms", occurred_at=GIVEN + timedelta(days=1), now=late)
    lone = consent(make_player(), "sms", occurred_at=GIVEN, now=GIVEN)  # never superseded: in force

    def statuses():
        return sorted(ConsentEvent.objects.filter(player=player).values_list("status", "recorded_at"))

    # one second short of 183 days after the withdrawal, the proof is kept
    assert consent_history_purge(now=WITHDRAWN + timedelta(days=183, seconds=-1)) == 0
    # at 183 days the superseded grant goes; the late one, recorded 83 days ago, and the withdrawal stay
    assert consent_history_purge(now=WITHDRAWN + timedelta(days=183)) == 1
    assert statuses() == [("granted", late), ("withdrawn", WITHDRAWN)]
    # the late one goes 183 days after it was recorded; the withdrawal in force never goes
    assert consent_history_purge(now=late + timedelta(days=183, seconds=-1)) == 0
    assert consent_history_purge(now=late + timedelta(days=183)) == 1
    assert statuses() == [("withdrawn", WITHDRAWN)]
    assert consent_history_purge(now=WITHDRAWN + timedelta(days=3650)) == 0
    assert Consent.objects.get(player=player, channel="sms").status == "withdrawn"
    assert ConsentEvent.objects.filter(player=lone).count() == 1


@pytest.mark.parametrize("days, kept_for", [(30, 153), (0, 153), (153, 153), (400, 400)])
def test_the_retention_is_the_setting_never_under_five_months(make_player, consent, settings, days, kept_for):
    from crm.nightly import nightly_run

    settings.CRM_CONSENT_HISTORY_DAYS = days
    player = make_player()
    consent(player, "email", occurred_at=GIVEN, now=GIVEN)
    consent(player, "email", status="refused", occurred_at=WITHDRAWN, now=WITHDRAWN)

    # the nightly run purges by the same rule, at the time it is given
    assert nightly_run(now=WITHDRAWN + timedelta(days=kept_for, seconds=-1))["consents"] == {"purged": 0}
    assert nightly_run(now=WITHDRAWN + timedelta(days=kept_for))["consents"] == {"purged": 1}


# --- the API ------------------------------------------------------------------------------


def test_api_records_consents_and_a_reply_and_reports_bad_items_by_index(api, make_player, consent):
    player = make_player(account_id="10086")
    consent(player, "sms")
    response = api.post(
        CONSENTS.format("10086"),
        {
            "consents": [
                {"channel": "email", "purpose": "marketing", "status": "granted", "evidence": "注册时勾选"},
                {"channel": "sms", "reply": " r "},
                {"channel": "fax", "status": "granted"},
                {"channel": "sms", "status": "granted", "reply": "R"},
                {"channel": "sms", "reply": "你好"},
                {"channel": "sms", "status": "granted", "occurred_at": "2026-11-22 10:00"},
                "not an object",
            ]
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert body["recorded"] == 2
    assert [(e["index"], e["error"]) for e in body["errors"]] == [
        (2, "invalid"),
        (3, "invalid"),
        (4, "ignored"),
        (5, "invalid"),
        (6, "invalid"),
    ]
    assert "channel" in body["errors"][0]["fields"] and "occurred_at" in body["errors"][3]["fields"]
    in_force = {(c["channel"], c["purpose"]): c["status"] for c in body["consents"]}
    assert in_force == {("email", "marketing"): "granted", ("sms", "marketing"): "withdrawn"}
    reply = ConsentEvent.objects.get(player=player, source="reply")
    assert (reply.evidence, reply.status, reply.recorded_via) == ("r", "withdrawn", "api:game-a")
    assert set(body) == {"recorded", "errors", "consents"}


def test_api_unknown_player_is_404_and_a_bound_client_may_not_touch_another_server(api, make_player):
    make_player(account_id="p2", server="s2")
    assert (
        api.post(CONSENTS.format("nobody"), {"consents": [{"channel": "sms", "status": "granted"}]}).status_code == 404
    )
    client = api.credentials.client
    client.server = "s1"
    client.save()
    response = api.post(CONSENTS.format("p2"), {"consents": [{"channel": "sms", "status": "granted"}]})
    assert response.status_code == 403
    assert not ConsentEvent.objects.exists()


@pytest.mark.parametrize("body", [{}, {"consents": []}, {"consents": "sms"}, {"consents": [{}] * 101}, []])
def test_api_refuses_a_body_without_a_list_of_consents(api, make_player, body):
    make_player(account_id="10086")
    response = api.post(CONSENTS.format("10086"), body)
    assert response.status_code == 400
    assert not ConsentEvent.objects.exists()


def test_api_needs_the_signature(api, make_player):
    make_player(account_id="10086")
    response = api.post(CONSENTS.format("10086"), {"consents": [{"channel": "sms", "status": "granted"}]}, sign=False)
    assert response.status_code in (401, 403)
    assert not ConsentEvent.objects.exists()


# --- the admin's recording screen -------------------------------------------------------


def test_staff_record_a_consent_from_a_contact(client, manager, make_player):
    player = make_player(manager=manager)
    contact = ContactLog.objects.create(
        player=player, staff=manager, channel="phone", contacted_at=timezone.now(), topic="回访", summary="同意接收短信"
    )
    client.force_login(manager)
    url = reverse("admin:players_consentevent_add") + f"?contact={contact.pk}"
    page = client.get(url)
    assert page.status_code == 200
    response = client.post(
        url,
        {
            "player": player.pk,
            "channel": "sms",
            "purpose": "marketing",
            "status": "granted",
            "contact": contact.pk,
            "evidence": "玩家说：可以发短信",
        },
    )
    assert response.status_code == 302, response.context["form"].errors
    event = ConsentEvent.objects.get(player=player)
    assert (event.source, event.recorded_by, event.recorded_via, event.evidence) == (
        "staff",
        manager,
        f"contact:{contact.pk}",
        "玩家说：可以发短信",
    )


def test_a_manager_cannot_record_for_a_player_they_do_not_see(client, manager, make_player, make_staff):
    other = make_player(manager=make_staff("other_mgr", "VIP manager"))
    mine = make_player(manager=manager)
    client.force_login(manager)
    url = reverse("admin:players_consentevent_add")
    # the page for someone else's player sends them back; a forged POST names a player they may not choose
    assert client.get(url + f"?player={other.pk}").status_code == 302
    response = client.post(
        url + f"?player={mine.pk}",
        {"player": other.pk, "channel": "sms", "purpose": "marketing", "status": "granted", "evidence": "x"},
    )
    assert not ConsentEvent.objects.filter(player=other).exists()
    assert response.status_code in (200, 302)


def test_a_contact_of_another_player_is_refused(client, manager, make_player):
    a, b = make_player(manager=manager), make_player(manager=manager)
    contact = ContactLog.objects.create(player=b, staff=manager, channel="phone", contacted_at=timezone.now())
    client.force_login(manager)
    response = client.post(
        reverse("admin:players_consentevent_add") + f"?player={a.pk}",
        {
            "player": a.pk,
            "channel": "sms",
            "purpose": "marketing",
            "status": "granted",
            "contact": contact.pk,
            "evidence": "x",
        },
    )
    assert response.status_code == 200 and not ConsentEvent.objects.exists()


def test_the_history_is_scoped_and_never_edited(client, manager, make_player, make_staff, consent):
    mine = consent(make_player(manager=manager), "sms")
    theirs = consent(make_player(manager=make_staff("other_mgr", "VIP manager")), "sms")
    client.force_login(manager)
    listing = client.get(reverse("admin:players_consentevent_changelist"))
    shown = {row.player_id for row in listing.context["cl"].result_list}
    assert shown == {mine.pk}
    event = ConsentEvent.objects.get(player=theirs)
    assert client.get(reverse("admin:players_consentevent_change", args=[event.pk])).status_code in (302, 403, 404)
    mine_event = ConsentEvent.objects.get(player=mine)
    client.post(reverse("admin:players_consentevent_delete", args=[mine_event.pk]), {"post": "yes"})
    assert ConsentEvent.objects.filter(pk=mine_event.pk).exists()


def test_a_user_without_the_permission_cannot_record(client, make_staff, make_player):
    viewer = make_staff("ops_viewer", "Operations")
    player = make_player()
    client.force_login(viewer)
    response = client.post(
        reverse("admin:players_consentevent_add") + f"?player={player.pk}",
        {"player": player.pk, "channel": "sms", "purpose": "marketing", "status": "granted", "evidence": "x"},
    )
    assert response.status_code == 403
    assert not ConsentEvent.objects.exists()


def test_the_history_list_costs_the_same_queries_for_few_rows_and_many(client, supervisor, make_player, consent):
    from django.test.utils import CaptureQueriesContext

    url = reverse("admin:players_consentevent_changelist")
    client.force_login(supervisor)
    consent(make_player(), "sms")
    client.get(url)

    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    few = queries()
    for _n in range(8):
        consent(make_player(), "sms", "email", status="refused")
    assert queries() == few
