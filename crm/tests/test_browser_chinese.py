"""What a Chinese VIP team reads, in a real browser, in zh-hans: labels that mean what
they say, forms that start filled with values the browser accepts."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from crm.tests.browser import in_chinese, login, shot


@pytest.fixture
def supervisor_login(base_data):
    user = get_user_model().objects.create_user(
        username="liu", password="browser-pw-2", first_name="洋", last_name="刘", is_staff=True
    )
    user.groups.add(Group.objects.get(name="Supervisor"))
    return "liu", "browser-pw-2"


def test_the_daily_report_opens_on_today_with_dates_labelled_as_dates(page, live_server, supervisor_login):
    base = live_server.url
    in_chinese(page, base)
    login(page, base, *supervisor_login)

    page.goto(f"{base}/admin/players/case/report/")
    today = timezone.localdate().isoformat()
    labels = page.locator("form.crm-report-form label").all_inner_texts()
    assert labels[:2] == ["起始日期:", "截止日期:"]
    assert page.input_value("#id_start") == today and page.input_value("#id_end") == today
    page.click("form.crm-report-form input[type=submit]")
    page.wait_for_selector("#work-report")
    assert "此字段为必填项" not in page.locator("#content").inner_text()
    shot(page, "zh-daily-report")


def test_a_greeting_rules_switch_reads_enabled(page, live_server, supervisor_login):
    base = live_server.url
    in_chinese(page, base)
    login(page, base, *supervisor_login)

    page.goto(f"{base}/admin/campaigns/greetingrule/add/")
    assert page.locator("label[for=id_is_active]").inner_text().strip() == "启用"


def _read_as_chinese(page, allowed) -> list[str]:
    from crm.i18n_check import raw_text_found

    return sorted({str(f) for f in raw_text_found(page.inner_text("body"), allowed=allowed)})


def _walk(page, base, username, paths, allowed):
    in_chinese(page, base)
    login(page, base, username, "browser-pw-3")
    problems = {}
    for n, path in enumerate(paths):
        page.goto(f"{base}{path}")
        page.wait_for_load_state()
        shot(page, f"zh-{username}-{n:02d}")
        found = _read_as_chinese(page, allowed)
        if found:
            problems[path] = found
    return problems


def _allowed():
    from players.models import Player

    names = set(get_user_model().objects.values_list("username", flat=True))
    return names | set(Player.objects.values_list("channel", flat=True).distinct())


def test_a_managers_day_in_chinese_shows_no_codes(page, live_server, demo_day):
    from players.models import Player
    from players.models.service_records import Case, CaseStatus

    li = get_user_model().objects.get(username="manager_li")
    player = Player.objects.filter(manager=li).order_by("-total_spend").first()
    case = Case.objects.filter(owner=li).exclude(status=CaseStatus.NEW).order_by("pk").first()
    paths = [
        "/admin/",
        "/admin/players/player/",
        f"/admin/players/player/{player.pk}/change/",
        "/admin/players/case/",
        f"/admin/players/case/{case.pk}/change/",
        "/admin/campaigns/worklisttask/",
        "/admin/campaigns/greeting/upcoming/",
        "/admin/campaigns/giftentry/",
        "/admin/players/contactlog/",
    ]
    problems = _walk(page, live_server.url, "manager_li", paths, _allowed())
    assert not problems, problems


def test_a_supervisors_day_in_chinese_shows_no_codes(page, live_server, demo_day):
    from campaigns.models import Campaign

    draft = Campaign.objects.get(status="draft")
    paths = [
        "/admin/",
        "/admin/players/case/report/",
        "/admin/players/payerstatuschange/report/",
        "/admin/players/payerstatuschange/",
        "/admin/campaigns/campaign/",
        f"/admin/campaigns/campaign/{draft.pk}/change/",
        "/admin/campaigns/message/",
        "/admin/players/feedbacktopic/",
    ]
    problems = _walk(page, live_server.url, "supervisor", paths, _allowed())
    assert not problems, problems


def test_the_team_picker_speaks_chinese(page, live_server, supervisor_login):
    base = live_server.url
    in_chinese(page, base)
    login(page, base, *supervisor_login)

    page.goto(f"{base}/admin/campaigns/campaign/add/")
    page.wait_for_selector("#id_team_add_all")
    choose_all = page.locator("#id_team_add_all").inner_text()
    remove_all = page.locator("#id_team_remove_all").inner_text()
    page.locator("#id_team_add_all").scroll_into_view_if_needed()
    shot(page, "zh-team-picker")
    assert choose_all.startswith("全选") and remove_all.startswith("删除全部")
