"""A task by hand in the admin (issue 22): a script from the library inserted into its call
script, filled in for the task's player; a {variable} left unfilled refuses to save."""

from django.urls import reverse
from django.utils import timezone

from campaigns.models import OutreachTask
from campaigns.tests.fixtures import library_script


def _form(task, **changes):
    data = {
        "player": task.player_id,
        "assignee": task.assignee_id,
        "kind": task.kind,
        "title": task.title,
        "script": task.script,
        "due_date": task.due_date.isoformat(),
        "status": task.status,
        "outcome": task.outcome,
        "note": task.note,
        "source": task.source,
        "campaign": "",
        "created_by": "",
        "completed_at_0": "",
        "completed_at_1": "",
    }
    data.update(changes)
    return data


def test_a_script_is_filled_in_for_the_tasks_player_and_an_unfilled_variable_refused(
    client, manager, make_player, make_task, tiers
):
    script = library_script("您好{nickname}，我是{me}，您是我们的{tier}贵宾。", "return_visit")
    vip = make_player(nickname="星河", manager=manager, tier=tiers["V3"])
    newcomer = make_player(nickname="新人", manager=manager)
    task = make_task(vip, manager, title="回访")
    client.force_login(manager)

    # the change page offers the library beside the call script, for this task's player
    page = client.get(reverse("admin:campaigns_outreachtask_change", args=[task.pk])).content.decode()
    assert 'class="script-insert"' in page and f'data-player="{vip.pk}"' in page and "Insert script" in page
    inserted = client.get(reverse("admin:players_callscript_insert", args=[script.pk]), {"player": vip.pk}).json()
    assert inserted["text"].startswith("您好星河，我是") and "V3贵宾" in inserted["text"]

    # saved as filled in
    url = reverse("admin:campaigns_outreachtask_change", args=[task.pk])
    response = client.post(url, _form(task, script=inserted["text"]))
    assert response.status_code == 302, response.context["adminform"].form.errors
    task.refresh_from_db()
    assert task.script == inserted["text"]

    # a player without a tier keeps {tier}: refused until it is filled in, naming the field
    other = make_task(newcomer, manager, title="回访")
    text = client.get(reverse("admin:players_callscript_insert", args=[script.pk]), {"player": newcomer.pk}).json()[
        "text"
    ]
    assert "{tier}" in text
    url = reverse("admin:campaigns_outreachtask_change", args=[other.pk])
    response = client.post(url, _form(other, script=text))
    assert response.status_code == 200
    assert "{tier}" in str(response.context["adminform"].form.errors["script"])
    response = client.post(url, _form(other, note="约好 {tier} 再打"))
    assert "{tier}" in str(response.context["adminform"].form.errors["note"])
    other.refresh_from_db()
    assert other.script == "" and other.note == ""
    response = client.post(url, _form(other, script=text.replace("{tier}", "新")))
    assert response.status_code == 302


def test_a_task_added_by_hand_checks_its_script_and_names_who_made_it(client, manager, make_player, tiers):
    player = make_player(nickname="星河", manager=manager)
    client.force_login(manager)
    data = {
        "player": player.pk,
        "assignee": manager.pk,
        "kind": "vip_care",
        "title": "回访",
        "script": "我是{me}",
        "due_date": timezone.localdate().isoformat(),
        "status": "open",
        "outcome": "",
        "note": "",
        "source": "",
    }
    response = client.post(reverse("admin:campaigns_outreachtask_add"), data)
    assert "{me}" in str(response.context["adminform"].form.errors["script"])
    response = client.post(reverse("admin:campaigns_outreachtask_add"), {**data, "script": "我是李娜"})
    assert response.status_code == 302
    task = OutreachTask.objects.get(player=player)
    assert (task.script, task.created_by) == ("我是李娜", manager)


def test_another_managers_player_gets_no_script_and_their_task_no_form(
    client, manager, other_manager, make_player, make_task
):
    script = library_script("您好{nickname}", "return_visit")
    theirs = make_player(manager=other_manager)
    task = make_task(theirs, other_manager, title="回访")
    client.force_login(manager)
    response = client.get(reverse("admin:players_callscript_insert", args=[script.pk]), {"player": theirs.pk})
    assert response.status_code == 404
    url = reverse("admin:campaigns_outreachtask_change", args=[task.pk])
    assert client.get(url).status_code in (302, 404)  # not shown (the admin redirects a missing object)
    response = client.post(url, _form(task, script="您好"))
    task.refresh_from_db()
    assert task.script == ""
