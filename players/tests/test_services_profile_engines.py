"""The profile's engines: the portable statements and PostgreSQL's are one rule.

Every case runs through each engine the database can run (on PostgreSQL both, on SQLite
the portable one) and must give the expected outcome, hence the same one."""

import threading
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.db import DatabaseError, connection, connections, transaction

from crm.calendar import birthday_key
from players.models import Player, ServerMerge, ServerMergeSource
from players.services.profile_engines import PostgresProfileEngine, ProfileEngine, profile_engine
from vip.models import Tier


@pytest.fixture(params=["portable", "postgresql"])
def engine(request):
    """Each engine in turn; PostgreSQL's is skipped, with the reason, on SQLite."""
    if request.param == "portable":
        return ProfileEngine()
    if connection.vendor != "postgresql":
        pytest.skip("the PostgreSQL engine needs PostgreSQL: run with DATABASE_URL=postgres://...")
    return PostgresProfileEngine()


def test_the_chosen_engine_is_the_databases():
    assert isinstance(profile_engine(), PostgresProfileEngine if connection.vendor == "postgresql" else ProfileEngine)


@pytest.mark.django_db
def test_the_player_card_reads_the_same_through_each_engine(engine):
    gold = Tier.objects.create(name="测试档", level=97, min_spend=Decimal("987654"), colour="#c90")
    seen = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
    Player.objects.create(
        account_id="card-1",
        nickname="李白",
        server="s1",
        tier=gold,
        tier_since=seen,
        total_spend=Decimal("1234.50"),
        last_paid_at=seen,
        last_login_at=seen,
    )
    Player.objects.create(account_id="card-2", nickname="", server="s2")
    card = engine.player_card("card-1")
    assert (card.account_id, card.nickname, card.server, card.total_spend) == (
        "card-1",
        "李白",
        "s1",
        Decimal("1234.50"),
    )
    assert (card.tier.name, card.tier.level, card.tier_since, card.last_login_at) == ("测试档", 97, seen, seen)
    assert card.payer_status == Player.objects.get(account_id="card-1").payer_status
    assert engine.player_card("card-2").tier is None
    assert engine.player_card("card-3") is None
    assert engine.player_card("card-1' OR '1'='1") is None


@pytest.mark.django_db
def test_lunar_keys_are_written_only_where_they_differ(engine):
    born = date(1990, 2, 3)
    right = birthday_key(born, True)
    stale = Player.objects.create(account_id="l1", birthday=born, birthday_is_lunar=True, birthday_md=101)
    fine = Player.objects.create(account_id="l2", birthday=born, birthday_is_lunar=True, birthday_md=right)
    Player.objects.create(account_id="l3", birthday=born, birthday_is_lunar=True, birthday_md=101)
    lunar = Player.objects.filter(pk__in=[stale.pk, fine.pk], birthday_is_lunar=True)
    assert engine.lunar_keys_write(lunar, lambda d: birthday_key(d, True)) == 1
    keys = dict(Player.objects.values_list("account_id", "birthday_md"))
    assert keys == {"l1": right, "l2": right, "l3": 101}
    assert engine.lunar_keys_write(lunar, lambda d: birthday_key(d, True)) == 0


def _from_another_connection(statements: list[str]) -> list:
    """Run the statements in one transaction on a connection of its own (another thread):
    per statement, "done" or the database's error (the transaction ends at the first)."""
    outcomes = []

    def run():
        try:
            with transaction.atomic(), connections["default"].cursor() as cursor:
                for sql in statements:
                    cursor.execute(sql)
                    outcomes.append("done")
        except DatabaseError as exc:
            outcomes.append(exc)
        finally:
            connections["default"].close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=30)
    return outcomes


@pytest.mark.django_db
def test_a_table_write_lock_lets_its_own_transaction_write_and_holds_off_others(engine):
    with transaction.atomic():
        engine.table_write_lock(ServerMergeSource)
        merge = ServerMerge.objects.create(game="", new_server="s9", merged_at=datetime(2026, 12, 1, tzinfo=UTC))
        ServerMergeSource.objects.create(merge=merge, server="s1", accounts=3)
        if isinstance(engine, PostgresProfileEngine):
            table = connection.ops.quote_name(ServerMergeSource._meta.db_table)
            read, write = _from_another_connection(
                [f"SELECT COUNT(*) FROM {table}", f"LOCK TABLE {table} IN ROW EXCLUSIVE MODE NOWAIT"]
            )
            assert read == "done"  # others read on
            assert "lock" in str(write)  # what a writer takes is not granted until the commit
    assert list(ServerMergeSource.objects.values_list("server", "accounts")) == [("s1", 3)]


@pytest.mark.django_db
def test_a_temporary_table_analysed_keeps_its_rows_and_postgresql_learns_its_size(engine):
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE engine_analysed (a integer)")
        cursor.execute("INSERT INTO engine_analysed (a) VALUES (2), (3), (4), (5)")
        engine.temp_table_analyze(cursor, "engine_analysed")
        cursor.execute("SELECT COUNT(*), SUM(a) FROM engine_analysed")
        assert cursor.fetchone() == (4, 14)
        if isinstance(engine, PostgresProfileEngine):
            cursor.execute("SELECT reltuples FROM pg_class WHERE relname = 'engine_analysed'")
            assert cursor.fetchone()[0] == 4
        cursor.execute("DROP TABLE engine_analysed")
