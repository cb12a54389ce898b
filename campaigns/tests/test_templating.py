from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from campaigns.templating import TEMPLATE_VARIABLES, template_render, template_validate


def test_known_variables_validate_and_are_returned():
    assert template_validate("Hi {nickname}, your {tier} awaits. {{braces}}") == ["nickname", "tier"]


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("Hi {nick}", "{nick}"),
        ("Hi {player.phone}", "player.phone"),
        ("Hi {tier[0]}", "tier[0]"),
        ("Hi {nickname!r}", "conversions"),
        ("Hi {}", "{}"),
        ("Hi {0}", "{0}"),
        ("Hi {nickname", "brace"),
        ("Hi nickname}", "brace"),
        ("{total_spend:{level}}", "nested"),
        ("{level:zz}", "cannot be filled in"),
    ],
)
def test_bad_templates_are_refused_with_a_named_reason(text, fragment):
    with pytest.raises(ValidationError) as info:
        template_validate(text)
    assert fragment in " ".join(info.value.messages)


def test_unknown_variables_are_all_named():
    with pytest.raises(ValidationError) as info:
        template_validate("{foo} {nickname} {bar}")
    message = info.value.messages[0]
    assert "{foo}" in message and "{bar}" in message and "{nickname}" in message.split("Available")[1]


def test_extra_variables_are_accepted_when_declared():
    assert template_validate("Happy {festival}!", extra_variables=["festival"]) == ["festival"]
    with pytest.raises(ValidationError):
        template_validate("Happy {festival}!")


def test_every_documented_variable_renders(make_player, manager, tiers):
    # given a player with every value set
    manager.first_name, manager.last_name = "Li", "Na"
    manager.save()
    now = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)  # noon in Shanghai: whole days whatever the hour CI runs
    player = make_player(
        nickname="龙王",
        level=88,
        manager=manager,
        tier=tiers["V3"] if "V3" in tiers else next(iter(tiers.values())),
        last_login_at=now - timedelta(days=12),
        last_paid_at=now - timedelta(days=30, hours=1),
        total_spend=Decimal("1296.00"),
    )
    text = " ".join(f"{{{name}}}" for name in TEMPLATE_VARIABLES)
    # when
    rendered = template_render(text, player=player, now=now)
    # then
    assert rendered.startswith("龙王 ")
    assert "Li Na" in rendered and " 12 " in rendered and " 30 " in rendered and "1296.00" in rendered
    assert player.tier.name in rendered and "88" in rendered


def test_render_with_extra_and_missing_values(make_player):
    player = make_player(nickname="", account_id="10086")
    rendered = template_render("{nickname}/{tier}/{days_since_login:d}/{gift}", player=player, extra={"gift": "648钻"})
    assert rendered == "10086//" + "/648钻"


def test_render_refuses_an_invalid_template(make_player):
    with pytest.raises(ValidationError):
        template_render("{player.__class__}", player=make_player())
