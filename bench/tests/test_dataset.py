"""The benchmark generator's whole code path, at a small scale, on PostgreSQL."""

import os

import pytest

from bench.common import psql_connect
from bench.dataset import ensure_template


@pytest.fixture(scope="module")
def small_dataset():
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: run with DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm")
    name = f"crm_bench_test_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{os.getpid()}"
    ensure_template(name, players=1000, payments=5000, force=True, log=lambda *_: None)
    yield name
    with psql_connect() as admin:
        admin.execute(f'ALTER DATABASE "{name}" IS_TEMPLATE false')
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _one(dbname, sql):
    with psql_connect(dbname) as conn:
        return conn.execute(sql).fetchone()[0]


def test_generated_dataset_is_consistent_with_the_ledger_and_tiers(small_dataset):
    # given a dataset built by the generator
    db = small_dataset

    # then the row counts are exact
    assert _one(db, "SELECT count(*) FROM players_player") == 1000
    assert _one(db, "SELECT count(*) FROM players_payment") == 5000
    # and every player's totals equal their ledger
    assert (
        _one(
            db,
            """SELECT count(*) FROM players_player p LEFT JOIN (
                 SELECT player_id,
                        sum(CASE WHEN kind = 'purchase' THEN amount_base ELSE -amount_base END) AS spend,
                        count(*) FILTER (WHERE kind = 'purchase') AS purchases,
                        min(occurred_at) FILTER (WHERE kind = 'purchase') AS first_paid,
                        max(occurred_at) FILTER (WHERE kind = 'purchase') AS last_paid
                 FROM players_payment GROUP BY player_id) l ON l.player_id = p.id
               WHERE p.total_spend <> coalesce(l.spend, 0) OR p.purchase_count <> coalesce(l.purchases, 0)
                  OR p.first_paid_at IS DISTINCT FROM l.first_paid OR p.last_paid_at IS DISTINCT FROM l.last_paid
                  OR (p.payer_status = 'non_payer') <> (p.total_spend = 0)""",
        )
        == 0
    )
    # and the tier is the highest one the spend reaches, reached through recorded changes
    assert (
        _one(
            db,
            """SELECT count(*) FROM players_player p WHERE p.tier_id IS DISTINCT FROM
                 (SELECT id FROM vip_tier t WHERE t.min_spend <= p.total_spend ORDER BY level DESC LIMIT 1)""",
        )
        == 0
    )
    assert (
        _one(
            db,
            """SELECT count(*) FROM players_player p WHERE p.tier_id IS NOT NULL AND p.tier_id IS DISTINCT FROM
                 (SELECT to_tier_id FROM vip_tierchange c WHERE c.player_id = p.id ORDER BY changed_at DESC, id DESC
                  LIMIT 1)""",
        )
        == 0
    )
    # and refunds are few and never larger than what was spent
    refunds = _one(db, "SELECT count(*) FROM players_payment WHERE kind = 'refund'")
    assert 0 < refunds < 100
    assert _one(db, "SELECT count(*) FROM players_player WHERE total_spend < 0") == 0


def test_generated_birthday_keys_are_the_ones_the_app_computes(small_dataset):
    # given a dataset built by the generator, with solar and lunar birthdays
    from datetime import date

    from crm.calendar import birthday_key

    with psql_connect(small_dataset) as conn:
        rows = conn.execute("SELECT birthday, birthday_is_lunar, birthday_md FROM players_player").fetchall()

    # then every player with a birthday carries the greetings' key for it, as the app would store it
    with_birthday = [r for r in rows if r[0] is not None]
    assert with_birthday and any(lunar for _b, lunar, _k in with_birthday)
    assert [(b, lunar, key) for b, lunar, key in with_birthday if key != birthday_key(b, lunar)] == []
    assert all(key is None for b, _l, key in rows if b is None)
    assert isinstance(with_birthday[0][0], date)


def test_generated_players_look_real_and_managers_own_the_payers(small_dataset):
    db = small_dataset

    # about 80% have a Chinese mobile number in E.164
    phones = _one(db, "SELECT count(*) FROM players_player WHERE phone ~ '^\\+861[3-9][0-9]{9}$'")
    assert 700 <= phones <= 900
    assert _one(db, "SELECT count(*) FROM players_player WHERE phone <> '' AND phone !~ '^\\+861'") == 0
    # about 70% have a birthday, some of them lunar
    assert 600 <= _one(db, "SELECT count(*) FROM players_player WHERE birthday IS NOT NULL") <= 800
    assert _one(db, "SELECT count(*) FROM players_player WHERE birthday_is_lunar") > 50
    assert _one(db, "SELECT count(DISTINCT server) FROM players_player") >= 3
    assert _one(db, "SELECT count(DISTINCT channel) FROM players_player") >= 5
    # 20 VIP managers and a supervisor, in their groups
    assert (
        _one(
            db,
            """SELECT count(*) FROM auth_user u JOIN auth_user_groups ug ON ug.user_id = u.id
               JOIN auth_group g ON g.id = ug.group_id WHERE g.name = 'VIP manager' AND u.is_staff""",
        )
        == 20
    )
    assert _one(db, "SELECT count(*) FROM auth_user WHERE username = 'bench_supervisor'") == 1
    # managers own paying players only, each with an assignment record
    assert _one(db, "SELECT count(*) FROM players_player WHERE manager_id IS NOT NULL AND total_spend = 0") == 0
    assert _one(db, "SELECT count(DISTINCT manager_id) FROM players_player") == 20
    assert (
        _one(
            db,
            """SELECT count(*) FROM players_player p WHERE p.manager_id IS NOT NULL AND NOT EXISTS
                 (SELECT 1 FROM vip_managerassignment a WHERE a.player_id = p.id AND a.to_manager_id = p.manager_id)""",
        )
        == 0
    )


def test_generator_restores_indexes_and_is_idempotent(small_dataset):
    db = small_dataset
    # the dropped constraints and indexes are back
    names = {
        row[0]
        for row in psql_connect(db)
        .execute("SELECT conname FROM pg_constraint WHERE conrelid = 'players_payment'::regclass")
        .fetchall()
    }
    assert "payment_event_unique_per_source" in names
    assert any(name.endswith("_fk_players_player_id") for name in names)
    assert _one(db, "SELECT count(*) FROM pg_indexes WHERE indexname = 'player_manager_recent'") == 1
    # new rows get fresh ids
    assert _one(db, "SELECT nextval(pg_get_serial_sequence('players_player', 'id'))") == 1001

    # when asked again for the same dataset, nothing is rebuilt
    assert ensure_template(db, players=1000, payments=5000, log=lambda *_: None) is False
