"""The player page as a Chinese VIP manager uses it, in Chromium at 1366x768: find the
player by the last four digits of the phone, read the customer card at the top without
scrolling, then the actions, then a timeline that names who did what.
Fixtures and helpers (page, base_data, login, shot) are in crm/tests/browser.py."""

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.utils import timezone

from crm.tests.browser import login, no_horizontal_scroll, shot
from players.models import ContactLog, PaymentSource, Player
from players.services import contact_log_create, payment_record
from players.services.cases import case_open

PASSWORD = "browser-pw-7"


def _pay(player, amount, at, n, kind="purchase"):
    payment_record(
        account_id=player.account_id,
        event_id=f"GP2026{n:06d}",
        kind=kind,
        amount=Decimal(amount),
        currency="CNY",
        occurred_at=at,
        source=PaymentSource.API,
        product="6480 钻石" if Decimal(amount) >= 600 else "月卡",
    )


@pytest.fixture
def book(base_data):
    """A VIP manager (李娜) and a V5 whale of hers whose spend dropped, with an open case
    past its deadline, a follow-up booked and a game profile."""
    User = get_user_model()
    li = User.objects.create_user(username="lina", password=PASSWORD, first_name="娜", last_name="李", is_staff=True)
    li.groups.add(Group.objects.get(name="VIP manager"))
    now = timezone.now()
    whale = Player.objects.create(
        account_id="demo-100123",
        nickname="龙傲天丶",
        server="s1 紫禁之巅",
        channel="huawei",
        level=87,
        registered_at=timezone.make_aware(datetime(2024, 3, 1, 20, 15)),
        last_login_at=now - timedelta(days=9),
        real_name="欧阳娜娜",
        phone="+8613812345678",
        preferred_channel="wechat",
        manager=li,
    )
    _pay(whale, "648", now - timedelta(days=55), 1)
    _pay(whale, "328", now - timedelta(days=45), 2)
    _pay(whale, "328", now - timedelta(days=35), 3)
    _pay(whale, "68", now - timedelta(minutes=5), 4)  # this month
    contact_log_create(
        player=whale,
        staff=li,
        channel="wechat",
        topic="新赛季礼包",
        summary="说周末再上线",
        contacted_at=now - timedelta(days=2),
        next_follow_up=timezone.localdate() + timedelta(days=2),
    )
    case_open(
        player=whale,
        category="complaint",
        subject="充值未到账，请回电13812345678",
        actor=li,
        opened_at=now - timedelta(days=5),
    )
    whale.refresh_from_db()
    return li, whale


def _zh(page, base):
    page.context.add_cookies([{"name": "django_language", "value": "zh-hans", "url": base}])


def _visible_without_scrolling(page, selector) -> bool:
    box = page.locator(selector).bounding_box()
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= page.viewport_size["height"]


def test_a_manager_finds_the_player_by_phone_tail_and_reads_the_card_first(page, live_server, book):
    li, whale = book
    base = live_server.url
    _zh(page, base)
    login(page, base, "lina", PASSWORD)

    # 尾号: the player says "my number ends in 5678"
    page.goto(f"{base}/admin/players/player/")
    page.fill("#searchbar", "5678")
    page.press("#searchbar", "Enter")
    page.wait_for_selector("#result_list")
    assert "demo-100123" in page.locator("#result_list").inner_text()
    shot(page, "h7-01-search-phone-tail")
    page.locator("#result_list a", has_text="demo-100123").first.click()
    page.wait_for_selector("#customer-card")

    # the card, at the top, readable without scrolling
    assert page.evaluate("window.scrollY") == 0
    assert _visible_without_scrolling(page, "#customer-card")
    card = page.locator("#customer-card").inner_text()
    for expected in (
        "V5",
        "流失风险",
        "消费下降",
        "本月消费\n¥68.00",
        "累计消费\n¥1,372.00",
        "还差 ¥628.00 升至 V6",
        "李娜",  # family name first
        "138 1234 5678",  # this manager may see personal data
        "微信",
        (timezone.localdate() + timedelta(days=2)).isoformat(),
        "未结工单\n1 (已逾期)",
        "区服: s1 紫禁之巅",
        "游戏等级: 87",
        "最近登录:",
    ):
        assert expected in card, (expected, card)
    assert f"{(timezone.localtime() - timedelta(days=2)):%Y-%m-%d}" in card  # the last contact
    shot(page, "h7-02-player-card-zh")

    # then the actions, then the timeline
    card_y = page.locator("#customer-card").bounding_box()["y"]
    actions_y = page.locator("#quick-actions").bounding_box()["y"]
    timeline_y = page.locator("#timeline").bounding_box()["y"]
    assert card_y < actions_y < timeline_y
    assert timeline_y < page.viewport_size["height"]  # the timeline starts on the first screen

    # the timeline: payer-status changes, the case as typed (this manager may see it), who did it
    rows = page.locator("#timeline tr.wp-entry")
    texts = rows.all_inner_texts()
    statuses = [t for t in texts if "付费状态" in t]
    # the backdated history came in through the game API: judged as it arrived, by the system
    assert "→ 有流失风险" in statuses[0] and "消费下降" in statuses[0] and "系统 · 付费" in statuses[0], statuses
    assert "未付费 → 流失" in statuses[-1] and "距上次付费 55 天" in statuses[-1], statuses
    cases = [t for t in texts if "工单" in t]
    assert cases and all("13812345678" in t for t in cases)
    assert all(row.locator(".wp-who").inner_text().strip() for row in rows.all())
    assert any("李娜" in t and "新赛季礼包" in t for t in texts)
    assert sum("¥648.00" in t for t in texts) == 1
    assert page.locator("text=¥648.00").count() == 1  # payments once: no second table below
    page.locator("#timeline").scroll_into_view_if_needed()
    shot(page, "h7-03-player-timeline-zh")

    # game-owned facts cannot be edited on the page
    for field in ("server", "channel", "registered_at_0", "last_login_at_0", "level", "nickname"):
        assert page.locator(f"#player_form #id_{field}").count() == 0, field
    assert "s1 紫禁之巅" in page.locator("#player_form .field-server").inner_text()
    assert no_horizontal_scroll(page)


