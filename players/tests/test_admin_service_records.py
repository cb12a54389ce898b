import csv
import io
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from players.models import Case, CaseEvent, CaseStatus, ContactLog, FeedbackTopic
from players.services import contact_log_create
from players.services.cases import case_resolve
from players.services.feedback import feedback_record

BACKEND = "django.contrib.auth.backends.ModelBackend"


@pytest.fixture
def client_for():
    def make(user):
        client = Client()
        client.force_login(user, backend=BACKEND)
        return client

    return make


def changelist(model):
    return reverse(f"admin:players_{model}_changelist")


def test_a_manager_sees_and_handles_only_cases_of_their_players(
    client_for, make_player, make_case, manager, other_manager, supervisor
):
    mine = make_case(make_player(manager=manager), subject="mine")
    theirs = make_case(make_player(manager=other_manager), subject="theirs")
    client = client_for(manager)

    listed = client.get(changelist("case")).context["cl"].result_list
    change_page = client.get(reverse("admin:players_case_change", args=[theirs.pk]))
    action = client.post(reverse("admin:players_case_action", args=[theirs.pk, "start"]), {"note": "x"})
    supervisor_sees = client_for(supervisor).get(changelist("case")).context["cl"].result_list

    assert list(listed) == [mine]
    assert change_page.status_code == 302  # "does not exist" for them
    assert action.status_code == 404
    assert Case.objects.get(pk=theirs.pk).status == CaseStatus.NEW
    assert set(supervisor_sees) == {mine, theirs}


def test_a_manager_owning_a_case_of_another_managers_player_sees_it(
    client_for, make_player, make_case, manager, other_manager
):
    lent = make_case(make_player(manager=other_manager), owner=manager)

    assert list(client_for(manager).get(changelist("case")).context["cl"].result_list) == [lent]


def test_case_text_is_masked_in_lists_without_the_personal_data_permission(
    client_for, make_player, make_case, make_staff, manager
):
    reader = make_staff("reader")
    reader.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_case", "view_all_players", "view_contactlog"])
    )
    player = make_player(manager=manager)
    make_case(player, subject="请回电13812345678")
    contact_log_create(player=player, staff=manager, channel="phone", topic="QQ 87654321 加好友")

    masked_cases = client_for(reader).get(changelist("case")).content.decode()
    masked_contacts = client_for(reader).get(changelist("contactlog")).content.decode()
    clear = client_for(manager).get(changelist("case")).content.decode()

    assert "138****5678" in masked_cases and "13812345678" not in masked_cases
    assert "87****21" in masked_contacts and "87654321" not in masked_contacts
    assert "13812345678" in clear


def test_the_case_changelist_query_count_does_not_grow_with_rows(
    client_for, make_player, make_case, supervisor, django_assert_num_queries
):
    client = client_for(supervisor)
    for _ in range(3):
        make_case(make_player(manager=supervisor))
    client.get(changelist("case"))  # warm caches (content types, sessions)
    with django_assert_num_queries(6):
        client.get(changelist("case"))
    for _ in range(12):
        make_case(make_player(manager=supervisor))
    with django_assert_num_queries(6):
        response = client.get(changelist("case"))
    assert len(response.context["cl"].result_list) == 15


def test_contact_log_and_feedback_changelists_pin_their_queries(
    client_for, make_player, supervisor, django_assert_num_queries
):
    client = client_for(supervisor)
    for i in range(10):
        player = make_player()
        contact_log_create(player=player, staff=supervisor, channel="phone", topic=f"回访 {i}")
        feedback_record(player=player, text=f"问题 {i % 3} 号", kind="bug")
    client.get(changelist("contactlog"))
    with django_assert_num_queries(6):
        client.get(changelist("contactlog"))
    with django_assert_num_queries(6):
        client.get(changelist("feedbacktopic"))
    with django_assert_num_queries(6):
        client.get(changelist("feedbackreport"))


def test_quick_add_a_contact_from_the_player_page(client_for, make_player, manager):
    player = make_player(manager=manager, preferred_channel="wechat")
    client = client_for(manager)

    page = client.get(reverse("admin:players_player_change", args=[player.pk])).content.decode()
    case_url = reverse("admin:players_case_add") + f"?player={player.pk}"
    add_url = reverse("admin:players_contactlog_add") + f"?player={player.pk}"
    form = client.get(add_url).context["adminform"].form
    now = timezone.localtime()
    response = client.post(
        add_url,
        {
            "player": player.pk,
            "channel": "wechat",
            "direction": "outbound",
            "contacted_at_0": now.strftime("%Y-%m-%d"),
            "contacted_at_1": now.strftime("%H:%M:%S"),
            "topic": "生日问候",
            "outcome": "reached",
            "next_follow_up": (now + timedelta(days=7)).strftime("%Y-%m-%d"),
        },
    )

    assert case_url in page  # the player page's quick actions offer "Open a case"
    assert form.initial["player"] == str(player.pk)
    assert form.initial["channel"] == "wechat"
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:players_player_change", args=[player.pk])
    contact = ContactLog.objects.get()
    assert (contact.staff, contact.topic, contact.player) == (manager, "生日问候", player)


