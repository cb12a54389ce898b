"""Personal data typed into free text (a phone number in feedback, a case subject, a task
title) stays masked for staff without players.view_personal_data wherever the text is
shown: page titles, breadcrumbs, headings, checkbox labels, the "same as" choices, the
history page, raw-id labels, autocomplete answers and the player timeline.
The browser test reads the pages as the operations user sees them; the widget answers
(raw-id label, autocomplete) are read as the browser's script would."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.test import Client
from django.urls import reverse

from crm.tests.browser import login, shot
from players.models import Player
from players.services.cases import case_open
from players.services.feedback import feedback_record

PHONE = "13812345678"
MASKED = "138****5678"
BACKEND = "django.contrib.auth.backends.ModelBackend"


@pytest.fixture
def feedback_with_a_phone(base_data):
    ops = get_user_model().objects.create_user(username="ops", password="browser-pw-3", is_staff=True)
    ops.groups.add(Group.objects.get(name="Operations"))
    player = Player.objects.create(account_id="p-1", nickname="Phone Typer")
    first = feedback_record(player=player, text=f"充值不到账 请回电 {PHONE}", kind="bug").topic
    second = feedback_record(player=player, text="登录闪退", kind="bug").topic
    return first, second


def test_operations_never_read_a_typed_phone_number_in_the_browser(page, live_server, feedback_with_a_phone):
    topic, other = feedback_with_a_phone
    base = live_server.url
    login(page, base, "ops", "browser-pw-3")
    seen = []

    page.goto(f"{base}{reverse('admin:players_feedbacktopic_changelist')}")
    labels = page.locator("input.action-select").evaluate_all("boxes => boxes.map(b => b.getAttribute('aria-label'))")
    seen += [page.title(), page.locator("#result_list").inner_text(), *labels]
    assert any(MASKED in label for label in labels)

    page.goto(f"{base}{reverse('admin:players_feedbacktopic_change', args=[topic.pk])}")
    shot(page, "masking-feedback-topic-operations")
    seen += [page.title(), page.locator(".breadcrumbs").inner_text(), page.locator("#content").inner_text()]
    assert MASKED in page.locator(".breadcrumbs").inner_text()

    page.goto(f"{base}{reverse('admin:players_feedbacktopic_history', args=[topic.pk])}")
    seen += [page.title(), page.locator(".breadcrumbs").inner_text(), page.locator("#content").inner_text()]

    # the "same as" action: both topics selected, the merge form lists them
    page.goto(f"{base}{reverse('admin:players_feedbacktopic_changelist')}")
    page.check(f"input.action-select[value='{topic.pk}']")
    page.check(f"input.action-select[value='{other.pk}']")
    page.select_option("select[name=action]", "merge_topics")
    page.click("button[name=index]")
    page.wait_for_load_state()
    seen += [page.title(), page.locator("#content").inner_text()]
    seen += page.locator("select option").all_inner_texts()

    text = "\n".join(seen)
    assert PHONE not in re.sub(r"\s", "", text)


@pytest.fixture
def masked_staff(db):
    """Every permission but personal data."""
    user = get_user_model().objects.create_user(username="masked", password="pw", is_staff=True)
    user.user_permissions.set(Permission.objects.exclude(codename="view_personal_data"))
    return user


def test_raw_id_labels_autocomplete_page_titles_and_the_timeline_mask_typed_numbers(masked_staff, make_player):
    from campaigns.models import OutreachTask

    player = make_player(manager=masked_staff)
    case = case_open(
        player=player,
        category="payment",
        severity="high",
        channel="phone",
        subject=f"退款 回电{PHONE}",
        description="",
        owner=masked_staff,
        actor=masked_staff,
    )
    OutreachTask.objects.create(player=player, assignee=masked_staff, title=f"回电 {PHONE}", due_date=case.opened_at)
    client = Client()
    client.force_login(masked_staff, backend=BACKEND)

    raw_id_form = client.get(reverse("admin:players_feedbackreport_add"), {"case": case.pk}).content.decode()
    label = re.search(r'id="lookup_id_case".*?<strong>(?:<a href="[^"]*">)?(.*?)(?:</a>)?</strong>', raw_id_form, re.S)
    autocomplete = client.get(
        reverse("admin:autocomplete"),
        {"app_label": "players", "model_name": "feedbackreport", "field_name": "player", "term": "玩家"},
    ).json()
    case_page = client.get(reverse("admin:players_case_change", args=[case.pk])).content.decode()
    title = re.search(r"<title>(.*?)</title>", case_page).group(1)
    player_page = client.get(reverse("admin:players_player_change", args=[player.pk])).content.decode()

    assert label and label.group(1).startswith(f"#{case.pk} ") and MASKED in label.group(1)
    assert PHONE not in str(autocomplete)
    assert MASKED in str(case) and PHONE not in title
    timeline = player_page.partition('class="wp-timeline')[2] or player_page
    assert PHONE not in re.sub(r"<[^>]+>", "", timeline)


def test_a_viewer_who_may_see_personal_data_reads_the_title_in_clear(make_player, supervisor):
    case = case_open(
        player=make_player(),
        category="payment",
        severity="high",
        channel="phone",
        subject=f"回电{PHONE}",
        description="",
        owner=supervisor,
        actor=supervisor,
    )
    client = Client()
    client.force_login(supervisor, backend=BACKEND)

    page = client.get(reverse("admin:players_case_change", args=[case.pk])).content.decode()

    assert PHONE in re.search(r"<title>(.*?)</title>", page).group(1)