def test_a_manager_without_personal_data_sees_the_card_and_timeline_masked(page, live_server, book, make_staff):
    _, whale = book
    masked = get_user_model().objects.create_user(username="zhao", password=PASSWORD, is_staff=True)
    masked.user_permissions.add(
        *Permission.objects.filter(
            codename__in=["view_player", "change_player", "view_case", "view_contactlog", "view_payerstatuschange"]
        )
    )
    whale.manager = masked
    whale.save(update_fields=["manager"])
    base = live_server.url
    _zh(page, base)
    login(page, base, "zhao", PASSWORD)

    page.goto(f"{base}/admin/players/player/?q=欧阳娜娜")  # a real name they may not see
    assert "demo-100123" not in page.locator("#changelist").inner_text()
    page.goto(f"{base}/admin/players/player/?q=100123")  # the account id without its prefix
    page.locator("#result_list a", has_text="demo-100123").first.click()
    page.wait_for_selector("#customer-card")

    card = page.locator("#customer-card").inner_text()
    assert "138****5678" in card and "13812345678" not in card and "1234 5678" not in card
    timeline = page.locator("#timeline").inner_text()
    assert "138****5678" in timeline and "13812345678" not in timeline
    assert "欧阳" not in page.locator("#content").inner_text()
    shot(page, "h7-04-player-card-masked-zh")


def test_the_card_counts_money_in_the_base_currency(settings, make_player, pay, manager):
    """Money as Decimal in the configured base currency, not a hard-coded ¥."""
    from crm.workplace.customer_card import customer_card

    settings.CRM_BASE_CURRENCY = "USD"
    settings.CRM_CURRENCY_RATES = {"CNY": Decimal("0.14")}
    player = make_player(manager=manager)
    pay(player, "10.05", currency="USD")
    player.refresh_from_db()

    card = customer_card(player=player, user=manager)

    assert card.spend_lifetime == "$10.05" and card.spend_month == "$10.05"
    assert all("$" in step and "¥" not in step for step in card.progress)


def test_the_card_says_what_keeps_a_rolling_tier(make_player, pay, manager, tiers):
    from crm.workplace.customer_card import customer_card

    tiers["V3"].window_days = 30
    tiers["V3"].save()
    player = make_player(manager=manager)
    pay(player, "150", at=timezone.now() - timedelta(days=40))  # reached V3 then, now outside the window
    pay(player, "20")
    Player.objects.filter(pk=player.pk).update(tier=tiers["V3"])  # within the downgrade grace
    player.refresh_from_db()

    card = customer_card(player=player, user=manager)

    assert player.tier == tiers["V3"]
    assert card.progress[0] == "¥80.00 to keep V3 (spend of the last 30 days)"
    assert card.progress[1] == "¥330.00 to reach V4"


def test_the_card_shows_the_open_follow_up_until_staff_answer_it(make_player, manager):
    from crm.workplace.customer_card import customer_card

    player = make_player(manager=manager)
    today = timezone.localdate()
    with time_machine.travel(timezone.now() - timedelta(days=2)):  # set two days ago for yesterday
        contact_log_create(
            player=player, staff=manager, channel="phone", topic="回访", next_follow_up=today - timedelta(days=1)
        )
    assert customer_card(player=player, user=manager).follow_up_overdue

    contact_log_create(player=player, staff=manager, channel="phone", topic="回访")  # called back: answered
    card = customer_card(player=player, user=manager)
    assert card.next_follow_up is None and not card.follow_up_overdue
    assert ContactLog.objects.filter(player=player).count() == 2
    assert isinstance(today, date)
