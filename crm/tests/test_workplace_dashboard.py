"""The dashboard that replaces the admin index: a manager's day, the team view."""

import html
import io
import re
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from campaigns.models import TaskStatus
from crm.workplace.aggregates import CACHE_KEY, dashboard_refresh
from players.models import ContactOutcome, PayerStatus, Player
from players.services import contact_log_create

pytestmark = pytest.mark.usefixtures("fresh_dashboard_cache")


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def dashboard_links(content: bytes) -> list[str]:
    """Every link inside the dashboard's panels (not the app list or the header)."""
    text = content.decode()
    start = text.index('class="wp-dashboard"')
    end = text.index('id="content-related"')
    hrefs = re.findall(r'href="([^"#][^"]*)"', text[start:end])
    return sorted({html.unescape(h) for h in hrefs if h.startswith("/admin/")})


def assert_links_work(client, content):
    links = dashboard_links(content)
    assert links, "the dashboard shows no links"
    for link in links:
        response = client.get(link)
        assert response.status_code == 200, (link, response.status_code, response.get("Location"))
    return links


def test_a_manager_sees_their_day_and_not_the_team(
    manager, other_manager, make_player, make_task, make_campaign, tiers
):
    # given: my tasks (one overdue, one today, one next week, one done), another manager's,
    # and two campaigns' tasks due in two weeks: one campaign started today, one starts tomorrow
    today = timezone.localdate()
    mine = make_player(nickname="小明", manager=manager)
    theirs = make_player(nickname="别人", manager=other_manager)
    make_task(mine, manager, title="Overdue call", due_date=today - timedelta(days=2))
    make_task(mine, manager, title="Today call", due_date=today)
    make_task(mine, manager, title="Later call", due_date=today + timedelta(days=7))
    make_task(mine, manager, title="Done call", due_date=today, status=TaskStatus.DONE)
    make_task(theirs, other_manager, title="Their call", due_date=today)
    running = make_campaign(name="running", start_date=today, due_date=today + timedelta(days=14))
    coming = make_campaign(name="coming", start_date=today + timedelta(days=1), due_date=today + timedelta(days=14))
    make_task(mine, manager, title="Running campaign call", due_date=running.due_date, campaign=running)
    make_task(mine, manager, title="Coming campaign call", due_date=coming.due_date, campaign=coming)

    # when
    response = client_for(manager).get(reverse("admin:index"))

    # then: every open task that has started, soonest due first, counted by section
    assert response.status_code == 200
    text = response.content.decode()
    assert "My day" in text and "The team" not in text
    panel = re.search(r'id="panel-tasks".*?(?=id="panel-)', text, re.S).group(0)
    shown = re.findall(r"(\w+(?: \w+)*) call · 小明", panel)
    assert shown == ["Overdue", "Today", "Later", "Running campaign"]
    assert "Done call" not in text and "Their call" not in text and "Coming campaign" not in text
    assert "2 days overdue" in panel
    tiles = {
        label: value
        for value, label in re.findall(r'wp-tile-value">([^<]+)</span>\s*<span class="wp-tile-label">([^<]+)<', panel)
    }
    assert tiles == {"overdue": "1", "due today": "1", "later": "2"}
    assert '<a class="wp-count wp-nonzero"' in panel and ">4</a>" in panel
    # the app list stays reachable
    assert reverse("admin:players_player_changelist") in text


def test_follow_ups_due_disappear_once_answered(manager, make_player):
    # given: a follow-up promised for today and one for a week ago, then answered
    today = timezone.localdate()
    player = make_player(nickname="回访甲", manager=manager)
    answered = make_player(nickname="已回访", manager=manager)
    now = timezone.now()
    contact_log_create(
        player=player,
        staff=manager,
        channel="phone",
        topic="Asked about the event",
        next_follow_up=today,
        contacted_at=now - timedelta(days=3),
    )
    contact_log_create(
        player=answered,
        staff=manager,
        channel="phone",
        topic="Refund question",
        next_follow_up=today - timedelta(days=7),
        contacted_at=now - timedelta(days=10),
    )
    contact_log_create(player=answered, staff=manager, channel="qq", topic="Answered", contacted_at=now)

    # when
    text = client_for(manager).get(reverse("admin:index")).content.decode()

    # then
    assert "回访甲 · Asked about the event" in text
    assert "Refund question" not in text


