"""Every error in the contract's shape, including Django's and DRF's own."""

import json

import pytest

PAYMENTS = "/api/v1/payments/"


def assert_error(response, status, error=None):
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert {"error", "detail"} <= set(body) <= {"error", "detail", "fields", "event_id"}
    if error:
        assert body["error"] == error
    return body


def test_unknown_url_under_api_is_a_json_404(api):
    assert_error(api.get("/api/v1/nothing-here/"), 404, "not_found")
    assert_error(api.client.get("/api/v1/payments"), 404, "not_found")  # no slash, no redirect


def test_wrong_method_is_a_json_405(api):
    assert_error(api.get(PAYMENTS), 405, "method_not_allowed")
    assert_error(api.put("/api/v1/vip/tiers/", {}), 405, "method_not_allowed")


@pytest.mark.parametrize("accept", [None, "*/*", "application/json", "application/*", "text/html, */*;q=0.1"])
def test_a_client_that_accepts_json_gets_json(api, accept):
    """Game backends send no Accept, */* or application/json (answered without DRF's
    negotiation, crm.api.negotiation); any other acceptable header gets the same."""
    headers = {"Accept": accept} if accept else {}
    response = api.client.get("/api/v1/vip/tiers/", headers={**api.headers(), **headers})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert isinstance(response.json(), list | dict)


@pytest.mark.parametrize("accept", ["text/html", "application/xml"])
def test_a_client_that_accepts_no_json_is_a_406(api, accept):
    response = api.client.get("/api/v1/vip/tiers/", headers={**api.headers(), "Accept": accept})
    assert_error(response, 406, "not_acceptable")
    response = api.client.get("/api/v1/vip/tiers/?format=xml", headers=api.headers())
    assert response.status_code == 404  # DRF: an unknown ?format= is a 404, as before


def test_not_json_is_a_415(api):
    assert_error(api.post(PAYMENTS, raw=b"a=1", content_type="application/x-www-form-urlencoded"), 415)


@pytest.mark.parametrize(
    "raw", [b"{not json", b'{"amount": NaN}', b"\xff\xfe", b"[" * 100000 + b"]" * 100000, b'"just a string"']
)
def test_malformed_json_is_a_400(api, raw):
    body = assert_error(api.post(PAYMENTS, raw=raw), 400)
    assert body["error"] in ("parse_error", "invalid")


def test_body_over_one_mebibyte_is_a_413_before_parsing(api):
    big = json.dumps({"events": [], "pad": "x" * (1024 * 1024)}).encode()
    assert_error(api.post("/api/v1/payments/batch/", raw=big), 413, "too_large")
    # A body declared small but sent large is cut at its declared length, never read past it.
    response = api.client.generic(
        "POST",
        "/api/v1/payments/batch/",
        big,
        content_type="application/json",
        headers={**api.headers(big)},
        CONTENT_LENGTH=str(2 * 1024 * 1024),
    )
    assert_error(response, 413, "too_large")


def test_throttled_client_gets_429_with_retry_after(api, settings):
    from django.core.cache import cache

    cache.clear()
    settings.CRM_API_THROTTLE_RATE = "1/m"
    settings.CRM_API_THROTTLE_BURST = 2
    assert api.get("/api/v1/vip/tiers/").status_code == 200
    assert api.get("/api/v1/vip/tiers/").status_code == 200
    response = api.get("/api/v1/vip/tiers/")
    assert_error(response, 429, "throttled")
    assert int(response["Retry-After"]) >= 1
    cache.clear()


def test_default_throttle_lets_a_batch_through_every_10_ms(settings):
    from crm.api.throttling import rate_parse

    assert rate_parse(settings.CRM_API_THROTTLE_RATE) >= 100


def test_validation_error_has_fields(api):
    body = assert_error(api.post(PAYMENTS, {}), 400, "invalid")
    assert {"event_id", "amount", "currency", "occurred_at", "type", "account_id"} <= set(body["fields"])


def test_bad_host_under_api_is_json(api):
    response = api.client.get("/api/v1/vip/tiers/", headers={"Host": "evil.example", **api.headers()})
    assert_error(response, 400)
