"""The event path's prepared statements (PostgreSQL): planned once per connection,
with a generic plan, and without leaving the plan setting to the rest of the
transaction."""

import psycopg._queries
from django.db import connection

from players.services.prepared import prepared_fetchone

STATEMENT = "SELECT count(*) FROM players_player WHERE id = ANY(%s::bigint[])"


def test_a_statement_is_planned_once_per_connection_with_a_generic_plan(requires_postgres, db, make_player):
    ids = [make_player().pk, make_player().pk]

    counts = [prepared_fetchone(STATEMENT, [players])[0] for players in (ids[:1], ids, [2**40])]

    assert counts == [1, 2, 0]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement LIKE %s",
            ["%FROM players_player WHERE id = ANY($1::bigint[])%"],
        )
        assert cursor.fetchall() == [(3, 0)]
        cursor.execute("SHOW plan_cache_mode")
        assert cursor.fetchone() == ("auto",)


def test_a_plan_made_for_the_call_is_not_prepared(requires_postgres, db, make_player):
    player = make_player()

    assert prepared_fetchone(STATEMENT + " AND TRUE", [[player.pk]], generic_plan=False) == (1,)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s", ["%AND TRUE%"])
        assert cursor.fetchone() == (0,)


def test_long_statements_keep_their_parsed_form():
    # The churn statement (~8,500 characters) is split into text and placeholders once,
    # not at every payment: psycopg's limit for remembering it is raised.
    assert psycopg._queries.MAX_CACHED_STATEMENT_LENGTH >= 16_384