def with_birthday_keys(*players):
    from players.services.birthdays import birthdays_refresh

    birthdays_refresh(player_ids=[p.pk for p in players])


def test_birthdays_festivals_and_at_risk_vips_of_my_players(manager, other_manager, make_player, tiers):
    today = timezone.localdate()
    in_three_days = today + timedelta(days=3)
    with_birthday_keys(
        make_player(nickname="寿星", manager=manager, birthday=in_three_days.replace(year=1990)),
        make_player(nickname="今天生日", manager=manager, birthday=today.replace(year=1988)),
        make_player(nickname="别人的寿星", manager=other_manager, birthday=today.replace(year=1991)),
        make_player(nickname="下个月", manager=manager, birthday=(today + timedelta(days=20)).replace(year=1992)),
    )
    make_player(
        nickname="快流失", manager=manager, payer_status=PayerStatus.AT_RISK, tier=tiers["V5"], total_spend=1500
    )
    make_player(nickname="不是VIP", manager=manager, payer_status=PayerStatus.AT_RISK)

    text = client_for(manager).get(reverse("admin:index")).content.decode()

    birthdays = text[text.index('id="panel-birthdays"') : text.index('id="panel-at_risk"')]
    assert "寿星" in birthdays and "今天生日" in birthdays
    assert "别人的寿星" not in birthdays and "下个月" not in birthdays
    assert in_three_days.strftime("%m-%d") in birthdays
    at_risk = text[text.index('id="panel-at_risk"') :]
    assert "快流失" in at_risk and "不是VIP" not in at_risk and "¥1,500.00" in at_risk


def test_lunar_birthdays_and_festivals_of_the_week(manager, make_player):
    from datetime import date

    import time_machine

    from crm.calendar import lunar_to_solar

    # given: a player born on lunar 8-17 (greeted 2026-09-27, two days after Mid-Autumn)
    player = make_player(
        nickname="农历寿星", manager=manager, birthday=lunar_to_solar(1990, 8, 17), birthday_is_lunar=True
    )
    with_birthday_keys(player)

    # when: the manager looks on 2026-09-23
    with time_machine.travel(date(2026, 9, 23), tick=False):
        text = client_for(manager).get(reverse("admin:index")).content.decode()

    # then
    panel = text[text.index('id="panel-birthdays"') : text.index('id="panel-at_risk"')]
    assert "Mid-Autumn Festival" in panel and "09-25" in panel
    assert "农历寿星" in panel and "09-27" in panel and ">lunar<" in panel


def test_every_link_on_a_managers_dashboard_opens_its_filtered_list(manager, make_player, make_task, tiers):
    today = timezone.localdate()
    player = make_player(manager=manager, payer_status=PayerStatus.AT_RISK, tier=tiers["V3"], birthday=today)
    make_task(player, manager, due_date=today - timedelta(days=1))
    contact_log_create(player=player, staff=manager, channel="phone", topic="t", next_follow_up=today)
    client = client_for(manager)

    links = assert_links_work(client, client.get(reverse("admin:index")).content)

    assert "/admin/campaigns/worklisttask/?when=overdue" in links


