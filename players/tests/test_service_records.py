"""players.services.service_records (the contact log's writers and rules) and the
atomic case resolution, through every door: the service, the admin and the quick form."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from campaigns.models import GiftBudget, GiftEntry
from players.models import CaseEventType, CaseStatus, ContactLog, ContactLogChange
from players.services.service_records import contact_log_create, contact_log_update

BACKEND = "django.contrib.auth.backends.ModelBackend"


def client_for(user):
    client = Client()
    client.force_login(user, backend=BACKEND)
    return client


def contact_form(player, **fields):
    now = timezone.localtime(fields.pop("at", None) or timezone.now())
    return {
        "player": player.pk,
        "channel": "phone",
        "direction": "outbound",
        "contacted_at_0": now.strftime("%Y-%m-%d"),
        "contacted_at_1": now.strftime("%H:%M:%S"),
        "topic": "",
        "summary": "",
        "outcome": "",
        "next_follow_up": "",
        **fields,
    }


# --- the rules, at every door ----------------------------------------------------------------
def test_the_service_refuses_a_contact_that_says_nothing_or_a_follow_up_in_the_past(make_player, manager):
    player = make_player(manager=manager)
    yesterday = timezone.localdate() - timedelta(days=1)

    with pytest.raises(ValidationError) as empty:
        contact_log_create(player=player, staff=manager, channel="phone")
    with pytest.raises(ValidationError) as past:
        contact_log_create(player=player, staff=manager, channel="phone", topic="回访", next_follow_up=yesterday)

    assert empty.value.message_dict == {
        "__all__": ["Say what the contact was about: a topic, a summary or an outcome."]
    }
    assert past.value.message_dict == {"next_follow_up": ["The follow-up date cannot be in the past."]}
    assert not ContactLog.objects.exists()


def test_a_contact_logged_afterwards_may_have_its_follow_up_after_its_own_day_only(make_player, manager):
    player = make_player(manager=manager)
    week_ago = timezone.now() - timedelta(days=7)

    kept = contact_log_create(
        player=player,
        staff=manager,
        channel="phone",
        topic="回访",
        contacted_at=week_ago,
        next_follow_up=timezone.localdate(week_ago) + timedelta(days=2),
    )
    with pytest.raises(ValidationError) as before:
        contact_log_create(
            player=player,
            staff=manager,
            channel="phone",
            topic="回访",
            contacted_at=week_ago,
            next_follow_up=timezone.localdate(week_ago) - timedelta(days=1),
        )

    assert kept.pk
    assert before.value.message_dict == {
        "next_follow_up": ["The follow-up date cannot come before the day of the contact."]
    }


def test_the_admin_add_page_shows_the_contact_rules_on_its_form(make_player, manager):
    player = make_player(manager=manager)
    client = client_for(manager)
    url = reverse("admin:players_contactlog_add")

    empty = client.post(url, contact_form(player))
    past = client.post(
        url, contact_form(player, topic="回访", next_follow_up=str(timezone.localdate() - timedelta(days=1)))
    )

    assert empty.status_code == past.status_code == 200  # the form again, not a 500
    assert empty.context["adminform"].form.non_field_errors() == [
        "Say what the contact was about: a topic, a summary or an outcome."
    ]
    assert past.context["adminform"].form.errors["next_follow_up"] == ["The follow-up date cannot be in the past."]
    assert not ContactLog.objects.exists()


def test_the_quick_form_refuses_through_the_service(make_player, manager):
    player = make_player(manager=manager)
    url = reverse("workplace:log_contact", args=[player.pk])

    response = client_for(manager).post(
        url, {"channel": "phone", "direction": "outbound", "topic": "回访", "next_follow_up": "2000-01-01"}, follow=True
    )

    assert [str(m) for m in response.context["messages"]] == [
        "next follow-up: The follow-up date cannot be in the past."
    ]
    assert not ContactLog.objects.exists()


# --- edits keep history ------------------------------------------------------------------------
def test_an_edit_records_who_changed_what_and_when(make_player, manager, supervisor):
    contact = contact_log_create(player=make_player(manager=manager), staff=manager, channel="phone", topic="回访")

    contact_log_update(contact=contact, data={"topic": "回访", "outcome": "reached"}, actor=supervisor)
    contact_log_update(contact=contact, data={"outcome": "reached"}, actor=manager)  # nothing changes

    change = ContactLogChange.objects.get()
    assert (change.contact, change.actor, change.changes) == (contact, supervisor, {"outcome": ["", "reached"]})
    assert timezone.now() - change.changed_at < timedelta(minutes=1)
    contact.refresh_from_db()
    assert contact.outcome == "reached"


def test_an_old_follow_up_left_as_it_was_does_not_block_an_edit(make_player, manager, time_machine):
    time_machine.move_to(timezone.now() - timedelta(days=5))
    contact = contact_log_create(
        player=make_player(manager=manager),
        staff=manager,
        channel="phone",
        topic="回访",
        next_follow_up=timezone.localdate() + timedelta(days=1),
    )
    time_machine.move_to(timezone.now() + timedelta(days=5))

    contact_log_update(contact=contact, data={"summary": "已回电"}, actor=manager)

    assert ContactLogChange.objects.get().changes == {"summary": ["", "已回电"]}


def test_the_admin_change_page_edits_through_the_service_and_shows_the_history(make_player, manager):
    player = make_player(manager=manager)
    contact = contact_log_create(player=player, staff=manager, channel="phone", topic="回访 13812345678")
    client = client_for(manager)
    url = reverse("admin:players_contactlog_change", args=[contact.pk])

    response = client.post(
        url, contact_form(player, at=contact.contacted_at, topic="回访 13812345678", outcome="reached")
    )
    page = client.get(url).content.decode()

    assert response.status_code == 302
    change = ContactLogChange.objects.get()
    assert (change.actor, change.changes) == (manager, {"outcome": ["", "reached"]})
    assert "Change history" in page and "→ Reached</td>" in page


def test_the_change_history_masks_free_text_for_staff_without_personal_data(make_player, manager, make_staff):
    from django.contrib.auth.models import Permission

    viewer = make_staff("viewer", "VIP manager")
    viewer.user_permissions.add(Permission.objects.get(codename="view_all_players"))
    viewer.groups.first().permissions.remove(Permission.objects.get(codename="view_personal_data"))
    player = make_player(manager=manager)
    contact = contact_log_create(player=player, staff=manager, channel="phone", topic="回访")
    contact_log_update(contact=contact, data={"summary": "新号码 13912345678"}, actor=manager)

    page = client_for(viewer).get(reverse("admin:players_contactlog_change", args=[contact.pk])).content.decode()

    assert "→ 新号码 139****5678</td>" in page  # the history row; the edit box is the form's


# --- a case is resolved with its compensation or not at all --------------------------------
def test_a_refused_compensation_leaves_the_case_unresolved(make_player, make_case, manager, tiers):
    # given a V3 player whose tier has 20 of gift budget a month
    GiftBudget.objects.create(tier=tiers["V3"], monthly_amount=Decimal("20"))
    case = make_case(make_player(manager=manager, tier=tiers["V3"]))

    # when staff resolve it with a compensation worth 30
    response = client_for(manager).post(
        reverse("admin:players_case_action", args=[case.pk, "resolve"]),
        {"resolution": "补发钻石", "compensation_item": "300 钻石", "compensation_value": "30"},
    )

    # then the form says why, and nothing of the resolution was kept
    assert response.status_code == 200
    assert "budget" in " ".join(response.context["form"].errors["compensation_value"])
    case.refresh_from_db()
    assert (case.status, case.resolution, case.compensation_item) == (CaseStatus.NEW, "", "")
    assert list(case.events.values_list("type", flat=True)) == [CaseEventType.OPENED]
    assert not GiftEntry.objects.exists()
