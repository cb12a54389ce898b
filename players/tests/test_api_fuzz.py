"""The API fuzzer: hostile values in every field of every endpoint, sent over real HTTP
with correct signatures to a live server running the production dispatch (crm.wsgi's
API chain), asserting what the contract promises whatever the input:

- no 5xx;
- every error in the contract's shape (`{"error", "detail", "fields"?}`);
- nothing stored for a refused request, and for a batch exactly what it says it created.

Bounded in the normal run; `make fuzz` (CRM_FUZZ_EXAMPLES=...) runs it long. The figures
of a run (requests sent, 5xx seen) are printed at the end.
"""

from __future__ import annotations

import json
import math
import os
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import quote

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm.api.authentication import signature_header
from crm.services import api_client_create
from players.models import Payment, Player

EXAMPLES = int(os.environ.get("CRM_FUZZ_EXAMPLES", "20"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,  # nothing written into the work tree; a failure prints its example and seed
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
ACCOUNTS = ["10086", "10087", "玩家-1", "s2-player"]
FIGURES: Counter = Counter()

# --- values -------------------------------------------------------------------------

NASTY_TEXT = [
    "",
    " ",
    "\ud800",
    "a\udfffb",
    "\x00",
    "nul\x00inside",
    "\u202e\u200b",
    "𝕏" * 65,
    "x" * 129,
    "x" * 5000,
    "<script>",
    "=HYPERLINK(1)",
    "'; DROP TABLE players_player; --",
    "null",
    "1e400",
]
text = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=20),  # surrogates too
    st.sampled_from(NASTY_TEXT),
)
numbers = st.one_of(
    st.integers(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.sampled_from([0, -1, 2**31, 2**63, 10**300, -(10**300)]),
    st.floats(allow_nan=True, allow_infinity=True),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, text)
anything = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3), max_leaves=6
)

offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
extreme_datetimes = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59))
recent = st.integers(min_value=-3 * 24 * 3600, max_value=2 * 24 * 3600).map(
    lambda s: datetime.now(UTC) + timedelta(seconds=s)
)
times = st.one_of(
    st.builds(lambda d, tz: d.replace(tzinfo=tz).isoformat(), extreme_datetimes, offsets),
    st.builds(lambda d, tz: d.astimezone(tz).isoformat(), recent, offsets),
    st.builds(lambda d: d.isoformat(), extreme_datetimes),  # naive
    st.sampled_from(
        [
            "9999-12-31T23:59:59+00:00",
            "9999-12-31T23:59:59-14:00",
            "0001-01-01T00:00:00+14:00",
            "1999-12-31T23:59:59Z",
            "2000-01-01T00:00:00Z",
            "2026-02-30T10:00:00+08:00",
            "2026-11-22T25:00:00+08:00",
            "2026-11-22T10:00:00+99:00",
            "+012026-11-22T10:00:00Z",
            "2026-11-22T10:00:00.9999999999+08:00",
            "yesterday",
            "",
        ]
    ),
    anything,
)
amounts = st.one_of(
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.decimals(min_value=0, max_value=2000, places=2).map(str),
    st.sampled_from(["648.00", "0.01", "1000000", "1000000.01", "0", "-0", "1e999999999", "1E-999999", "0.001", "NaN"]),
    numbers,
    anything,
)


def maybe(valid, hostile, weight=5):
    """Mostly a plausible value (so requests reach deep paths), sometimes a hostile one."""
    return st.one_of(*([valid] * weight), hostile)


account_ids = maybe(st.sampled_from(ACCOUNTS), anything)
event_ids = maybe(st.sampled_from([f"ord-{i}" for i in range(8)]), anything)


payment_events = st.fixed_dictionaries(
    {
        "event_id": event_ids,
        "type": maybe(st.sampled_from(["purchase", "refund"]), anything),
        "account_id": account_ids,
        "amount": maybe(st.sampled_from(["648.00", "6.00", "30.00"]), amounts, 2),
        "currency": maybe(st.just("CNY"), anything),
        "occurred_at": maybe(recent.map(lambda d: d.isoformat()), times, 2),
    },
    optional={
        "server": maybe(st.sampled_from(["s1", "s2", ""]), anything),
        "order_id": anything,
        "product": anything,
        "refund_of": maybe(st.sampled_from([f"ord-{i}" for i in range(8)]), anything),
        "kind": anything,
        "extra": anything,
    },
)
login_events = st.fixed_dictionaries(
    {"account_id": account_ids, "occurred_at": maybe(recent.map(lambda d: d.isoformat()), times, 2)},
    optional={"server": maybe(st.sampled_from(["s1", "s2", ""]), anything), "extra": anything},
)
profiles = st.fixed_dictionaries(
    {},
    optional={
        "nickname": maybe(st.text(max_size=10), anything),
        "server": maybe(st.sampled_from(["s1", "s2", ""]), anything),
        "registered_at": times,
        "channel": anything,
        "level": maybe(st.integers(min_value=0, max_value=100), numbers),
        "last_login_at": times,
        "phone": maybe(st.sampled_from(["138 1234 5678", "+8613812345678"]), anything),
        "birthday": maybe(st.sampled_from(["1990-05-01", "1899-12-31", "9999-12-31", "0001-01-01"]), anything),
        "manager": anything,
        "total_spend": anything,
    },
)


