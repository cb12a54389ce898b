"""API clients, the Bearer key and the request signature (../shared/API.md, "Credentials")."""

import json
import logging
import time
from io import StringIO

import pytest
from django.core.management import call_command

from crm.api.authentication import client_cache, signature_compute
from crm.models import ApiClient
from crm.services import api_client_disable, api_client_rotate, api_key_digest
from players.models import Payment

PAYMENTS = "/api/v1/payments/"
EVENT = {
    "event_id": "e1",
    "type": "purchase",
    "account_id": "10086",
    "amount": "6.00",
    "currency": "CNY",
    "occurred_at": "2026-11-22T10:00:00+08:00",
}
BODY = json.dumps(EVENT).encode()


def refused(response, caplog, reason):
    assert response.status_code == 401
    body = response.json()
    assert set(body) == {"error", "detail"} and body["error"] == reason
    assert response["WWW-Authenticate"].startswith("Bearer")
    record = next(r for r in caplog.records if r.name == "crm.security")
    assert record.reason == reason and record.address == "127.0.0.1"
    assert "10086" not in record.getMessage()  # never the body
    assert not Payment.objects.exists()


def test_command_prints_one_json_line_and_stores_only_the_key_digest(db):
    out = StringIO()
    call_command("create_api_client", "--name", "Legends s1", "--game", "Legends", stdout=out)

    lines = out.getvalue().splitlines()
    assert len(lines) == 1
    printed = json.loads(lines[0])
    assert set(printed) == {"name", "key", "signing_secret"}
    client = ApiClient.objects.get(name="Legends s1")
    assert client.game == "Legends" and client.enabled
    assert client.key_hash == api_key_digest(printed["key"]) and printed["key"] not in client.key_hash
    assert client.signing_secret == printed["signing_secret"]


def test_signed_request_passes_and_records_last_use(api):
    assert api.post(PAYMENTS, EVENT).status_code == 201
    api.credentials.client.refresh_from_db()
    assert api.credentials.client.last_used_at is not None


def test_reads_need_the_key_but_no_signature(api):
    assert api.get("/api/v1/vip/tiers/").status_code == 200


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "missing_key"),
        ({"Authorization": "Basic abc"}, "malformed_authorization"),
        ({"Authorization": "Bearer nope"}, "unknown_key"),
    ],
)
def test_missing_or_wrong_key_is_refused(api, caplog, headers, reason):
    response = api.client.post(PAYMENTS, BODY, content_type="application/json", headers=headers)
    refused(response, caplog, reason)


def test_missing_signature_is_refused(api, caplog):
    refused(api.post(PAYMENTS, EVENT, sign=False), caplog, "missing_signature")


@pytest.mark.parametrize(
    "value",
    ["garbage", "t=abc,v1=00", "v1=" + "0" * 64, "t=1700000000", "t=1,t=2,v1=" + "0" * 64, "t=1,v1=XYZ"],
)
def test_malformed_signature_is_refused(api, caplog, value):
    response = api.post(PAYMENTS, EVENT, sign=False, headers={"X-CRM-Signature": value})
    refused(response, caplog, "malformed_signature")


@pytest.mark.parametrize("offset", [-301, 301])
def test_stale_or_future_timestamp_is_refused(api, caplog, offset):
    refused(api.post(PAYMENTS, EVENT, timestamp=int(time.time()) + offset), caplog, "stale_signature")


@pytest.mark.parametrize("offset", [-290, 290])
def test_timestamp_within_tolerance_passes(api, offset):
    assert api.post(PAYMENTS, EVENT, timestamp=int(time.time()) + offset).status_code == 201


def test_wrong_secret_is_refused(api, caplog):
    refused(api.post(PAYMENTS, EVENT, secret="not-the-secret"), caplog, "bad_signature")


def test_body_changed_after_signing_is_refused(api, caplog):
    t = int(time.time())
    signature = f"t={t},v1={signature_compute(api.secret, t, BODY)}"
    tampered = BODY.replace(b"6.00", b"9.00")
    response = api.post(PAYMENTS, raw=tampered, sign=False, headers={"X-CRM-Signature": signature})
    refused(response, caplog, "bad_signature")


def test_disabled_client_is_refused_even_for_reads(api, caplog):
    api_client_disable(client=api.credentials.client)
    refused(api.post(PAYMENTS, EVENT), caplog, "client_disabled")
    assert api.get("/api/v1/vip/tiers/").status_code == 401


def test_rotation_retires_the_old_key_and_secret(api, caplog):
    fresh = api_client_rotate(client=api.credentials.client)

    refused(api.post(PAYMENTS, EVENT), caplog, "unknown_key")
    assert api.post(PAYMENTS, EVENT, key=fresh.key, secret=api.secret).status_code == 401
    assert api.post(PAYMENTS, EVENT, key=fresh.key, secret=fresh.signing_secret).status_code == 201


def test_admin_creates_and_rotates_showing_credentials_once(admin_client, db):
    client_cache.clear()
    response = admin_client.post("/admin/crm/apiclient/add/", {"name": "G2", "game": "Legends", "server": ""})
    assert response.status_code == 200
    client = ApiClient.objects.get(name="G2")
    key = response.context["credentials"][0].key
    assert client.key_hash == api_key_digest(key) and key.encode() in response.content

    response = admin_client.post(
        "/admin/crm/apiclient/", {"action": "rotate_credentials", "_selected_action": [client.pk]}
    )
    fresh = response.context["credentials"][0]
    client.refresh_from_db()
    assert fresh.key != key and client.key_hash == api_key_digest(fresh.key)
    change_page = admin_client.get(f"/admin/crm/apiclient/{client.pk}/change/").content
    assert fresh.key.encode() not in change_page and client.signing_secret.encode() not in change_page

    admin_client.post("/admin/crm/apiclient/", {"action": "disable_clients", "_selected_action": [client.pk]})
    client.refresh_from_db()
    assert not client.enabled


@pytest.fixture(autouse=True)
def _security_logs(caplog):
    caplog.set_level(logging.INFO, logger="crm.security")