def test_my_follow_ups_today_filter(client_for, make_player, manager, other_manager):
    today = timezone.localdate()
    due = contact_log_create(
        player=make_player(manager=manager),
        staff=manager,
        channel="qq",
        topic="回访",
        contacted_at=timezone.now() - timedelta(days=2),
        next_follow_up=today,
    )
    contact_log_create(
        player=make_player(manager=manager), staff=manager, channel="qq", topic="回访", next_follow_up=None
    )

    listed = client_for(manager).get(changelist("contactlog") + "?follow_up=mine_today").context["cl"].result_list

    assert list(listed) == [due]


def test_opening_a_case_in_the_admin_goes_through_the_service(client_for, make_player, manager):
    player = make_player(manager=manager)
    client = client_for(manager)

    response = client.post(
        reverse("admin:players_case_add") + f"?player={player.pk}",
        {
            "player": player.pk,
            "category": "payment",
            "severity": "high",
            "channel": "phone",
            "subject": "充值未到账",
            "description": "订单 648",
            "owner": manager.pk,
        },
    )

    assert response.status_code == 302
    case = Case.objects.get()
    assert (case.opened_by, case.owner, case.sla_hours) == (manager, manager, 72)
    assert CaseEvent.objects.get(case=case).type == "opened"


def test_workflow_buttons_refuse_illegal_moves_with_a_message_and_apply_legal_ones(
    client_for, make_player, make_case, manager
):
    case = make_case(make_player(manager=manager))
    client = client_for(manager)

    refused = client.post(reverse("admin:players_case_action", args=[case.pk, "close"]), {"note": ""}, follow=True)
    resolved = client.post(
        reverse("admin:players_case_action", args=[case.pk, "resolve"]),
        {"resolution": "补发钻石", "compensation_item": "300 钻石", "compensation_value": "30"},
    )
    scored = client.post(reverse("admin:players_case_action", args=[case.pk, "satisfaction"]), {"score": "5"})
    page = client.get(reverse("admin:players_case_change", args=[case.pk])).content.decode()

    # refused before its form: back on the case, with the reason
    assert refused.redirect_chain == [(reverse("admin:players_case_change", args=[case.pk]), 302)]
    assert [str(m) for m in refused.context["messages"]] == ["“Close” is not possible while the case is “New”."]
    assert resolved.status_code == scored.status_code == 302
    case.refresh_from_db()
    assert (case.status, case.resolution, case.compensation_item, case.satisfaction) == (
        CaseStatus.RESOLVED,
        "补发钻石",
        "300 钻石",
        5,
    )
    assert "Satisfaction recorded" in page  # the timeline


def test_bulk_close_refuses_cases_that_are_not_resolved(client_for, make_player, make_case, supervisor):
    open_case = make_case(make_player())
    done = case_resolve(case=make_case(make_player()), actor=None, resolution="ok")

    response = client_for(supervisor).post(
        changelist("case"),
        {"action": "close_cases", "_selected_action": [open_case.pk, done.pk]},
        follow=True,
    )

    messages = [str(m) for m in response.context["messages"]]
    assert any("1 case closed" in m for m in messages)
    assert any("refused" in m and f"#{open_case.pk}" in m for m in messages)
    assert Case.objects.get(pk=done.pk).status == CaseStatus.CLOSED


def test_the_report_page_and_csv_show_a_manager_only_their_own_row(
    client_for, make_player, make_staff, manager, other_manager, supervisor
):
    for staff in (manager, other_manager):
        contact_log_create(player=make_player(manager=staff), staff=staff, channel="phone", outcome="reached")
    today = timezone.localdate().isoformat()
    url = reverse("admin:players_case_report") + f"?start={today}&end={today}"

    own = client_for(manager).get(url).content.decode()
    team_csv = client_for(supervisor).get(url + "&format=csv")
    rows = list(csv.reader(io.StringIO(team_csv.content.decode("utf-8-sig"))))

    assert "manager_a" in own and "manager_b" not in own
    assert team_csv["Content-Type"].startswith("text/csv")
    assert rows[0][:3] == ["day", "staff", "contacts"]
    assert {r[1]: r[2] for r in rows[1:]} == {"manager_a": "1", "manager_b": "1", "team": "2"}


def test_feedback_topics_merge_and_export(client_for, make_player, supervisor):
    a = feedback_record(player=make_player(), text="登录闪退", kind="bug").topic
    b = feedback_record(player=make_player(), text="一登录就闪退 电话13812345678", kind="bug").topic
    client = client_for(supervisor)

    merged = client.post(
        changelist("feedbacktopic"),
        {"action": "merge_topics", "_selected_action": [a.pk, b.pk], "apply": "1", "target": a.pk},
    )
    exported = client.post(changelist("feedbacktopic"), {"action": "export_csv", "_selected_action": [a.pk, b.pk]})

    assert merged.status_code == 302
    assert FeedbackTopic.objects.get(pk=a.pk).report_count == 2
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert rows[1][0] == str(a.pk) and rows[1][3] == "2"


def test_the_sla_policy_changelist_pins_its_queries(client_for, supervisor, django_assert_num_queries):
    from players.models import SlaPolicy

    for category, severity, hours in (("", "urgent", 8), ("payment", "", 24), ("payment", "urgent", 4)):
        SlaPolicy.objects.create(category=category, severity=severity, hours=hours)
    client = client_for(supervisor)
    client.get(changelist("slapolicy"))

    with django_assert_num_queries(7):
        response = client.get(changelist("slapolicy"))

    assert len(response.context["cl"].result_list) == 3
