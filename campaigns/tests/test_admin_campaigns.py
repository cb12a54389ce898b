import csv
import io
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone, translation

from campaigns.models import Campaign, CampaignStatus, OutreachTask, TaskStatus
from campaigns.services.campaigns import campaign_launch
from campaigns.tests.fixtures import library_script
from players.models import CallScript, ContactLog


@pytest.fixture
def script(db):
    """The win-back script of the library (话术库) the phone campaigns use."""
    return library_script("{nickname}您好，我是{manager}", "win_back")


def _form_data(**overrides):
    data = {
        "name": "Call quiet whales",
        "goal": "win_back",
        "channel": "phone_task",
        "call_script": str(CallScript.objects.get(category="win_back").pk),
        "subject": "",
        "template": "",
        "start_date": "2026-11-22",
        "due_date": "2026-11-29",
        "holdout_percent": "10",
        "segment__tier_min": "3",
        "segment__servers": "s1, s2",
        "segment__no_login_days": "14",
    }
    data.update(overrides)
    return data


def test_supervisor_creates_a_campaign_with_a_segment(client, supervisor, script):
    client.force_login(supervisor)
    response = client.post(reverse("admin:campaigns_campaign_add"), _form_data())
    assert response.status_code == 302, response.context["adminform"].form.errors
    campaign = Campaign.objects.get()
    assert campaign.segment == {"tier_min": 3, "servers": ["s1", "s2"], "no_login_days": 14}
    assert campaign.owner == supervisor and campaign.status == CampaignStatus.DRAFT
    # the change page shows the segment and how many players it selects now
    page = client.get(reverse("admin:campaigns_campaign_change", args=[campaign.pk]))
    assert "players now" in page.content.decode()  # 启动 is clicked in crm/tests/test_browser_supervisor_day.py


def test_a_campaigns_priority_is_set_on_the_form_bounded_and_defaulted(client, supervisor, script):
    client.force_login(supervisor)
    url = reverse("admin:campaigns_campaign_add")
    response = client.post(url, _form_data(priority="101"))
    assert response.status_code == 200 and "priority" in response.context["adminform"].form.errors
    assert client.post(url, _form_data(name="春节大促", priority="80")).status_code == 302
    assert client.post(url, _form_data(name="日常")).status_code == 302  # no priority given: the default
    assert dict(Campaign.objects.values_list("name", "priority")) == {"春节大促": 80, "日常": 50}


def test_unknown_variable_is_an_error_on_the_form(client, supervisor, script):
    client.force_login(supervisor)
    response = client.post(reverse("admin:campaigns_campaign_add"), _form_data(channel="sms", template="Hi {nick}"))
    assert response.status_code == 200
    assert "{nick}" in str(response.context["adminform"].form.errors["template"])
    assert not Campaign.objects.exists()


def test_a_phone_campaigns_script_comes_from_the_library(client, supervisor, script):
    """Issue 22: not free text inside the campaign's template."""
    client.force_login(supervisor)
    response = client.post(
        reverse("admin:campaigns_campaign_add"), _form_data(call_script="", template="{nickname}您好，我是{manager}")
    )
    errors = response.context["adminform"].form.errors
    assert "call_script" in errors and "script library" in str(errors["template"])
    greeting = library_script("{nickname}，{occasion}快乐！", "greeting_call")
    response = client.post(reverse("admin:campaigns_campaign_add"), _form_data(call_script=str(greeting.pk)))
    assert "{occasion}" in str(response.context["adminform"].form.errors["call_script"])
    assert not Campaign.objects.exists()


def test_launch_from_the_admin_then_results_page_and_csv(client, supervisor, make_player, manager, tiers, script):
    for _ in range(5):
        make_player(manager=manager, tier=tiers["V3"], last_login_at=timezone.now() - timedelta(days=30))
    client.force_login(supervisor)
    client.post(reverse("admin:campaigns_campaign_add"), _form_data(holdout_percent="0"))
    campaign = Campaign.objects.get()
    response = client.post(reverse("admin:campaigns_campaign_launch", args=[campaign.pk]), follow=True)
    assert response.status_code == 200 and "Launched: 5 players" in response.content.decode()
    assert OutreachTask.objects.filter(campaign=campaign, assignee=manager).count() == 5
    page = client.get(reverse("admin:campaigns_campaign_results", args=[campaign.pk])).content.decode()
    assert "chart.umd.min.js" in page and 'id="campaign-results-data"' in page and "Too few players" in page
    export = client.get(reverse("admin:campaigns_campaign_results_csv", args=[campaign.pk]))
    rows = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig"))))
    assert rows[0] == ["measure", "treated", "holdout"] and rows[1] == ["targeted", "5", "0"]


def test_manager_cannot_launch_or_see_campaigns(client, manager, make_campaign):
    campaign = make_campaign()
    client.force_login(manager)
    assert client.post(reverse("admin:campaigns_campaign_launch", args=[campaign.pk])).status_code == 403
    assert client.get(reverse("admin:campaigns_campaign_results", args=[campaign.pk])).status_code == 403
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT


def _worklist(make_campaign, make_player, manager, other_manager, supervisor):
    today = timezone.localdate()
    mine = [make_player(manager=manager, nickname=f"我的{i}", phone="+8613812345678") for i in range(3)]
    theirs = make_player(manager=other_manager)
    campaign = make_campaign(
        holdout_percent=0, template="{nickname}您好", start_date=today - timedelta(days=5), due_date=today
    )
    campaign_launch(campaign=campaign, actor=supervisor)
    OutreachTask.objects.filter(player=mine[0]).update(due_date=today - timedelta(days=2))  # overdue
    OutreachTask.objects.filter(player=mine[2]).update(due_date=today + timedelta(days=3))  # later
    return mine, theirs


