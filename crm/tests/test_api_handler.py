"""crm.wsgi's application: /api/v1/ through the API's own short middleware chain, the
rest of the site through the full one."""

import json
from io import BytesIO

import pytest
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections

from crm.api.authentication import signature_header
from crm.api.handler import application_for
from players.models import Payment


@pytest.fixture
def application(db):
    """The production dispatch over a real WSGIHandler, keeping the test's database
    connection open across requests (as Django's test client does)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield application_for(WSGIHandler())
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def call(application, method, path, body=b"", **headers):
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "HTTP_HOST": "testserver",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": BytesIO(body),
        "wsgi.errors": BytesIO(),
        "CONTENT_LENGTH": str(len(body)),
        **headers,
    }
    started = {}

    def start_response(status, response_headers, exc_info=None):
        started["status"], started["headers"] = int(status.split()[0]), response_headers

    content = b"".join(application(environ, start_response))
    names = {}
    for name, value in started["headers"]:
        names.setdefault(name.lower(), []).append(value)
    return started["status"], names, content


def test_a_signed_payment_goes_through_the_api_chain(application, api_credentials):
    body = json.dumps(
        {
            "event_id": "wsgi-1",
            "type": "purchase",
            "account_id": "10086",
            "amount": "30.00",
            "currency": "CNY",
            "occurred_at": "2026-11-22T10:00:00+08:00",
        }
    ).encode()

    status, headers, content = call(
        application,
        "POST",
        "/api/v1/payments/",
        body,
        CONTENT_TYPE="application/json",
        HTTP_AUTHORIZATION=f"Bearer {api_credentials.key}",
        HTTP_X_CRM_SIGNATURE=signature_header(api_credentials.signing_secret, body),
    )

    assert status == 201 and json.loads(content) == {"status": "created", "event_id": "wsgi-1"}
    assert Payment.objects.get(event_id="wsgi-1").player.account_id == "10086"
    # the API's chain: security headers and language, no cookies, no framing header
    assert headers["x-content-type-options"] == ["nosniff"] and "content-language" in headers
    assert "set-cookie" not in headers and "x-frame-options" not in headers
    assert "Cookie" not in ",".join(headers.get("vary", []))


def test_the_api_chain_keeps_the_body_limit_and_the_language(application, api_credentials, settings):
    settings.CRM_API_MAX_BODY_BYTES = 100
    status, _headers, content = call(
        application, "POST", "/api/v1/payments/", b"{" + b" " * 200 + b"}", CONTENT_TYPE="application/json"
    )
    assert status == 413 and json.loads(content)["error"] == "too_large"

    status, headers, content = call(
        application,
        "GET",
        "/api/v1/players/nobody/",
        HTTP_AUTHORIZATION=f"Bearer {api_credentials.key}",
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    )
    assert status == 404 and headers["content-language"] == ["zh-hans"]
    assert json.loads(content)["detail"] == "未知玩家。"


def test_the_site_keeps_its_full_chain(application):
    status, headers, _content = call(application, "GET", "/admin/login/")

    assert status == 200
    assert any(cookie.strip().startswith("csrftoken=") for cookie in headers["set-cookie"])
    assert headers["x-frame-options"] == ["DENY"] and "Cookie" in headers["vary"][0]


def test_each_request_is_answered_in_the_language_it_asks_for(application, api_credentials):
    """The API chain keeps a request's language per process: one backend's requests
    alternating languages (header, cookie, none) each get their own, again and again."""
    asks = [
        ({"HTTP_ACCEPT_LANGUAGE": "zh-hans"}, "zh-hans", "未知玩家。"),
        ({"HTTP_ACCEPT_LANGUAGE": "en-US,en;q=0.9"}, "en", "Unknown player."),
        ({"HTTP_ACCEPT_LANGUAGE": "zh-CN,zh;q=0.9,en;q=0.8"}, "zh-hans", "未知玩家。"),
        ({}, "en", "Unknown player."),
        ({"HTTP_ACCEPT_LANGUAGE": "en", "HTTP_COOKIE": "django_language=zh-hans"}, "zh-hans", "未知玩家。"),
        ({"HTTP_ACCEPT_LANGUAGE": "fr-FR,de;q=0.8"}, "en", "Unknown player."),
    ]
    for _round in range(2):
        for ask, language, detail in asks:
            status, headers, content = call(
                application, "GET", "/api/v1/players/nobody/", HTTP_AUTHORIZATION=f"Bearer {api_credentials.key}", **ask
            )
            assert (status, headers["content-language"], json.loads(content)["detail"]) == (404, [language], detail)
            assert headers["vary"] == ["Accept-Language"]
