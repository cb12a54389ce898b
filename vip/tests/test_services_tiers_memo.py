"""The tiers the event path keeps (vip.services.tiers_for_events): every payment projects
its player, so the tiers are not read for each one; an edit is seen at once in this
process, within TIERS_MEMO_SECONDS in others, and an edit rolled back is never kept."""

from decimal import Decimal

from django.db import transaction
from django.test.utils import CaptureQueriesContext

from vip import services as vip_services
from vip.models import Tier
from vip.services import tiers_for_events


def test_the_tiers_are_read_once_for_many_events(make_player, pay, tiers):
    from django.db import connection

    player = make_player()
    pay(player, "6")
    with CaptureQueriesContext(connection) as queries:
        pay(player, "6")
    assert not [q for q in queries.captured_queries if '"vip_tier"' in q["sql"]]


def test_a_tier_edited_in_this_process_counts_for_the_next_payment(make_player, pay, tiers):
    player = make_player()
    pay(player, "6")
    player.refresh_from_db()
    assert player.tier == tiers["V1"]
    v2 = tiers["V2"]
    v2.min_spend = Decimal("10.00")
    v2.save()

    pay(player, "6")

    player.refresh_from_db()
    assert player.tier == v2


def test_tiers_read_inside_a_transaction_that_edits_them_and_rolls_back_are_not_kept(tiers):
    class Undo(Exception):
        pass

    try:
        with transaction.atomic():
            Tier.objects.create(name="V99", level=99, min_spend=Decimal("99999999"))
            assert [t.name for t in tiers_for_events()][-1] == "V99"
            raise Undo
    except Undo:
        pass

    assert "V99" not in [t.name for t in tiers_for_events()]


def test_a_tier_edited_elsewhere_counts_once_the_memo_has_expired(make_player, pay, tiers, monkeypatch):
    player = make_player()
    pay(player, "6")
    # Another process's edit sends no signal here (an update without save() stands in for it).
    Tier.objects.filter(pk=tiers["V2"].pk).update(min_spend=Decimal("10.00"))
    pay(player, "6")
    player.refresh_from_db()
    assert player.tier == tiers["V1"]  # within TIERS_MEMO_SECONDS: the tiers kept

    monkeypatch.setattr(vip_services, "TIERS_MEMO_SECONDS", 0)
    pay(player, "6")

    player.refresh_from_db()
    assert player.tier == tiers["V2"]
