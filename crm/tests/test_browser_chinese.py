"""What a Chinese VIP team reads, in a real browser, in zh-hans: labels that mean what
they say, forms that start filled with values the browser accepts."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from crm.tests.browser import login, shot


def in_chinese(page, base_url):
    """The language a Chinese user picks: Django's language cookie."""
    page.context.add_cookies([{"name": "django_language", "value": "zh-hans", "url": base_url}])


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