def test_worklist_shows_my_tasks_today_and_overdue(
    client, make_campaign, make_player, manager, other_manager, supervisor, django_assert_num_queries
):
    mine, theirs = _worklist(make_campaign, make_player, manager, other_manager, supervisor)
    client.force_login(manager)
    url = reverse("admin:campaigns_worklisttask_changelist")
    client.get(url)
    with django_assert_num_queries(6):
        response = client.get(url)
    page = response.content.decode()
    assert response.status_code == 200
    assert f'id="task-{OutreachTask.objects.get(player=mine[0]).pk}" class="overdue"' in page
    assert [
        (section["title"], [row["task"].player.nickname for row in section["rows"]])
        for section in response.context["sections"]
    ] == [("Overdue", ["我的0"]), ("Due today", ["我的1"]), ("Later", ["我的2"])]
    assert "我的1您好" in page
    assert f'task-{OutreachTask.objects.get(player=theirs).pk}"' not in page
    assert "138****5678" not in page and "+8613812345678" in page  # managers see their players' phones


def test_one_click_outcome_writes_the_contact_log(
    client, make_campaign, make_player, manager, other_manager, supervisor
):
    mine, theirs = _worklist(make_campaign, make_player, manager, other_manager, supervisor)
    task = OutreachTask.objects.get(player=mine[1])
    client.force_login(manager)
    response = client.post(
        reverse("admin:campaigns_worklisttask_outcome", args=[task.pk]),
        {"outcome": "promised_return", "note": "周末上线"},
        follow=True,
    )
    assert response.status_code == 200 and "Promised to return" in response.content.decode()
    task.refresh_from_db()
    assert task.status == TaskStatus.DONE and task.outcome == "promised_return"
    contact = ContactLog.objects.get(player=mine[1])
    assert contact.staff == manager and contact.outcome == "promised_return" and contact.summary == "周末上线"


def test_manager_cannot_record_outcomes_on_other_players(
    client, make_campaign, make_player, manager, other_manager, supervisor
):
    mine, theirs = _worklist(make_campaign, make_player, manager, other_manager, supervisor)
    task = OutreachTask.objects.get(player=theirs)
    client.force_login(manager)
    response = client.post(reverse("admin:campaigns_worklisttask_outcome", args=[task.pk]), {"outcome": "reached"})
    assert response.status_code == 404
    task.refresh_from_db()
    assert task.status == TaskStatus.OPEN and not ContactLog.objects.exists()


def test_worklist_is_empty_for_a_new_manager(client, make_staff):
    client.force_login(make_staff("new", "VIP manager"))
    response = client.get(reverse("admin:campaigns_worklisttask_changelist"))
    assert response.status_code == 200 and "No open tasks. Well done." in response.content.decode()
    assert date.today()  # the page renders without tasks


# --- a campaign on a festival or a solar term (crm.calendar) ------------------------------
NOW = datetime(2026, 12, 6, 12, tzinfo=ZoneInfo("Asia/Shanghai"))


@pytest.mark.parametrize(
    ("festival", "day"),
    [
        ("chuxi", date(2027, 2, 5)),  # 腊月廿九: lunar 2026's twelfth month has 29 days
        ("dongzhi", date(2026, 12, 22)),  # a solar term
        ("xiaonian_south", date(2027, 1, 31)),  # 腊月廿四
        ("laba", date(2027, 1, 15)),
    ],
)
def test_a_campaign_on_a_festival_starts_on_its_next_day(client, supervisor, script, festival, day):
    client.force_login(supervisor)
    with time_machine.travel(NOW, tick=False):
        response = client.post(
            reverse("admin:campaigns_campaign_add"), _form_data(festival=festival, start_date="", due_date="")
        )
    assert response.status_code == 302, response.context["adminform"].form.errors
    campaign = Campaign.objects.get()
    assert (campaign.festival, campaign.start_date, campaign.due_date) == (festival, day, day)


def test_a_festival_campaigns_start_must_be_the_festival(client, supervisor, script):
    client.force_login(supervisor)
    url = reverse("admin:campaigns_campaign_add")
    with translation.override("zh-hans"):
        response = client.post(
            url,
            _form_data(festival="qingming", start_date="2027-04-04", due_date="2027-04-10"),
            HTTP_ACCEPT_LANGUAGE="zh-hans",
        )
        errors = response.context["adminform"].form.errors
        assert response.status_code == 200
        assert errors["start_date"] == ["清明节 不在 2027-04-04：下一次是 2027-04-05。"]
    response = client.post(url, _form_data(festival="qingming'); DROP TABLE campaigns_campaign;--"))
    assert response.status_code == 200 and "festival" in response.context["adminform"].form.errors
    response = client.post(url, _form_data(start_date="", due_date=""))  # no festival: the dates are needed
    errors = response.context["adminform"].form.errors
    assert response.status_code == 200 and "start_date" in errors
    assert not Campaign.objects.exists()


def test_a_festival_campaigns_messages_go_out_on_the_festival(make_campaign, make_player):
    from campaigns.models import Message

    make_player()
    campaign = make_campaign(
        channel="in_game",
        festival="chuxi",
        template="{nickname}，除夕快乐！",
        start_date=date(2027, 2, 5),
        due_date=date(2027, 2, 5),
    )
    campaign_launch(campaign=campaign, now=NOW)
    message = Message.objects.get(campaign=campaign)
    assert message.scheduled_for == datetime(2027, 2, 5, tzinfo=ZoneInfo("Asia/Shanghai"))