def test_the_task_links_list_exactly_the_tasks_counted(manager, make_player, make_task):
    today = timezone.localdate()
    player = make_player(manager=manager)
    for days in (0, 1, 5):
        make_task(player, manager, title=f"t{days}", due_date=today - timedelta(days=days), source=f"s{days}")
    make_task(player, manager, title="future", due_date=today + timedelta(days=1), source="f")
    client = client_for(manager)
    text = client.get(reverse("admin:index")).content.decode()
    panel = re.search(r'id="panel-tasks".*?(?=id="panel-)', text, re.S).group(0)
    links = [html.unescape(h) for h in re.findall(r'href="(/admin/campaigns/worklisttask/[^"]*)"', panel)]

    def titles(link):
        page = client.get(link)
        assert page.status_code == 200
        return [row["task"].title for section in page.context["sections"] for row in section["rows"]]

    assert titles(links[0]) == ["t5", "t1", "t0", "future"]
    assert {link.rsplit("=", 1)[-1]: titles(link) for link in links if "when=" in link} == {
        "overdue": ["t5", "t1"],
        "today": ["t0"],
        "later": ["future"],
    }


def test_a_supervisor_sees_team_figures_from_the_cache_with_their_age(supervisor, make_player, pay, tiers):
    # given: two payers (V3 and V1) and a computed snapshot
    big, small = make_player(), make_player()
    pay(big, "100")
    pay(small, "6")
    make_player(payer_status=PayerStatus.AT_RISK, tier=tiers["V2"])
    dashboard_refresh(now=timezone.now() - timedelta(minutes=7))

    # when: more money arrives after the snapshot
    pay(big, "900")
    response = client_for(supervisor).get(reverse("admin:index"))

    # then: the page shows the snapshot, stamped with its age, not live figures
    text = response.content.decode()
    assert "The team" in text and "My day" not in text
    assert "Figures from 7" in text and "minutes ago" in text
    assert "¥106" in text and "¥1,006" not in text
    tiles = re.findall(r'<span class="wp-tile-value">([^<]+)</span>\s*<span class="wp-tile-label">([^<]+)</span>', text)
    assert {label: value for value, label in tiles}["At-risk VIPs"] == "1"
    assert_links_work(client_for(supervisor), response.content)


def test_the_dashboard_computes_the_figures_once_when_none_are_cached(supervisor, django_assert_max_num_queries):
    client = client_for(supervisor)
    client.get(reverse("admin:index"))  # computes and caches

    from django.core.cache import cache

    assert cache.get(CACHE_KEY) is not None
    with django_assert_max_num_queries(12):
        assert client.get(reverse("admin:index")).status_code == 200


def test_refresh_command_and_task_replace_the_snapshot(make_player, pay):
    from django.core.cache import cache

    from crm.tasks import dashboard_refresh_task

    player = make_player()
    pay(player, "30")
    out = io.StringIO()
    call_command("refresh_dashboard", stdout=out)
    assert "refreshed" in out.getvalue()
    assert cache.get(CACHE_KEY)["data"]["tiers"]["revenue"]
    first = cache.get(CACHE_KEY)["computed_at"]

    result = dashboard_refresh_task.delay().get()

    assert cache.get(CACHE_KEY)["computed_at"] > first
    assert set(result["timings_ms"]) >= {"tiers", "revenue_trend", "outreach"}


