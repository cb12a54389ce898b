"""A VIP manager reads a lunar birthday where it matters: on the customer card (农历八月十三
beside the day it falls on this year) and on the upcoming-greetings page (the lunar date
beside the solar one), in Chinese and in English; a colleague without the personal-data
permission sees neither the birthday nor its lunar date."""

from datetime import date, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.urls import reverse
from django.utils import timezone

from campaigns.models import GreetingRule
from crm.calendar import lunar_of, lunar_to_solar
from crm.tests.browser import in_language, login, shot
from players.models import Player
from players.services.birthdays import birthdays_refresh

# How people write lunar months and days, typed in (not computed by the code under test).
MONTHS = ["正", "二", "三", "四", "五", "六", "七", "八", "九", "十", "十一", "十二"]
DAYS = [f"初{d}" for d in "一二三四五六七八九十"] + [f"十{d}" for d in "一二三四五六七八九"] + ["二十"]
DAYS += [f"廿{d}" for d in "一二三四五六七八九"] + ["三十"]
ORDINALS = {1: "1st", 2: "2nd", 3: "3rd", 21: "21st", 22: "22nd", 23: "23rd"}


def _english(n: int) -> str:
    return ORDINALS.get(n, f"{n}th")


@pytest.fixture
def lunar_birthdays(base_data):
    """李娜 (VIP manager) with two players keeping lunar birthdays: 月影, born 1978-09-15
    (lunar 8/13), and 玉兔, whose lunar birthday comes in a few days; 王强, a colleague who
    may not see personal data, manages the same players' twins."""
    lina = get_user_model().objects.create_user(
        username="lina", password="browser-pw-4", first_name="娜", last_name="李", is_staff=True
    )
    lina.groups.add(Group.objects.get(name="VIP manager"))
    wang = get_user_model().objects.create_user(
        username="wang", password="browser-pw-4", first_name="强", last_name="王", is_staff=True
    )
    wang.user_permissions.set(
        Permission.objects.filter(group__name="VIP manager").exclude(codename="view_personal_data")
    )
    today = timezone.localdate()
    soon = next(
        day
        for day in (today + timedelta(days=n) for n in range(2, 40))
        if not lunar_of(day).is_leap_month and lunar_of(day).day <= 29
    )
    lunar_soon = lunar_of(soon)
    players = {}
    for manager in (lina, wang):
        players[manager.username, "moon"] = Player.objects.create(
            account_id=f"moon-{manager.username}",
            nickname="月影",
            manager=manager,
            birthday=date(1978, 9, 15),
            birthday_is_lunar=True,
        )
        players[manager.username, "rabbit"] = Player.objects.create(
            account_id=f"rabbit-{manager.username}",
            nickname="玉兔",
            manager=manager,
            birthday=lunar_to_solar(1990, lunar_soon.month, lunar_soon.day),
            birthday_is_lunar=True,
        )
    birthdays_refresh(player_ids=[p.pk for p in players.values()])
    rule = GreetingRule(name="生日问候", occasion="birthday", task_lead_days=1)
    rule.full_clean()
    rule.save()
    return {"players": players, "soon": soon, "lunar_soon": lunar_soon, "today": today}


def _card_birthday(page) -> str:
    return page.locator("#customer-card [data-fact=birthday] dd").inner_text()


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_the_card_and_the_greetings_page_show_the_lunar_birthday(page, live_server, lunar_birthdays, language):
    base = live_server.url
    in_language(page, base, language)
    login(page, base, "lina", "browser-pw-4")
    moon = lunar_birthdays["players"]["lina", "moon"]
    this_year = lunar_to_solar(lunar_birthdays["today"].year, 8, 13)  # 2026: 2026-09-23

    # the customer card: the date of birth, its lunar date, and the day it falls on this year
    page.goto(f"{base}{reverse('admin:players_player_change', args=[moon.pk])}")
    page.wait_for_selector("#customer-card")
    birthday = _card_birthday(page)
    shot(page, f"lunar-card-{language}")
    assert "1978-09-15" in birthday
    if language == "zh-hans":
        assert f"农历八月十三（今年：{this_year.isoformat()}）" in birthday
    else:
        assert f"lunar 8th month, 13th day (this year: {this_year.isoformat()})" in birthday

    # the upcoming greetings: 玉兔's row shows the solar day and its lunar date
    page.goto(f"{base}{reverse('admin:campaigns_greeting_upcoming')}")
    row = page.locator("#upcoming-greetings tbody tr", has_text="玉兔")
    row.first.wait_for()
    shot(page, f"lunar-upcoming-{language}")
    soon, lunar = lunar_birthdays["soon"], lunar_birthdays["lunar_soon"]
    date_cell = row.first.locator("td").first.inner_text()
    assert soon.isoformat() in date_cell
    if language == "zh-hans":
        assert f"农历{MONTHS[lunar.month - 1]}月{DAYS[lunar.day - 1]}" in date_cell
    else:
        assert f"lunar {_english(lunar.month)} month, {_english(lunar.day)} day" in date_cell


def test_without_the_personal_data_permission_neither_birthday_nor_lunar_date_shows(page, live_server, lunar_birthdays):
    base = live_server.url
    in_language(page, base, "zh-hans")
    login(page, base, "wang", "browser-pw-4")
    moon = lunar_birthdays["players"]["wang", "moon"]

    page.goto(f"{base}{reverse('admin:players_player_change', args=[moon.pk])}")
    page.wait_for_selector("#customer-card")
    shot(page, "lunar-card-masked")
    birthday = _card_birthday(page)
    assert birthday == "****-**-**"
    content = page.locator("#content").inner_text()
    assert "1978" not in content and "农历八月" not in content

    page.goto(f"{base}{reverse('admin:campaigns_greeting_upcoming')}")
    page.wait_for_selector("#upcoming-greetings")
    shot(page, "lunar-upcoming-masked")
    assert page.locator("#upcoming-greetings tbody tr", has_text="玉兔").count() == 0
    assert "农历" not in page.locator("#upcoming-greetings").inner_text()


def test_a_supervisor_makes_a_rule_for_a_solar_term_and_for_the_southern_little_new_year(page, live_server, base_data):
    supervisor = get_user_model().objects.create_user(
        username="liu", password="browser-pw-4", first_name="洋", last_name="刘", is_staff=True
    )
    supervisor.groups.add(Group.objects.get(name="Supervisor"))
    base = live_server.url
    in_language(page, base, "zh-hans")
    login(page, base, "liu", "browser-pw-4")

    for name, label in (("冬至问候", "冬至"), ("南方小年", "小年（南方：腊月二十四）")):
        page.goto(f"{base}{reverse('admin:campaigns_greetingrule_add')}")
        page.fill("#id_name", name)
        page.select_option("#id_occasion", "festival")
        groups = page.locator("#id_festival optgroup").evaluate_all("gs => gs.map(g => g.label)")
        assert groups == ["节日", "二十四节气"]
        page.select_option("#id_festival", label=label)
        page.fill("#id_task_lead_days", "0")
        page.locator("#id_festival").scroll_into_view_if_needed()
        shot(page, f"lunar-rule-form-{name}")
        page.click("input[name=_save]")
        page.wait_for_load_state()
        assert page.locator(".errorlist").count() == 0, page.locator("#content").inner_text()[:500]

    assert dict(GreetingRule.objects.values_list("name", "festival")) == {
        "冬至问候": "dongzhi",
        "南方小年": "xiaonian_south",
    }
