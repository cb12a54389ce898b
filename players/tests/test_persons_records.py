"""What belongs to the VIP person stays on the person: a contact, case, consent, task or
gift recorded on a linked account — from its page, the admin, the game API or an import —
lands on the person's main account, through the one writers (contact_log_create,
case_open, consents_record, task_save, gift_record), whichever door it came through."""

import pytest
from django.urls import reverse

from campaigns.models import GiftEntry, OutreachTask
from campaigns.services.gifts import gift_record
from players.models import Case, Consent, ConsentEvent, ContactLog, Player
from players.services.persons import account_link
from players.tests.admin_forms import CASE, CONTACT


@pytest.fixture
def person(make_player, manager, supervisor):
    """欧阳锋's main account on s1 and his account on s2, linked (绑定账号)."""
    main = make_player(account_id="ouyang-s1", nickname="欧阳锋", server="s1", manager=manager)
    alt = make_player(account_id="ouyang-s2", nickname="西毒", server="s2", manager=manager)
    account_link(person=main, account=alt, actor=supervisor)
    alt.refresh_from_db()
    return main, alt


def test_the_player_page_s_quick_contact_form_on_a_linked_account_logs_with_the_person(client, person, manager):
    main, alt = person
    client.force_login(manager)
    response = client.post(
        reverse("workplace:log_contact", args=[alt.pk]),
        {"channel": "phone", "direction": "outbound", "topic": "回访", "outcome": "reached"},
        follow=True,
    )
    assert response.status_code == 200
    assert list(ContactLog.objects.values_list("player", "topic")) == [(main.pk, "回访")]


def test_the_admin_add_pages_on_a_linked_account_record_on_the_person(client, person, manager):
    main, alt = person
    client.force_login(manager)
    contact = client.post(reverse("admin:players_contactlog_add"), {**CONTACT, "player": alt.pk})
    case = client.post(reverse("admin:players_case_add"), {**CASE, "player": alt.pk, "owner": manager.pk})
    consent = client.post(
        reverse("admin:players_consentevent_add") + f"?player={alt.pk}",
        {"player": alt.pk, "channel": "sms", "purpose": "marketing", "status": "granted", "evidence": "电话中同意"},
    )
    assert (contact.status_code, case.status_code, consent.status_code) == (302, 302, 302)
    assert list(ContactLog.objects.values_list("player", flat=True)) == [main.pk]
    assert list(Case.objects.values_list("player", flat=True)) == [main.pk]
    assert list(Consent.objects.values_list("player", "channel", "status")) == [(main.pk, "sms", "granted")]
    assert not ConsentEvent.objects.filter(player=alt).exists()


def test_a_task_and_a_gift_on_a_linked_account_are_the_person_s(client, person, manager, tiers):
    main, alt = person
    client.force_login(manager)
    response = client.post(
        reverse("admin:campaigns_outreachtask_add"),
        {
            "player": alt.pk,
            "kind": "follow_up",
            "title": "回访",
            "assigned_to": manager.pk,
            "status": "open",
            "due_date": "2026-12-08",
        },
    )
    assert response.status_code in (200, 302)
    if response.status_code == 200:  # the form's required fields are the admin's business: say what it wanted
        pytest.fail(str(response.context["adminform"].form.errors))
    assert list(OutreachTask.objects.values_list("player", flat=True)) == [main.pk]

    gift_record(player=alt, kind="item", value="0", item="限定坐骑", actor=manager)
    assert list(GiftEntry.objects.values_list("player", flat=True)) == [main.pk]


def test_the_consent_api_for_a_linked_account_records_the_person_s_consent(api, person):
    main, alt = person
    body = {"consents": [{"channel": "sms", "status": "granted"}, {"channel": "email", "reply": "R"}]}

    response = api.post(f"/api/v1/players/{alt.account_id}/consents/", body)

    assert response.status_code in (200, 201), response.content
    assert set(Consent.objects.values_list("player", "channel")) == {(main.pk, "sms"), (main.pk, "email")}
    assert not ConsentEvent.objects.filter(player=alt).exists()


def test_an_import_row_of_a_linked_account_records_its_consent_on_the_person(client, person, operations, admin_import):
    main, alt = person
    client.force_login(operations)

    job, _page = admin_import(f"account_id,nickname,consent_sms\n{alt.account_id},西毒,同意\n")

    assert job.invalid_count == 0
    assert list(Consent.objects.values_list("player", "channel", "status")) == [(main.pk, "sms", "granted")]


def test_a_manager_who_may_not_see_the_person_records_nothing_through_a_linked_account(client, person, other_manager):
    _main, alt = person
    client.force_login(other_manager)
    response = client.post(reverse("admin:players_contactlog_add"), {**CONTACT, "player": alt.pk})
    assert response.status_code == 200 and "player" in response.context["adminform"].form.errors
    assert not ContactLog.objects.exists()


def test_contact_preferences_set_on_a_linked_account_s_page_are_the_person_s(client, person, supervisor):
    main, alt = person
    third = Player.objects.create(account_id="ouyang-s3", nickname="欧阳锋", server="s3")
    account_link(person=main, account=third, actor=supervisor)
    url = reverse("admin:players_player_change", args=[alt.pk])
    client.force_login(supervisor)
    form = client.get(url).context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and k != "tags"}
    data.update(preferred_channel="wechat", timezone="America/Vancouver")

    assert client.post(url, data).status_code == 302

    preferences = Player.objects.filter(pk__in=[main.pk, alt.pk, third.pk]).values_list("preferred_channel", "timezone")
    assert set(preferences) == {("wechat", "America/Vancouver")}
    # each account's history says who changed it
    assert main.history.latest().history_user == supervisor
    assert third.history.latest().preferred_channel == "wechat"
