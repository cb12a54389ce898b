"""The event path's statements on PostgreSQL: prepared once per connection and, with
scalar parameters, run on one generic plan after PostgreSQL's five custom ones;
statements over many rows planned for each call instead."""

import psycopg._queries
from django.db import connection

from players.services.prepared import planned_fetchone, prepared_fetchone

STATEMENT = "SELECT count(*) FROM players_player WHERE id = %s AND server = %s"


def plans(fragment: str) -> list[tuple[int, int]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement LIKE %s", [f"%{fragment}%"]
        )
        return cursor.fetchall()


def test_a_statement_is_prepared_once_and_moves_to_a_generic_plan(requires_postgres, db, make_player):
    players = [make_player(server="s1"), make_player(server="s2"), make_player(server="s1")]

    counts = [prepared_fetchone(STATEMENT, [p.pk, "s1"])[0] for p in players * 3]

    assert counts == [1, 0, 1] * 3
    # one statement for every call (ints always travel as bigint), planned for the
    # first five calls, then on its generic plan
    assert plans("WHERE id = $1 AND server = $2") == [(4, 5)]


def test_a_statement_over_many_rows_is_planned_for_each_call(requires_postgres, db, make_player):
    ids = [make_player().pk for _ in range(3)]

    assert planned_fetchone("SELECT count(*) FROM players_player WHERE id = ANY(%s)", [ids]) == (3,)
    assert plans("WHERE id = ANY(") == []


def test_long_statements_keep_their_parsed_form():
    # The churn statement (~8,500 characters) is split into text and placeholders once,
    # not at every payment: psycopg's limit for remembering it is raised.
    assert psycopg._queries.MAX_CACHED_STATEMENT_LENGTH >= 16_384


def test_the_player_lookup_is_prepared_once_per_connection(requires_postgres, db, make_player):
    from players.api.views import player_card

    players = [make_player(nickname=f"p{i}") for i in range(7)]

    assert [player_card(p.account_id).nickname for p in players] == [f"p{i}" for i in range(7)]
    assert player_card("nobody-has-this-id") is None
    assert plans("WHERE p.account_id = $1") == [(3, 5)]


def test_prepared_statements_run_again_after_the_connection_is_replaced(requires_postgres, transactional_db):
    assert prepared_fetchone("SELECT %s::bigint + 1", [1]) == (2,)
    connection.close()  # as Django does at the end of a request once CONN_MAX_AGE is over

    assert prepared_fetchone("SELECT %s::bigint + 1", [2]) == (3,)
    assert prepared_fetchone("CREATE TEMP TABLE prepared_probe (id bigint)", []) is None
