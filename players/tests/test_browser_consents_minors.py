"""Lawful outreach as the team uses it, in Chromium, in Chinese and in English: a VIP
manager records on the player page that the player withdrew their SMS consent (their
queued SMS is cancelled), a supervisor works the minors' queue, and the customer card
shows a minor and their payment over the cap. Screenshots in the artifacts folder."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from campaigns.models import MessageStatus
from campaigns.services.messaging import message_queue
from crm.tests.browser import in_language, login, no_horizontal_scroll, shot
from players.models import ConsentEvent, MinorSpendFlag, PaymentSource, Player
from players.services import payment_record
from players.services.consents import consent_record

PASSWORD = "browser-pw-20"

WORDS = {
    "zh-hans": {
        "record": "记录同意情况",
        "sms": "短信",
        "marketing": "营销",
        "withdrawn": "撤回",
        "save": "记录",
        "done": "已记录同意情况。",
        "queue_title": "未成年人超限充值",
        "over_payment": "超出单次充值限额",
        "review": "标记为已复核",
        "reviewed": "已标记为已复核。",
        "card_flag": "1 笔未成年人超限充值待复核",
        "card_minor": "未满14周岁",
        "consent_card": "营销同意",
    },
    "en": {
        "record": "Record consent",
        "sms": "SMS",
        "marketing": "Marketing",
        "withdrawn": "Withdrawn",
        "save": "Record",
        "done": "Consent recorded.",
        "queue_title": "Minors' payments over the caps",
        "over_payment": "Over the cap per payment",
        "review": "Mark reviewed",
        "reviewed": "Marked reviewed.",
        "card_flag": "1 payment over a minor's cap to review",
        "card_minor": "under 14",
        "consent_card": "Marketing consent",
    },
}


@pytest.fixture
def team(base_data):
    User = get_user_model()
    li = User.objects.create_user(username="lina", password=PASSWORD, first_name="娜", last_name="李", is_staff=True)
    li.groups.add(Group.objects.get(name="VIP manager"))
    boss = User.objects.create_user(username="boss", password=PASSWORD, first_name="伟", last_name="王", is_staff=True)
    boss.groups.add(Group.objects.get(name="Supervisor"))
    return li, boss


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_a_manager_records_a_withdrawal_and_the_queued_sms_is_cancelled(page, live_server, team, language):
    li, _boss = team
    words = WORDS[language]
    player = Player.objects.create(account_id="demo-200001", nickname="龙傲天丶", server="s1", manager=li)
    consent_record(
        player=player, channel="sms", purpose="marketing", status="granted", source="api", evidence="注册勾选"
    )
    queued = message_queue(player=player, channel="sms", body="双十二活动", source="campaign:9")
    assert queued.status == MessageStatus.QUEUED
    base = live_server.url
    in_language(page, base, language)
    login(page, base, "lina", PASSWORD)

    page.goto(f"{base}/admin/players/player/{player.pk}/change/")
    page.get_by_role("link", name=words["record"]).click()
    page.wait_for_selector("#consent-record")
    page.select_option("#id_channel", label=words["sms"])
    page.get_by_label(words["marketing"], exact=True).check()
    page.get_by_label(words["withdrawn"], exact=True).check()
    page.fill("#id_evidence", "电话回访时玩家说：别再发短信了")
    assert no_horizontal_scroll(page)
    shot(page, f"h3-20-consent-record-{language}")
    page.get_by_role("button", name=words["save"]).click()
    page.wait_for_selector(".messagelist")

    assert words["done"] in page.locator(".messagelist").inner_text()
    consent_box = page.locator(".field-consents_display").inner_text()
    assert words["withdrawn"] in consent_box and "李娜" in consent_box
    page.locator(".field-consents_display").scroll_into_view_if_needed()
    shot(page, f"h3-20-consent-recorded-{language}")
    queued.refresh_from_db()
    assert (queued.status, queued.status_reason) == (MessageStatus.CANCELLED, "consent_withdrawn")
    event = ConsentEvent.objects.get(player=player, status="withdrawn")
    assert (event.source, event.recorded_by) == ("staff", li)


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_a_supervisor_works_the_minors_queue_and_the_card_shows_the_flag(page, live_server, team, language):
    li, boss = team
    words = WORDS[language]
    today = timezone.localdate()
    child = Player.objects.create(
        account_id="demo-200002",
        nickname="小明同学",
        server="s1",
        manager=li,
        birthday=date(today.year - 12, 1, 1) if today.month > 1 else date(today.year - 13, 1, 1),
    )
    payment_record(
        account_id=child.account_id,
        event_id="GP-MINOR-1",
        kind="purchase",
        amount=Decimal("68.00"),
        currency="CNY",
        occurred_at=timezone.now() - timedelta(hours=2),
        source=PaymentSource.API,
    )
    assert MinorSpendFlag.objects.filter(player=child).count() == 1
    base = live_server.url
    in_language(page, base, language)
    login(page, base, "boss", PASSWORD)

    # the card at the top of the player page: a minor under 14, one payment over the cap
    page.goto(f"{base}/admin/players/player/{child.pk}/change/")
    page.wait_for_selector("#customer-card")
    card = page.locator("#customer-card").inner_text()
    assert words["card_minor"] in card and words["card_flag"] in card and words["consent_card"] in card
    shot(page, f"h3-20-card-minor-{language}")

    # the queue, through the card's link
    page.get_by_role("link", name=words["card_flag"]).click()
    page.wait_for_selector("#result_list")
    rows = page.locator("#result_list tbody tr").all_inner_texts()
    assert len(rows) == 1 and words["over_payment"] in rows[0] and "¥68.00" in rows[0] and "¥50.00" in rows[0]
    assert no_horizontal_scroll(page)
    shot(page, f"h3-20-minors-queue-{language}")
    page.get_by_role("link", name=words["review"]).click()
    page.fill("#id_note", "已联系监护人，建议走未成年人退款流程")
    page.get_by_role("button", name=words["review"]).click()
    page.wait_for_selector(".messagelist")
    assert words["reviewed"] in page.locator(".messagelist").inner_text()
    assert page.locator("#result_list tbody tr").count() == 0  # reviewed: off the default view
    shot(page, f"h3-20-minors-queue-reviewed-{language}")
    assert MinorSpendFlag.objects.get(player=child).reviewed_by == boss
