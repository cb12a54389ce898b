from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone, translation

from campaigns.segments import SEGMENT_CRITERIA, segment_clean, segment_describe, segment_players
from players.models import Tag
from vip.models import Tier


@pytest.fixture
def town(make_player, tiers, manager, other_manager):
    """Hand-built players, each standing out in one way."""
    now = timezone.now()
    vip = Tag.objects.create(name="whale")
    players = {
        "v5_quiet": make_player(
            tier=tiers["V5"],
            total_spend=Decimal("50000"),
            payer_status="at_risk",
            last_login_at=now - timedelta(days=40),
            last_paid_at=now - timedelta(days=60),
            server="s1",
            channel="appstore",
            manager=manager,
        ),
        "v2_active": make_player(
            tier=tiers["V2"],
            total_spend=Decimal("300"),
            payer_status="active",
            last_login_at=now - timedelta(days=1),
            last_paid_at=now - timedelta(days=2),
            server="s2",
            channel="huawei",
            manager=other_manager,
        ),
        "never": make_player(server="s1", channel="appstore"),
        "v3_churned": make_player(
            tier=tiers["V3"],
            total_spend=Decimal("2000"),
            payer_status="churned",
            last_login_at=now - timedelta(days=100),
            last_paid_at=now - timedelta(days=120),
            server="s3",
        ),
    }
    players["v3_churned"].tags.add(vip)
    return players, vip, now


def _names(players, qs):
    ids = set(qs.values_list("pk", flat=True))
    return sorted(name for name, p in players.items() if p.pk in ids)


@pytest.mark.parametrize(
    "segment, expected",
    [
        ({}, ["never", "v2_active", "v3_churned", "v5_quiet"]),
        ({"tier_min": 3}, ["v3_churned", "v5_quiet"]),
        ({"tier_min": 2, "tier_max": 3}, ["v2_active", "v3_churned"]),
        ({"payer_status": ["at_risk", "churned"]}, ["v3_churned", "v5_quiet"]),
        ({"spend_min": "1000", "spend_max": "10000"}, ["v3_churned"]),
        ({"no_login_days": 30}, ["never", "v3_churned", "v5_quiet"]),
        ({"login_within_days": 7}, ["v2_active"]),
        ({"no_payment_days": 90}, ["never", "v3_churned"]),
        ({"paid_within_days": 30}, ["v2_active"]),
        ({"servers": "s1, s3"}, ["never", "v3_churned", "v5_quiet"]),
        ({"channels": ["huawei"]}, ["v2_active"]),
        ({"no_login_days": 30, "tier_min": 4, "servers": "s1"}, ["v5_quiet"]),
    ],
)
def test_segment_selects_the_right_players(town, segment, expected):
    players, _tag, now = town
    assert _names(players, segment_players(segment, now=now)) == expected


def test_segment_by_tag_and_manager(town, manager):
    players, tag, now = town
    assert _names(players, segment_players({"tags": [tag.pk]}, now=now)) == ["v3_churned"]
    assert _names(players, segment_players({"managers": [manager.pk]}, now=now)) == ["v5_quiet"]
    assert _names(players, segment_players({"managers": ["none"]}, now=now)) == ["never", "v3_churned"]


def test_bad_segments_name_the_problem():
    with pytest.raises(ValidationError) as info:
        segment_clean({"tier_min": "abc", "shoe_size": 42, "payer_status": ["rich"]})
    text = " ".join(info.value.messages)
    assert "shoe_size" in text and "abc" in text and "rich" in text


def test_segment_is_normalised_and_described(db):
    cleaned = segment_clean({"servers": "s1，s2", "tier_min": "3", "spend_min": "", "tags": []})
    assert cleaned == {"servers": ["s1", "s2"], "tier_min": 3}
    assert ("servers (comma-separated)", "s1, s2") in [(str(a), b) for a, b in segment_describe(cleaned)]


def test_a_segment_reads_tiers_statuses_and_managers_by_name_not_code(db, make_staff):
    manager = make_staff("li", "VIP manager", first_name="娜", last_name="李")
    tier = Tier.objects.get(level=3)
    segment = {"tier_min": 3, "payer_status": ["at_risk"], "managers": [str(manager.pk)]}
    with translation.override("zh-hans"):
        described = {str(label): value for label, value in segment_describe(segment)}
    assert described["VIP 等级从"] == tier.name
    assert described["付费状态"] == "有流失风险"
    assert described["专属客服"] == "李娜"


def test_every_criterion_has_a_form_field(db):
    for criterion in SEGMENT_CRITERIA:
        assert criterion.field() is not None
