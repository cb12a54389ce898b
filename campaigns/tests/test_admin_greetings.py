from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse

from campaigns.models import (
    CustomOccasion,
    GiftBudget,
    GiftEntry,
    Greeting,
    GreetingRule,
    GreetingStatus,
    OutreachTask,
)
from campaigns.services.campaigns import task_outcome_record
from campaigns.services.greetings import greetings_run
from players.services.birthdays import birthdays_refresh

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=SHANGHAI)
UPCOMING = "/admin/campaigns/greeting/upcoming/"


@pytest.fixture
def upcoming_world(make_rule, make_player, manager, other_manager):
    birthday = make_rule(name="Birthday call", occasion="birthday", task_lead_days=1)
    occasion = CustomOccasion.objects.create(name="Server anniversary", month=12, day=1)
    custom = make_rule(name="Anniversary call", occasion="custom", custom_occasion=occasion, task_lead_days=0)
    mine = make_player(nickname="Mine", birthday=date(1990, 11, 25), manager=manager)
    lunar = make_player(nickname="MyLunar", birthday=date(1990, 12, 1), birthday_is_lunar=True, manager=manager)
    theirs = make_player(nickname="Theirs", birthday=date(1990, 11, 25), manager=other_manager)
    far = make_player(nickname="Far", birthday=date(1990, 3, 1), manager=manager)
    birthdays_refresh()
    return {"birthday": birthday, "custom": custom, "mine": mine, "lunar": lunar, "theirs": theirs, "far": far}


@time_machine.travel(NOW, tick=False)
def test_upcoming_shows_my_players_occasions_and_the_plan(client, manager, upcoming_world, django_assert_num_queries):
    client.force_login(manager)

    with django_assert_num_queries(9):
        response = client.get(UPCOMING)

    assert response.status_code == 200
    rows = response.context["upcoming"].rows
    seen = {(r.day, r.player.nickname, r.rule.name) for r in rows}
    assert (date(2026, 11, 25), "Mine", "Birthday call") in seen
    assert (date(2026, 12, 1), "Mine", "Anniversary call") in seen
    assert not any(r.player.nickname == "Theirs" for r in rows)  # scoped to my players
    assert not any(r.player.nickname == "Far" and r.rule.name == "Birthday call" for r in rows)
    # the lunar birthday (lunar 10/15 of 1990) is shown on this year's solar date
    assert (date(2026, 11, 23), "MyLunar", "Birthday call") in seen
    content = response.content.decode()
    assert "Call task for manager_a on 2026-11-24" in content
    assert "Skip" in content


@time_machine.travel(NOW, tick=False)
def test_skipping_from_the_upcoming_view(client, manager, upcoming_world):
    client.force_login(manager)
    rule, player = upcoming_world["birthday"], upcoming_world["mine"]

    response = client.post(
        reverse("admin:campaigns_greeting_skip"),
        {"rule": rule.pk, "player": player.pk, "date": "2026-11-25", "reason": "asked not to be called"},
    )

    assert response.status_code == 302
    greeting = Greeting.objects.get(rule=rule, player=player)
    assert greeting.status == GreetingStatus.SKIPPED and greeting.occasion_date == date(2026, 11, 25)
    page = client.get(UPCOMING)
    row = next(r for r in page.context["upcoming"].rows if r.player == player and r.rule == rule)
    assert row.greeting == greeting


@time_machine.travel(NOW, tick=False)
def test_a_manager_cannot_skip_someone_elses_player(client, manager, upcoming_world):
    client.force_login(manager)

    response = client.post(
        reverse("admin:campaigns_greeting_skip"),
        {"rule": upcoming_world["birthday"].pk, "player": upcoming_world["theirs"].pk, "date": "2026-11-25"},
    )

    assert response.status_code == 404
    assert not Greeting.objects.exists()


def test_staff_without_personal_data_permission_do_not_see_birthdays(client, make_staff, upcoming_world):
    from django.contrib.auth.models import Permission

    viewer = make_staff("viewer")
    viewer.user_permissions.add(
        Permission.objects.get(codename="view_greeting"), Permission.objects.get(codename="view_all_players")
    )
    client.force_login(viewer)

    with time_machine.travel(NOW, tick=False):
        response = client.get(UPCOMING)

    assert response.context["upcoming"].birthdays_hidden
    assert all(r.rule.name != "Birthday call" for r in response.context["upcoming"].rows)