def batch_of(events):
    return maybe(st.fixed_dictionaries({"events": st.lists(maybe(events, anything, 5), max_size=8)}), anything, 4)


# Bodies that are not what json.dumps makes: broken or exotic JSON, other encodings.
raw_bodies = st.one_of(
    st.binary(max_size=64),
    st.sampled_from(
        [
            b"",
            b"{",
            b"[" * 100_000 + b"]" * 100_000,
            b'{"events": ' + b"[" * 5000 + b"]" * 5000 + b"}",
            b'{"amount": NaN, "occurred_at": Infinity}',
            b'{"amount": ' + b"9" * 5000 + b"}",
            b'{"event_id": "\\ud800", "account_id": "\\udfff"}',
            b'{"event_id": "\xff\xfe"}',
            '{"nickname": "玩家"}'.encode("utf-16"),
            b'{"a": 1, "a": 2}',
            b"null",
            b'"text"',
            b"1e999",
        ]
    ),
)


# --- the live server and a signed client ------------------------------------------------


@pytest.fixture
def fuzz_server(transactional_db):
    """A live server whose /api/v1/ goes through the API's own handler, as in crm.wsgi."""
    from django.contrib.staticfiles.handlers import StaticFilesHandler
    from pytest_django.live_server_helper import LiveServer

    from crm.api.handler import ApiWSGIHandler, by_path

    server = LiveServer("localhost", start=False)
    server.thread.static_handler = lambda site: by_path(ApiWSGIHandler(), StaticFilesHandler(site))
    server.start()
    yield server.url
    server.stop()


class Game:
    """A game backend: signed requests over HTTP, every answer checked against the contract."""

    def __init__(self, base_url, credentials):
        self.base_url = base_url
        self.key, self.secret = credentials.key, credentials.signing_secret
        self.http = requests.Session()

    def send(self, method, path, body: bytes | None = None) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.key}"}
        if body is not None:
            headers["Content-Type"] = "application/json"
            headers["X-CRM-Signature"] = signature_header(self.secret, body)
        response = self.http.request(method, self.base_url + path, data=body, headers=headers, timeout=60)
        FIGURES["requests"] += 1
        FIGURES[f"{response.status_code // 100}xx"] += 1
        assert response.status_code < 500, (method, path, body[:300] if body else None, response.text[:500])
        return response


def encode(value) -> bytes:
    """JSON as a client library writes it (surrogates escaped; NaN/Infinity as Python writes them)."""
    return json.dumps(value).encode()


def contract_error(response):
    """A 4xx body: {"error": code, "detail": text, "fields"?: {name: [text, ...]}}."""
    body = response.json()
    assert isinstance(body, dict) and set(body) <= {"error", "detail", "fields", "event_id"}, body
    assert isinstance(body["error"], str) and body["error"] and isinstance(body["detail"], str), body
    if "fields" in body:
        assert isinstance(body["fields"], dict) and body["fields"], body
        assert all(isinstance(m, list) and all(isinstance(t, str) for t in m) for m in body["fields"].values())
    return body


def stored():
    return Payment.objects.count(), Player.objects.count(), list(Player.objects.order_by("pk").values())


def batch_answer(response, *, with_duplicates: bool):
    body = response.json()
    keys = {"created", "duplicates", "conflicts", "errors"} if with_duplicates else {"created", "errors"}
    assert set(body) == keys, body
    for error in body["errors"]:
        assert isinstance(error["index"], int) and isinstance(error["error"], str), error
        assert error.get("event_id") is None or isinstance(error["event_id"], str), error
    return body


