"""Exactly-once under concurrent retries, through a live server: PostgreSQL with many
copies of one event at once; SQLite (a file, two gunicorn workers) with concurrent
batches that must not fail with "database is locked"."""

import json
import threading
from decimal import Decimal

import pytest
import requests
from django.db import connection

from crm.api.authentication import signature_header
from crm.tests.gunicorn import gunicorn_serving
from players.models import Payment, Player


def fire_at_once(count, send):
    """Run `send()` from `count` threads released together; return the responses."""
    barrier = threading.Barrier(count)
    responses = [None] * count

    def worker(i):
        barrier.wait()
        responses[i] = send()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return responses


def post(base_url, path, credentials, payload):
    body = json.dumps(payload).encode()
    return requests.post(
        base_url + path,
        data=body,
        timeout=60,
        headers={
            "Authorization": f"Bearer {credentials['key']}",
            "X-CRM-Signature": signature_header(credentials["signing_secret"], body),
            "Content-Type": "application/json",
        },
    )


def purchase(event_id, account_id="10086", amount="648.00"):
    return {
        "event_id": event_id,
        "type": "purchase",
        "account_id": account_id,
        "amount": amount,
        "currency": "CNY",
        "occurred_at": "2026-11-22T10:00:00+08:00",
    }


def test_many_copies_of_one_event_at_once_move_spend_once(requires_postgres, api_live_server, api_credentials):
    credentials = {"key": api_credentials.key, "signing_secret": api_credentials.signing_secret}
    Player.objects.create(account_id="10086")

    responses = fire_at_once(12, lambda: post(api_live_server.url, "/api/v1/payments/", credentials, purchase("dup")))

    codes = sorted(r.status_code for r in responses)
    assert codes == [200] * 11 + [201]
    player = Player.objects.get(account_id="10086")
    assert (player.total_spend, player.purchase_count) == (Decimal("648.00"), 1)
    assert Payment.objects.count() == 1


def test_copies_for_an_unknown_account_and_in_batches_move_spend_once(
    requires_postgres, api_live_server, api_credentials
):
    credentials = {"key": api_credentials.key, "signing_secret": api_credentials.signing_secret}
    batch = {"events": [purchase(f"b{i}", account_id=f"new-{i % 3}", amount="10") for i in range(30)]}

    numbers = iter(range(100))

    def send():
        n = next(numbers)
        if n % 2:
            return post(api_live_server.url, "/api/v1/payments/batch/", credentials, batch)
        return post(api_live_server.url, "/api/v1/payments/", credentials, purchase("single", account_id="new-x"))

    responses = fire_at_once(8, send)

    assert all(r.status_code in (200, 201) for r in responses), [r.text for r in responses]
    batches = [r.json() for r in responses if "created" in r.json()]
    assert sum(b["created"] for b in batches) == 30 and all(not b["errors"] for b in batches)
    assert [p.total_spend for p in Player.objects.filter(account_id__startswith="new-").order_by("account_id")] == [
        Decimal("100.00"),
        Decimal("100.00"),
        Decimal("100.00"),
        Decimal("648.00"),
    ]


@pytest.fixture
def sqlite_gunicorn(tmp_path):
    """gunicorn with 2 workers on a fresh file-based SQLite database."""
    if connection.vendor != "sqlite":
        pytest.skip("a SQLite locking test: runs with the SQLite suite")
    with gunicorn_serving(tmp_path / "db.sqlite3", "sqlite-test") as serving:
        yield serving.base_url, serving.credentials, serving.db_path


def test_sqlite_batches_from_four_clients_at_once_never_hit_database_is_locked(sqlite_gunicorn):
    base_url, credentials, db_path = sqlite_gunicorn
    rounds = 5

    numbers = iter(range(1000))

    def send():
        n = next(numbers)
        responses = []
        for r in range(rounds):
            events = [purchase(f"c{n}-r{r}-{i}", account_id=f"acc-{i % 50}", amount="1") for i in range(200)]
            responses.append(post(base_url, "/api/v1/payments/batch/", credentials, {"events": events}))
        return responses

    results = fire_at_once(4, send)

    flat = [r for responses in results for r in responses]
    assert [r.status_code for r in flat] == [200] * (4 * rounds), [r.text[:300] for r in flat if r.status_code != 200]
    assert sum(r.json()["created"] for r in flat) == 4 * rounds * 200
    import sqlite3

    with sqlite3.connect(db_path) as db:
        count, spend = db.execute("select count(*), sum(total_spend) from players_player").fetchone()
    assert (count, Decimal(str(spend))) == (50, Decimal(4 * rounds * 200))


def test_copies_of_one_refund_at_once_are_one_refund_and_duplicates(
    requires_postgres, api_live_server, api_credentials
):
    """The duplicate check comes before the spend check, whichever copy gets the lock first."""
    credentials = {"key": api_credentials.key, "signing_secret": api_credentials.signing_secret}
    for round_ in range(3):
        account = f"r{round_}"
        assert post(api_live_server.url, "/api/v1/payments/", credentials, purchase(f"buy-{account}", account))
        refund = {**purchase(f"back-{account}", account, "600.00"), "type": "refund", "refund_of": f"buy-{account}"}

        responses = fire_at_once(8, lambda r=refund: post(api_live_server.url, "/api/v1/payments/", credentials, r))

        codes = sorted(r.status_code for r in responses)
        assert codes == [200] * 7 + [201], [r.text for r in responses if r.status_code not in (200, 201)]
        assert Player.objects.get(account_id=account).total_spend == Decimal("48.00")
    assert Payment.objects.filter(kind="refund").count() == 3