def test_rule_admin_rejects_an_incomplete_rule_naming_the_field(client, supervisor):
    client.force_login(supervisor)

    response = client.post(
        reverse("admin:campaigns_greetingrule_add"),
        {"name": "Mid-Autumn", "is_active": "on", "occasion": "festival", "send_time": "10:00", "gift_value": "0"},
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "festival" in errors and "message_channel" in errors
    assert not GreetingRule.objects.exists()


def test_gift_admin_blocks_overspending_with_a_clear_message(client, supervisor, make_player, tiers):
    GiftBudget.objects.create(tier=tiers["V4"], monthly_amount=Decimal("100"))
    player = make_player(tier=tiers["V4"])
    client.force_login(supervisor)
    url = reverse("admin:campaigns_giftentry_add")
    data = {"player": player.pk, "kind": "value", "value": "80", "given_on": "2026-11-20", "reason": "birthday"}

    assert client.post(url, data).status_code == 302
    response = client.post(url, {**data, "value": "30"})

    assert response.status_code == 200
    (error,) = response.context["adminform"].form.errors["value"]
    assert "V4" in error and "¥80.00" in error and "¥100.00" in error
    assert GiftEntry.objects.count() == 1


def test_greeting_log_changelist_is_scoped(client, manager, make_rule, make_player, other_manager):
    rule = make_rule()
    mine = make_player(manager=manager)
    theirs = make_player(manager=other_manager)
    Greeting.objects.create(rule=rule, player=mine, occasion_date=date(2026, 11, 22))
    Greeting.objects.create(rule=rule, player=theirs, occasion_date=date(2026, 11, 22))
    client.force_login(manager)

    response = client.get(reverse("admin:campaigns_greeting_changelist"))

    assert response.status_code == 200
    assert [g.player for g in response.context["cl"].result_list] == [mine]


@pytest.mark.parametrize("rows", [1, 6])
def test_greeting_log_changelist_query_count_is_pinned(
    rows, client, supervisor, make_rule, make_player, django_assert_num_queries
):
    rule = make_rule()
    for i in range(rows):
        player = make_player()
        gift = GiftEntry.objects.create(
            player=player, kind="value", value=Decimal(5), month=date(2026, 11, 1), given_on=date(2026, 11, 22)
        )
        task = OutreachTask.objects.create(  # its title is built from the player: no query per row
            player=player,
            kind="greeting",
            title="Birthday on 2026-11-22: call x",
            title_code="greeting_call",
            title_params={"occasion": "birthday", "date": "2026-11-22"},
            due_date=date(2026, 11, 21),
        )
        Greeting.objects.create(
            rule=rule, player=player, occasion_date=date(2026, 11, 22 - i % 3), gift=gift, task=task
        )
    client.force_login(supervisor)

    with django_assert_num_queries(9):
        response = client.get(reverse("admin:campaigns_greeting_changelist"))

    assert len(response.context["cl"].result_list) == rows


@pytest.mark.parametrize("rows", [1, 5])
def test_gift_budget_changelist_shows_what_is_left_in_a_fixed_number_of_queries(
    rows, client, supervisor, tiers, make_player, django_assert_num_queries
):
    for name in list(tiers)[:rows]:
        GiftBudget.objects.create(tier=tiers[name], monthly_amount=Decimal("100"))
    player = make_player(tier=tiers["V1"])
    with time_machine.travel(NOW, tick=False):
        GiftEntry.objects.create(
            player=player,
            tier=tiers["V1"],
            kind="value",
            value=Decimal(30),
            month=date(2026, 11, 1),
            given_on=NOW.date(),
        )
        client.force_login(supervisor)

        with django_assert_num_queries(7):
            response = client.get(reverse("admin:campaigns_giftbudget_changelist"))

    assert "¥70.00" in response.content.decode()


@time_machine.travel(NOW, tick=False)
def test_the_plan_of_a_caught_up_call_shows_what_became_of_it(client, manager, make_rule, make_player):
    # given a call the day before a birthday today: its day (yesterday) has passed
    make_rule(name="Birthday call", occasion="birthday", task_lead_days=1)
    player = make_player(nickname="Today", birthday=date(1990, 11, 20), manager=manager)
    birthdays_refresh()
    client.force_login(manager)

    def plan():
        rows = client.get(UPCOMING).context["upcoming"].rows
        return next(r for r in rows if r.player == player).plan[0]

    # before the job: it will create the call today, not on a day gone by
    assert plan() == "Call task for manager_a on 2026-11-20"
    # the job catches up: the call is due today
    greetings_run(on=NOW.date(), deliver=False)
    assert plan() == "Call task for manager_a, due 2026-11-20"
    # the manager made the call: done, and when
    task = OutreachTask.objects.get(player=player)
    task_outcome_record(task=task, outcome="reached", actor=manager)
    assert plan() == "Call task for manager_a: done on 2026-11-20"


def test_upcoming_rows_of_lunar_occasions_carry_their_lunar_date(make_rule, make_player, manager):
    from django.utils import translation

    from campaigns.greeting_selectors import greetings_upcoming

    # given a 除夕 rule, a 清明 rule and a New Year's Day rule, and one of my players
    make_rule(name="除夕拜年", occasion="festival", festival="chuxi", task_lead_days=0)
    make_rule(name="清明", occasion="festival", festival="qingming", task_lead_days=0)
    make_rule(name="元旦", occasion="festival", festival="new_year", task_lead_days=0)
    make_player(nickname="守岁", manager=manager)

    # when the 30 days from 2026-01-20 are listed (除夕 2026 is 腊月廿九, 02-16)
    rows = greetings_upcoming(user=manager, start=date(2026, 1, 20), span_days=30).rows

    # then 除夕's row carries its lunar date; a solar festival's none
    with translation.override("zh-hans"):
        labels = {(r.day, r.rule.name): r.lunar_date for r in rows}
    assert labels == {(date(2026, 2, 16), "除夕拜年"): "农历十二月廿九"}
    rows = greetings_upcoming(user=manager, start=date(2026, 1, 1), span_days=5).rows
    assert [(r.rule.name, r.lunar_date) for r in rows] == [("元旦", "")]
