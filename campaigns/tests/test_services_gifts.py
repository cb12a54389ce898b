from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from campaigns.models import GiftBudget, GiftEntry
from campaigns.services.gifts import BudgetRoom, gift_budget_remaining, gift_record

RUN_DAY = date(2026, 11, 22)


def test_gift_record_blocks_overspending_with_a_message_on_value(make_player, tiers, manager):
    GiftBudget.objects.create(tier=tiers["V5"], monthly_amount=Decimal("500"))
    player = make_player(tier=tiers["V5"])
    gift_record(player=player, kind="value", value=Decimal("450"), on=RUN_DAY, actor=manager, reason="birthday")

    with pytest.raises(ValidationError) as error:
        gift_record(player=player, kind="item", item="坐骑", value=Decimal("60"), on=RUN_DAY, source="case:9")

    message = error.value.message_dict["value"][0]
    assert "V5" in message and "¥450.00" in message and "¥500.00" in message and "¥60.00" in message
    assert GiftEntry.objects.count() == 1
    # next month's budget is fresh
    gift_record(player=player, kind="item", item="坐骑", value=Decimal("60"), on=date(2026, 12, 1))


def test_gift_record_is_idempotent_per_source_and_generates_codes(make_player):
    player = make_player()

    first = gift_record(player=player, kind="code", item="BDAY", value=Decimal("10"), source="case:3")
    again = gift_record(player=player, kind="code", item="BDAY", value=Decimal("10"), source="case:3")

    assert first.pk == again.pk
    assert first.code.startswith("BDAY-") and len(first.code) > 6
    assert GiftEntry.objects.count() == 1


def test_gift_budget_applies_in_the_month_of_the_occasion(make_player, tiers):
    GiftBudget.objects.create(tier=tiers["V2"], monthly_amount=Decimal("50"))
    player = make_player(tier=tiers["V2"])

    gift_record(player=player, kind="value", value=Decimal("50"), on=date(2026, 11, 30))

    assert gift_budget_remaining(tier=tiers["V2"], on=date(2026, 11, 1)) == Decimal("0")
    assert gift_budget_remaining(tier=tiers["V2"], on=date(2026, 12, 1)) == Decimal("50")


# --- messages, through the shared outbox and its fatigue rules ----------------------


def test_the_budget_rule_admits_what_fits_one_by_one():
    # the one rule that gift_record and its bulk twin share
    room = BudgetRoom(tier_id=1, month=RUN_DAY, budget=Decimal("100"), spent=Decimal("30"))
    assert room.gifts_fitting(Decimal("35")) == 2  # 30 + 35 + 35 <= 100 < 30 + 3 x 35
    assert room.gifts_fitting(Decimal("0")) is None
    assert BudgetRoom(tier_id=1, month=RUN_DAY, budget=Decimal("10"), spent=Decimal("11")).gifts_fitting(0) == 0
