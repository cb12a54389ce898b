from decimal import Decimal
from io import StringIO

from django.core.management import call_command

from players.models import Player


def test_rebuild_player_totals_corrects_drifted_players_and_reports_them(make_player, pay):
    # given two payers, one of whose totals drifted from the ledger
    drifted, fine = make_player(), make_player()
    pay(drifted, "648.00")
    pay(drifted, "30.00")
    pay(fine, "6.00")
    Player.objects.filter(pk=drifted.pk).update(total_spend=Decimal("1.00"), purchase_count=9, payer_status="non_payer")

    out = StringIO()
    call_command("rebuild_player_totals", stdout=out)

    drifted.refresh_from_db()
    assert (drifted.total_spend, drifted.purchase_count, drifted.payer_status) == (Decimal("678.00"), 2, "active")
    assert "Corrected 1 players." in out.getvalue() and f"player id {drifted.pk}" in out.getvalue()

    # and a second run finds nothing
    again = StringIO()
    call_command("rebuild_player_totals", stdout=again)
    assert "Corrected 0 players." in again.getvalue()
