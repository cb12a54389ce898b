"""players.resources: the django-import-export Resources follow the same rules."""

from datetime import UTC, datetime

import tablib

from players.models import Player
from players.resources import PaymentResource, PlayerResource


def dataset(*rows, headers=("account_id", "nickname", "registered_at", "phone")):
    return tablib.Dataset(*rows, headers=list(headers))


def test_player_resource_upserts_by_account_id_and_skips_unchanged(db, manager):
    Player.objects.create(account_id="r1", nickname="old", notes="keep", manager=manager)
    data = dataset(
        ("r1", "new", "2024-01-05T10:00:00+08:00", "138 1234 5678"),
        ("r2", "二号", "2024年1月5日", ""),
    )

    first = PlayerResource().import_data(data, dry_run=False)
    second = PlayerResource().import_data(data, dry_run=False)

    assert not first.has_errors() and not first.has_validation_errors()
    assert (first.totals["new"], first.totals["update"]) == (1, 1)
    assert second.totals["skip"] == 2
    player = Player.objects.get(account_id="r1")
    assert (player.nickname, str(player.phone), player.notes, player.manager) == (
        "new",
        "+8613812345678",
        "keep",
        manager,
    )
    assert player.registered_at == datetime(2024, 1, 5, 2, tzinfo=UTC)


def test_player_resource_reports_a_bad_cell_by_row(db):
    result = PlayerResource().import_data(dataset(("r3", "x", "05/01/2024", "")), dry_run=True)

    assert result.has_validation_errors()
    error = result.invalid_rows[0]
    assert error.number == 1
    assert "Unrecognised date 05/01/2024" in str(error.error_dict["registered_at"])


def test_payment_resource_exports_the_ledger(db, make_player, pay):
    player = make_player(account_id="p9")
    pay(player, "648.00", event_id="e9")

    exported = PaymentResource().export()

    assert exported.headers[:4] == ["account_id", "event_id", "kind", "amount"]
    assert exported[0][:4] == ("p9", "e9", "purchase", "648.00")
