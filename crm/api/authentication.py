"""Bearer key on every request; a timestamped HMAC signature over the raw body on
every write (the contract, ../shared/API.md, "Credentials")."""

from __future__ import annotations

import hashlib
import hmac
import re
import threading
import time
import uuid

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache, caches
from django.core.cache.backends.dummy import DummyCache
from django.core.cache.backends.locmem import LocMemCache
from django.db import transaction
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission

from crm.models import ApiClient
from crm.services import LAST_USED_EVERY, api_client_touch, api_key_digest

from .security import security_event

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SIGNATURE_HEADER = "X-CRM-Signature"
_SIGNATURE_RE = re.compile(r"^[0-9a-f]{64}$")


def signature_compute(secret: str, timestamp: int | str, body: bytes) -> str:
    """hex HMAC-SHA256(secret, "<t>.<raw body>")."""
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The header value a client sends: "t=<unix seconds>,v1=<hex>"."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    return f"t={timestamp},v1={signature_compute(secret, timestamp, body)}"


def signature_parse(value: str) -> tuple[int, list[str]] | None:
    """ "t=...,v1=..." -> (t, [v1, ...]); None when malformed."""
    timestamp, signatures = None, []
    for part in value.split(","):
        name, sep, item = part.strip().partition("=")
        if not sep:
            return None
        if name == "t":
            if timestamp is not None or not item.isascii() or not item.isdigit() or len(item) > 12:
                return None
            timestamp = int(item)
        elif name == "v1":
            if not _SIGNATURE_RE.match(item):
                return None
            signatures.append(item)
    if timestamp is None or not signatures:
        return None
    return timestamp, signatures


class _ClientCache:
    """Clients by key digest, kept per process, and the last time each client's
    `last_used_at` was written (at most once a minute).

    A disable, rotation or any other change to a client (crm.services, the admin)
    clears this process's cache and, after its commit, writes a new token under
    GENERATION_KEY in the Django cache. Every other process looks at that token at most
    every CRM_API_CLIENT_CHECK_SECONDS (0.5) — not on every request: a round trip to
    Redis per request costs more than the check is worth — and drops what it knows
    when the token changed; so a change stops a key everywhere within that interval
    plus one request, and the database is read only for clients not known yet. With
    a process-local cache (locmem, the default) the token is not seen by other
    processes: each process then re-reads its clients from the database every
    CRM_API_CLIENT_CHECK_SECONDS instead (one indexed query per client and interval,
    still not one per request)."""

    GENERATION_KEY = "crm:api-clients:generation"

    def __init__(self):
        self._lock = threading.Lock()
        self._clients: dict[str, ApiClient | None] = {}
        self._touched: dict[int, float] = {}
        self._checked_at = -1e9
        self._generation = None

    def _check(self) -> None:
        """Drop what this process knows if clients may have changed elsewhere."""
        interval = getattr(settings, "CRM_API_CLIENT_CHECK_SECONDS", 0.5)
        now = time.monotonic()
        if now - self._checked_at < interval:
            return
        self._checked_at = now
        if not _cache_is_shared():
            self._clients = {}
            return
        generation = cache.get(self.GENERATION_KEY)
        if generation != self._generation:
            self._generation = generation
            self._clients = {}

    def get(self, digest: str) -> ApiClient | None:
        self._check()
        clients = self._clients
        if digest in clients:
            return clients[digest]
        client = ApiClient.objects.filter(key_hash=digest).first()
        with self._lock:
            if len(self._clients) > 1000:
                self._clients = {}
            self._clients[digest] = client
        return client

    def touch(self, client: ApiClient) -> None:
        now = time.monotonic()
        if now - self._touched.get(client.pk, -1e9) < LAST_USED_EVERY.total_seconds():
            return
        self._touched[client.pk] = now
        api_client_touch(client_id=client.pk)

    def clear(self) -> None:
        with self._lock:
            self._clients = {}
            self._touched.clear()

    def changed(self) -> None:
        """A client changed (committed): tell every process, forget it here."""
        cache.set(self.GENERATION_KEY, uuid.uuid4().hex, timeout=None)
        self.clear()


def _cache_is_shared() -> bool:
    return not isinstance(caches["default"], LocMemCache | DummyCache)


client_cache = _ClientCache()


def _client_changed(sender, instance, **kwargs):
    client_cache.clear()
    transaction.on_commit(client_cache.changed)


class ApiKeyAuthentication(BaseAuthentication):
    """`Authorization: Bearer <key>`, and on writes `X-CRM-Signature: t=...,v1=...`."""

    keyword = "Bearer"

    def authenticate_header(self, request):
        return 'Bearer realm="api"'

    def _refuse(self, request, reason: str, detail, client=None):
        security_event(request, reason=reason, client=client)
        raise exceptions.AuthenticationFailed(detail, code=reason)

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        scheme, _sep, key = header.partition(" ")
        if not header:
            self._refuse(request, "missing_key", _("Send the API key as 'Authorization: Bearer <key>'."))
        if scheme.lower() != "bearer" or not key.strip():
            self._refuse(request, "malformed_authorization", _("The Authorization header must be 'Bearer <key>'."))
        client = client_cache.get(api_key_digest(key.strip()))
        if client is None:
            self._refuse(request, "unknown_key", _("Invalid API key."))
        if not client.enabled:
            self._refuse(request, "client_disabled", _("This API client is disabled."), client)
        if request.method in WRITE_METHODS:
            self._signature_check(request, client)
        client_cache.touch(client)
        # The client is request.auth; request.user stays anonymous, so nothing takes a
        # game backend for a staff user (history rows, permissions).
        return AnonymousUser(), client

    def _signature_check(self, request, client: ApiClient) -> None:
        value = request.META.get("HTTP_X_CRM_SIGNATURE", "")
        if not value:
            self._refuse(request, "missing_signature", _("Writes must carry the X-CRM-Signature header."), client)
        parsed = signature_parse(value)
        if parsed is None:
            self._refuse(
                request, "malformed_signature", _("X-CRM-Signature must be 't=<unix seconds>,v1=<hex>'."), client
            )
        timestamp, signatures = parsed
        tolerance = getattr(settings, "CRM_API_SIGNATURE_TOLERANCE", 300)
        if abs(time.time() - timestamp) > tolerance:
            self._refuse(
                request,
                "stale_signature",
                _("The signature's timestamp is more than %(seconds)d seconds from the server's clock.")
                % {"seconds": tolerance},
                client,
            )
        body = request._request.body
        expected = signature_compute(client.signing_secret, timestamp, body)
        # Every candidate is compared, in constant time, whatever the earlier ones gave.
        matches = [hmac.compare_digest(expected, candidate) for candidate in signatures]
        if not any(matches):
            self._refuse(request, "bad_signature", _("The signature does not match the request body."), client)


class IsApiClient(BasePermission):
    """Only requests authenticated as an enabled API client."""

    def has_permission(self, request, view):
        return isinstance(request.auth, ApiClient)
