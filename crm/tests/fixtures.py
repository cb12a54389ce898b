import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from django.utils import timezone


@pytest.fixture
def requires_postgres():
    """Skip, with the reason shown, where the suite runs on SQLite."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: run with DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm")


@pytest.fixture
def make_staff(db):
    """make_staff("li", "VIP manager") -> an active staff user in that role."""

    def make(username, role=None, **extra):
        user = get_user_model().objects.create_user(username=username, password="pw", is_staff=True, **extra)
        if role:
            user.groups.add(Group.objects.get(name=role))
        return user

    return make


@pytest.fixture
def manager(make_staff):
    return make_staff("manager_a", "VIP manager")


@pytest.fixture
def other_manager(make_staff):
    return make_staff("manager_b", "VIP manager")


@pytest.fixture
def supervisor(make_staff):
    return make_staff("boss", "Supervisor")


@pytest.fixture
def operations(make_staff):
    return make_staff("ops", "Operations")


@pytest.fixture
def superuser(db):
    return get_user_model().objects.create_superuser(username="root", password="pw", email="root@example.com")


# --- the workplace (dashboard, timeline) -------------------------------------


@pytest.fixture
def make_task(db):
    """make_task(player, assignee, due_date=..., **fields) -> an OutreachTask."""
    from campaigns.models import OutreachTask

    def make(player, assignee, **fields):
        fields.setdefault("title", "Call back")
        fields.setdefault("due_date", timezone.localdate())
        return OutreachTask.objects.create(player=player, assignee=assignee, **fields)

    return make


@pytest.fixture
def fresh_dashboard_cache():
    """Each test starts without cached team figures."""
    from django.core.cache import cache

    from crm.workplace.aggregates import CACHE_KEY

    cache.delete(CACHE_KEY)
    yield
    cache.delete(CACHE_KEY)


class SignedApi:
    """A game backend talking to the API through Django's test client: Bearer key on
    every request, X-CRM-Signature on every write (unless told otherwise)."""

    def __init__(self, client, credentials):
        self.client = client
        self.credentials = credentials
        self.key = credentials.key
        self.secret = credentials.signing_secret

    def headers(self, body: bytes | None = None, *, sign=True, timestamp=None, secret=None, key=None):
        from crm.api.authentication import signature_header

        headers = {"Authorization": f"Bearer {key or self.key}"}
        if body is not None and sign:
            headers["X-CRM-Signature"] = signature_header(secret or self.secret, body, timestamp)
        return headers

    def get(self, path, params=None, **kwargs):
        return self.client.get(path, params or {}, headers=self.headers(**kwargs))

    def write(self, method, path, data=None, *, raw: bytes | None = None, content_type="application/json", **kwargs):
        import json

        body = raw if raw is not None else json.dumps(data).encode()
        extra = kwargs.pop("headers", {})
        headers = {**self.headers(body, **kwargs), **extra}
        return getattr(self.client, method)(path, body, content_type=content_type, headers=headers)

    def post(self, path, data=None, **kwargs):
        return self.write("post", path, data, **kwargs)

    def put(self, path, data=None, **kwargs):
        return self.write("put", path, data, **kwargs)


@pytest.fixture
def api_credentials(db):
    from crm.api.authentication import client_cache
    from crm.services import api_client_create

    client_cache.clear()
    return api_client_create(name="game-a", game="Legends")


@pytest.fixture
def api(client, api_credentials):
    """The API through the same two chains as crm.wsgi.application: /api/v1/ through
    the API's own middleware (crm.api.handler), the rest through the site's."""
    from django.test.client import ClientHandler

    from crm.api.handler import ApiMiddlewareMixin, by_path

    class ApiClientHandler(ApiMiddlewareMixin, ClientHandler):
        pass

    client.handler = by_path(ApiClientHandler(enforce_csrf_checks=False), client.handler)
    return SignedApi(client, api_credentials)


@pytest.fixture
def api_live_server(transactional_db):
    """A live server for API tests (its closing flush is undone by the root conftest)."""
    from pytest_django.live_server_helper import LiveServer

    server = LiveServer("localhost")
    yield server
    server.stop()
