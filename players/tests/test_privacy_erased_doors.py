"""After an erasure on request (PIPL Art. 47) nothing new is recorded about the player:
one check (`players.models.privacy`), refused with the same words at every door of
players — the services, the admin's add pages, the player page's quick contact form, the
game API and imports. A user who may not see the player learns nothing of the erasure."""

import html

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import translation

from players.models import Case, ConsentEvent, ContactLog
from players.services.cases import case_open
from players.services.consents import consent_record
from players.services.service_records import contact_log_create
from players.tests.admin_forms import CASE, CONTACT

REFUSAL_EN = "This player's personal data was erased on request (PIPL Art. 47)"
REFUSAL_ZH = "该玩家的个人信息已应其请求删除（个保法第四十七条）"


@pytest.fixture
def li(make_player, manager):
    return make_player(account_id="acct-li", nickname="李逍遥", phone="+8613911113333", manager=manager)


@pytest.fixture
def erased(li, erase):
    return erase(li)


def _refused(exc: ValidationError) -> bool:
    (error,) = exc.error_dict["__all__"]  # an error of the whole form, whichever form shows it
    return error.code == "erased" and REFUSAL_EN in error.message


# --- the writers ---------------------------------------------------------------------------


def test_the_writers_refuse_a_new_contact_case_or_grant_in_the_readers_language(erased, manager):
    with pytest.raises(ValidationError) as raised:
        contact_log_create(player=erased, staff=manager, channel="phone", topic="回访")
    assert _refused(raised.value)
    with translation.override("zh-hans"), pytest.raises(ValidationError) as raised:
        case_open(player=erased, category="complaint", subject="充值未到账", actor=manager)
    assert REFUSAL_ZH in raised.value.messages[0]
    with pytest.raises(ValidationError) as raised:
        consent_record(player=erased, channel="sms", purpose="marketing", status="granted", source="staff")
    assert _refused(raised.value)
    assert not ContactLog.objects.filter(player=erased).exists() and not Case.objects.filter(player=erased).exists()
    assert not ConsentEvent.objects.filter(player=erased, status="granted").exists()


def test_a_withdrawal_for_an_erased_player_is_not_refused(erased):
    # the erasure itself withdrew everything; saying no again is never refused
    consent_record(player=erased, channel="sms", purpose="marketing", status="withdrawn", source="staff")


# --- the admin ------------------------------------------------------------------------------


def _post(client, name, data, *, language="en"):
    return client.post(reverse(f"admin:{name}"), data, HTTP_ACCEPT_LANGUAGE=language)


@pytest.mark.parametrize("language, words", [("en", REFUSAL_EN), ("zh-hans", REFUSAL_ZH)])
def test_the_admin_add_pages_refuse_with_the_reason_on_the_form(client, erased, manager, language, words):
    client.force_login(manager)
    contact = _post(client, "players_contactlog_add", {**CONTACT, "player": erased.pk}, language=language)
    case = _post(client, "players_case_add", {**CASE, "player": erased.pk, "owner": manager.pk}, language=language)
    consent = client.post(
        reverse("admin:players_consentevent_add") + f"?player={erased.pk}",
        {"player": erased.pk, "channel": "sms", "purpose": "marketing", "status": "granted", "evidence": "同意"},
        HTTP_ACCEPT_LANGUAGE=language,
    )
    for response in (contact, case, consent):
        assert response.status_code == 200  # the form again, with the reason, nothing saved
        assert words in html.unescape(response.content.decode())
    assert not ContactLog.objects.filter(player=erased).exists()
    assert not Case.objects.filter(player=erased).exists()
    assert not ConsentEvent.objects.filter(player=erased, status="granted").exists()


def test_a_manager_who_may_not_see_the_player_learns_nothing_of_the_erasure(client, erased, other_manager):
    client.force_login(other_manager)
    response = _post(client, "players_contactlog_add", {**CONTACT, "player": erased.pk})
    assert response.status_code == 200 and "player" in response.context["adminform"].form.errors
    assert REFUSAL_EN not in html.unescape(response.content.decode())
    assert not ContactLog.objects.filter(player=erased).exists()


def test_the_quick_contact_form_of_the_player_page_refuses(client, erased, manager):
    client.force_login(manager)
    response = client.post(
        reverse("workplace:log_contact", args=[erased.pk]),
        {"channel": "phone", "direction": "outbound", "topic": "回访", "outcome": "reached"},
        follow=True,
    )
    assert REFUSAL_EN in " ".join(str(m) for m in response.context["messages"])
    assert not ContactLog.objects.filter(player=erased).exists()


# --- the game API ---------------------------------------------------------------------------


def test_the_consent_api_answers_410_for_an_erased_account_and_records_nothing(api, erased):
    before = ConsentEvent.objects.filter(player=erased).count()
    body = {"consents": [{"channel": "sms", "status": "granted"}, {"channel": "email", "reply": "R"}]}

    response = api.post("/api/v1/players/acct-li/consents/", body)

    assert response.status_code == 410
    assert response.json()["error"] == "erased" and REFUSAL_EN in response.json()["detail"]
    assert ConsentEvent.objects.filter(player=erased).count() == before
    # by its digest it is no account of the game at all
    assert api.post(f"/api/v1/players/{erased.account_id}/consents/", body).status_code == 404


def test_a_client_of_another_server_gets_403_not_the_erasure(api, erased):
    bound = api.credentials.client
    bound.server = "s9"
    bound.save()
    response = api.post("/api/v1/players/acct-li/consents/", {"consents": [{"channel": "sms", "status": "granted"}]})
    assert response.status_code == 403 and response.json()["error"] != "erased"


# --- imports --------------------------------------------------------------------------------


def test_an_import_row_for_an_erased_player_by_either_account_id_is_refused(client, erased, operations, admin_import):
    client.force_login(operations)
    text = (
        "account_id,nickname,phone,consent_sms\n"
        "acct-li,李逍遥,13911113333,同意\n"  # the game's account id
        f"{erased.account_id},李逍遥,13911113333,同意\n"  # the erased row's own, as an export names it
        "acct-new,新玩家,,同意\n"
    )

    job, page = admin_import(text)

    assert (job.new_count, job.invalid_count) == (1, 2)
    assert page.count("erased on request: the row is not imported") == 2
    assert erased.account_id not in page  # the digest is not shown (nor stored in the report)
    erased.refresh_from_db()
    assert (erased.nickname, str(erased.phone or "")) == ("", "")
    assert not ConsentEvent.objects.filter(player=erased, status="granted").exists()
    assert ConsentEvent.objects.filter(player__account_id="acct-new", status="granted").count() == 1