@pytest.fixture
def games(fuzz_server, db, request):
    """An unbound client, and one bound to server s1 (with a player of s2 to stay away from)."""
    Player.objects.create(account_id="s2-player", server="s2")
    free = Game(fuzz_server, api_client_create(name="fuzz-free", game="Legends"))
    bound = Game(fuzz_server, api_client_create(name="fuzz-s1", game="Legends", server="s1"))
    FIGURES.clear()
    yield {"free": free, "bound": bound}
    figures = ", ".join(f"{k} {v}" for k, v in sorted(FIGURES.items()) if k.endswith("xx"))
    line = f"API fuzz, {request.node.name}: {FIGURES['requests']} requests ({figures}), {FIGURES['5xx']} x 5xx"
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(line)
    request.node.user_properties.append(("api_fuzz", line))


which = st.sampled_from(["free", "bound"])


# --- the endpoints ----------------------------------------------------------------------


@FUZZ
@given(who=which, event=maybe(payment_events, anything, 5), raw=maybe(st.none(), raw_bodies, 4))
def test_fuzz_single_payment(games, who, event, raw):
    before = stored()
    body = raw if raw is not None else encode(event)
    response = games[who].send("POST", "/api/v1/payments/", body)
    payments, players, _rows = stored()
    if response.status_code >= 400:
        contract_error(response)
        assert stored() == before, "a refused payment changed the database"
    elif response.status_code == 201:
        assert payments == before[0] + 1
    else:
        assert response.status_code == 200 and response.json()["status"] == "duplicate"
        assert (payments, players) == before[:2]


@FUZZ
@given(who=which, batch=batch_of(payment_events), raw=maybe(st.none(), raw_bodies, 4))
def test_fuzz_payment_batch(games, who, batch, raw):
    before = stored()
    response = games[who].send("POST", "/api/v1/payments/batch/", raw if raw is not None else encode(batch))
    if response.status_code >= 400:
        contract_error(response)
        assert stored() == before, "a refused batch changed the database"
        return
    body = batch_answer(response, with_duplicates=True)
    assert Payment.objects.count() == before[0] + body["created"]
    if who == "bound":
        assert Player.objects.get(account_id="s2-player").total_spend == 0


@FUZZ
@given(who=which, batch=batch_of(login_events), raw=maybe(st.none(), raw_bodies, 4))
def test_fuzz_login_batch(games, who, batch, raw):
    before = stored()
    response = games[who].send("POST", "/api/v1/logins/batch/", raw if raw is not None else encode(batch))
    if response.status_code >= 400:
        contract_error(response)
        assert stored() == before, "a refused batch changed the database"
        return
    body = batch_answer(response, with_duplicates=False)
    if body["created"] == 0:
        assert stored() == before
    if who == "bound":
        assert Player.objects.get(account_id="s2-player").last_login_at is None


def path_segment(value) -> str:
    """Any text as a URL path segment, lone surrogates as the bytes a client would send."""
    return quote(str(value).encode("utf-8", "surrogatepass"), safe="") or "%20"


@FUZZ
@given(who=which, account_id=maybe(st.sampled_from(ACCOUNTS), text), profile=maybe(profiles, anything, 5))
def test_fuzz_player_put_and_get(games, who, account_id, profile):
    path = f"/api/v1/players/{path_segment(account_id)}/"
    before = stored()
    response = games[who].send("PUT", path, encode(profile))
    if response.status_code >= 400:
        contract_error(response)
        assert stored() == before, "a refused PUT changed the database"
    else:
        assert response.status_code in (200, 201)
        assert set(response.json()) >= {"account_id", "server", "vip", "payer_status"}
        assert not {"phone", "birthday", "real_name"} & set(response.json())
    got = games[who].send("GET", path)
    if got.status_code >= 400:
        contract_error(got)
    if who == "bound":
        assert Player.objects.get(account_id="s2-player").server == "s2"


list_params = st.dictionaries(
    st.sampled_from(["vip_level_min", "payer_status", "server", "updated_since", "page_size", "cursor", "x"]),
    maybe(st.sampled_from(["1", "3", "active", "s1", "2026-11-22T10:00:00+08:00", "1000"]), text.map(str), 1),
    max_size=4,
)


@FUZZ
@given(who=which, params=list_params)
def test_fuzz_player_list_and_tiers(games, who, params):
    query = "&".join(f"{quote(k)}={path_segment(v)}" for k, v in params.items())
    response = games[who].send("GET", f"/api/v1/players/?{query}")
    if response.status_code >= 400:
        contract_error(response)
    else:
        results = response.json()["results"]
        assert all(not math.isnan(float(p["total_spend"])) for p in results)
        if who == "bound":
            assert all(p["server"] == "s1" for p in results)
    assert games[who].send("GET", "/api/v1/vip/tiers/").status_code == 200