def test_the_refresh_job_is_on_the_beat_schedule(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["dashboard-refresh"]
    assert entry["task"] == "crm.tasks.dashboard_refresh_task"
    assert entry["schedule"] <= 15 * 60


def test_only_team_viewers_may_refresh(manager, supervisor):
    assert client_for(manager).post(reverse("workplace:refresh")).status_code == 403
    response = client_for(supervisor).post(reverse("workplace:refresh"))
    assert response.status_code == 302 and response["Location"] == reverse("admin:index")


def test_outreach_success_and_overdue_per_manager(supervisor, manager, make_player, make_task):
    today = timezone.localdate()
    player = make_player(manager=manager)
    now = timezone.now()
    for n, outcome in enumerate([ContactOutcome.REACHED, ContactOutcome.NO_ANSWER, ContactOutcome.PROMISED_RETURN]):
        make_task(player, manager, status=TaskStatus.DONE, outcome=outcome, completed_at=now, source=f"d{n}")
    make_task(player, manager, due_date=today - timedelta(days=3), source="late")

    text = client_for(supervisor).get(reverse("admin:index")).content.decode()

    assert "67%" in text and "2 of 3 tasks reached the player" in text
    overdue = text[text.index('id="panel-overdue"') :]
    assert "manager_a" in overdue


def test_a_manager_dashboard_costs_the_same_queries_with_more_work(
    manager, make_player, make_task, django_assert_max_num_queries
):
    today = timezone.localdate()
    client = client_for(manager)
    client.get(reverse("admin:index"))
    for n in range(30):
        player = make_player(manager=manager, birthday=today.replace(year=1990))
        with_birthday_keys(player)
        make_task(player, manager, due_date=today)
        contact_log_create(player=player, staff=manager, channel="phone", topic=f"t{n}", next_follow_up=today)

    with django_assert_max_num_queries(16):
        response = client.get(reverse("admin:index"))
    assert response.content.decode().count('class="wp-rows"') == 3


def test_players_are_counted_per_tier(supervisor, make_player, tiers):
    for _n in range(3):
        make_player(tier=tiers["V4"])
    make_player()
    snapshot = dashboard_refresh()
    assert snapshot["data"]["tiers"]["players"] == {tiers["V4"].pk: 3, None: 1}
    assert Player.objects.count() == 4


def test_a_managers_overdue_cases_and_those_due_soon(manager, other_manager, make_player, make_case):
    mine = make_player(nickname="投诉人", manager=manager)
    theirs = make_player(manager=other_manager)
    now = timezone.now()
    make_case(mine, actor=manager, subject="Top-up missing", opened_at=now - timedelta(days=4))
    make_case(mine, actor=manager, subject="Cannot log in", opened_at=now - timedelta(hours=59, minutes=30))
    make_case(mine, actor=manager, subject="Fresh question", opened_at=now)
    make_case(theirs, actor=other_manager, subject="Not mine", opened_at=now - timedelta(days=5))
    client = client_for(manager)

    response = client.get(reverse("admin:index"))

    text = response.content.decode()
    panel = text[text.index('id="panel-cases"') : text.index('id="panel-birthdays"')]
    assert "Top-up missing" in panel and "24 h overdue" in panel
    assert "Cannot log in" in panel and "due in 12 h" in panel
    assert "Fresh question" not in panel and "Not mine" not in panel
    assert ">1</a>" in panel
    assert_links_work(client, response.content)


def test_the_team_sees_sla_met_overdue_and_escalated_cases(supervisor, manager, make_player, make_case):
    from players.services.cases import case_resolve

    player = make_player(manager=manager)
    now = timezone.now()
    in_time = make_case(player, actor=manager, subject="a", opened_at=now - timedelta(hours=10))
    late = make_case(player, actor=manager, subject="b", opened_at=now - timedelta(days=5))
    make_case(player, actor=manager, subject="c", opened_at=now - timedelta(days=6))
    case_resolve(case=in_time, actor=manager, resolution="Refunded")
    case_resolve(case=late, actor=manager, resolution="Refunded late")
    client = client_for(supervisor)

    response = client.get(reverse("admin:index"))

    text = response.content.decode()
    tiles = {
        label: value
        for value, label in re.findall(
            r'<span class="wp-tile-value">([^<]+)</span>\s*<span class="wp-tile-label">([^<]+)</span>', text
        )
    }
    assert tiles["SLA met, 30 days"] == "50%"
    assert tiles["Overdue cases"] == "1"
    assert_links_work(client, response.content)


def test_the_dashboard_survives_an_unreadable_cache(supervisor, settings):
    # given: a cache server that is down
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}
    }

    response = client_for(supervisor).get(reverse("admin:index"))

    assert response.status_code == 200
    assert "The team figures cannot be read right now." in response.content.decode()
