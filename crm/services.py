"""Writes for what the project shares: API clients and their credentials."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from .models import ApiClient

KEY_PREFIX = "crm_"
LAST_USED_EVERY = timedelta(seconds=60)


@dataclass(frozen=True)
class ApiCredentials:
    """What a client is told once: the key and the signing secret."""

    client: ApiClient
    key: str
    signing_secret: str

    def as_dict(self) -> dict:
        return {"name": self.client.name, "key": self.key, "signing_secret": self.signing_secret}


def api_key_digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def _new_credentials() -> tuple[str, str, str]:
    """(key, its display prefix, signing secret): 256 bits of randomness each."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    return key, key[: len(KEY_PREFIX) + 6], secrets.token_hex(32)


@transaction.atomic
def api_client_create(*, name: str, game: str = "", server: str = "") -> ApiCredentials:
    key, prefix, secret = _new_credentials()
    client = ApiClient(
        name=name.strip(),
        game=game.strip(),
        server=server.strip(),
        key_prefix=prefix,
        key_hash=api_key_digest(key),
        signing_secret=secret,
    )
    client.full_clean()
    client.save()
    return ApiCredentials(client=client, key=key, signing_secret=secret)


@transaction.atomic
def api_client_update(*, client: ApiClient, name: str, game: str = "", server: str = "") -> ApiClient:
    """A staff edit of what the client is called and which game and server it writes for.
    Saved, so every worker forgets the old binding at once (authentication's change signal)."""
    client.name, client.game, client.server = name.strip(), game.strip(), server.strip()
    client.full_clean()
    client.save(update_fields=["name", "game", "server"])
    return client


@transaction.atomic
def api_client_rotate(*, client: ApiClient) -> ApiCredentials:
    """New key and signing secret; the old ones stop working at once."""
    key, prefix, secret = _new_credentials()
    client.key_prefix, client.key_hash, client.signing_secret = prefix, api_key_digest(key), secret
    client.rotated_at = timezone.now()
    client.save(update_fields=["key_prefix", "key_hash", "signing_secret", "rotated_at"])
    return ApiCredentials(client=client, key=key, signing_secret=secret)


@transaction.atomic
def api_client_disable(*, client: ApiClient) -> ApiClient:
    client.enabled = False
    client.save(update_fields=["enabled"])
    return client


@transaction.atomic
def api_client_enable(*, client: ApiClient) -> ApiClient:
    client.enabled = True
    client.save(update_fields=["enabled"])
    return client


def api_client_touch(*, client_id: int, now=None) -> int:
    """Record use cheaply: one conditional UPDATE that writes at most once a minute."""
    now = now or timezone.now()
    return ApiClient.objects.filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_EVERY), pk=client_id
    ).update(last_used_at=now)


@transaction.atomic
def api_clients_rebind_server(*, old_servers, new_server: str, game: str = "") -> int:
    """A server merge (合服): the clients bound to an old server of the game (of any game when
    `game` is empty; a client with no game counts as the game's) write for the new server.
    Each is saved, so every worker forgets the old binding (authentication's change signal)."""
    clients = ApiClient.objects.select_for_update().filter(server__in=list(old_servers))
    if game:
        clients = clients.filter(Q(game=game) | Q(game=""))
    moved = 0
    for client in clients:
        client.server = new_server
        client.save(update_fields=["server"])
        moved += 1
    return moved
