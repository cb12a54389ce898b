"""`manage.py seed_demo`: realistic, consistent, and idempotent."""

from io import StringIO

from django.contrib.auth import get_user_model
from django.core.management import call_command

from players.models import Payment, Player
from players.services import players_totals_rebuild
from vip.models import ManagerAssignment, TierChange


def _counts():
    return (
        Player.objects.count(),
        Payment.objects.count(),
        TierChange.objects.count(),
        ManagerAssignment.objects.count(),
        get_user_model().objects.count(),
    )


def test_seed_demo_twice_adds_nothing_the_second_time_and_prints_logins(db):
    first, second = StringIO(), StringIO()

    call_command("seed_demo", players=200, stdout=first)
    after_first = _counts()
    call_command("seed_demo", players=200, stdout=second)

    assert _counts() == after_first
    assert after_first[0] == 200 and after_first[1] > 200
    assert "Loaded 200 players" in first.getvalue()
    assert "nothing added" in second.getvalue()
    for login in ("admin", "manager_li", "supervisor", "operations"):
        assert login in second.getvalue()


def test_demo_data_is_consistent_and_spread(db):
    call_command("seed_demo", players=200, stdout=StringIO())

    assert players_totals_rebuild() == []  # totals equal the ledger
    assert Player.objects.values("server").distinct().count() == 3
    assert Player.objects.filter(tier__isnull=False).values("tier").distinct().count() >= 4
    assert Player.objects.filter(manager__isnull=False).values("manager").distinct().count() == 4
    assert Player.objects.exclude(phone="").filter(phone__startswith="+861").count() > 100
    assert Player.objects.filter(birthday_is_lunar=True).exists()
    assert not Player.objects.filter(total_spend=0, payer_status="active").exists()
