"""The PostgreSQL backend's health check (crm/db/postgresql): a persistent connection
is checked before each request without a round trip, and one the server has closed
is still found out and replaced."""

import time

import pytest
from django.db import connection


@pytest.fixture
def observer(requires_postgres, transactional_db):
    """A second connection, to see and act on the first from the server's side."""
    other = connection.get_new_connection(connection.get_connection_params())
    other.autocommit = True
    yield other
    other.close()


def last_statement(observer, pid: int) -> str:
    return observer.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone()[0]


def backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid() /* marker */")
        return cursor.fetchone()[0]


def test_a_healthy_idle_connection_passes_without_a_query(observer):
    pid = backend_pid()

    assert connection.is_usable()
    assert last_statement(observer, pid) == "SELECT pg_backend_pid() /* marker */"


def test_a_connection_the_server_closed_is_replaced_before_the_request_uses_it(observer):
    pid = backend_pid()
    observer.execute("SELECT pg_terminate_backend(%s)", [pid])
    for _ in range(50):  # the server's goodbye reaches the socket
        if observer.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone()[0] == 0:
            break
        time.sleep(0.02)

    assert not connection.is_usable()
    # What Django does at the start of a request, then the request's first query:
    connection.close_if_unusable_or_obsolete()
    connection.close_if_health_check_failed()
    assert backend_pid() != pid


def test_a_message_waiting_on_a_healthy_connection_is_read_and_the_connection_kept(observer):
    with connection.cursor() as cursor:
        cursor.execute("LISTEN crm_health_check_test")
    try:
        pid = backend_pid()
        observer.execute("NOTIFY crm_health_check_test")
        time.sleep(0.05)

        assert connection.is_usable()
        assert last_statement(observer, pid) == "SELECT 1"  # it asked, as Django's own check does
        assert backend_pid() == pid
    finally:
        with connection.cursor() as cursor:
            cursor.execute("UNLISTEN *")
