"""The consent ledger's one writer: every grant, refusal and withdrawal, from every door
(the game API, a player's reply, imports, staff in the admin, the former opt-out flag).

`consents_record` appends the events (`ConsentEvent`) and moves the consent in force
(`Consent`, one row per player × channel × purpose) to the latest of them by the time
the player gave it — an older event arriving late is kept in the history and changes
nothing in force. When a refusal or withdrawal comes into force, the hooks the apps
built on players hand in run in the same transaction (`CampaignsConfig.ready`: cancel
the player's queued messages and open tasks of that channel and purpose).

`consent_history_purge` deletes history older than `CRM_CONSENT_HISTORY_DAYS` after it
was superseded; the consent in force and its record are always kept.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.api.fields import text_is_clean
from crm.channels import CONSENT_CHANNELS

from ..models import (
    Consent,
    ConsentEvent,
    ConsentPurpose,
    ConsentSource,
    ConsentStatus,
    Player,
    player_erased_error,
    players_erased_locked,
)
from ..selectors.persons import persons_main

log = logging.getLogger(__name__)

MIN_HISTORY_DAYS = 153  # five months: MIIT's draft rule keeps proof of consent this long
MAX_EVIDENCE = 2000
CHUNK = 500

# (player_id, channel, purpose) keys whose refusal or withdrawal just came into force.
ConsentKeys = list[tuple[int, str, str]]
_REFUSAL_HOOKS: list[Callable[..., object]] = []


def consent_refusal_hook_add(hook: Callable[..., object]) -> None:
    """Run `hook(keys=..., now=...)` whenever refusals or withdrawals come into force."""
    if hook not in _REFUSAL_HOOKS:
        _REFUSAL_HOOKS.append(hook)


@dataclass(frozen=True)
class ConsentInput:
    player_id: int
    channel: str
    purpose: str
    status: str
    occurred_at: datetime
    evidence: str = ""


def consent_clean(*, channel, purpose, status, evidence="", occurred_at=None, now=None) -> dict[str, list[str]]:
    """Errors by field name (empty when the values may be recorded)."""
    errors: dict[str, list[str]] = {}
    if channel not in CONSENT_CHANNELS:
        errors["channel"] = [_("Choose one of: %(choices)s.") % {"choices": ", ".join(CONSENT_CHANNELS)}]
    if purpose not in ConsentPurpose.values:
        errors["purpose"] = [_("Choose one of: %(choices)s.") % {"choices": ", ".join(ConsentPurpose.values)}]
    if status not in ConsentStatus.values:
        errors["status"] = [_("Choose one of: %(choices)s.") % {"choices": ", ".join(ConsentStatus.values)}]
    if not isinstance(evidence, str) or len(evidence) > MAX_EVIDENCE or not text_is_clean(evidence):
        errors["evidence"] = [_("At most %(max)s characters of text.") % {"max": MAX_EVIDENCE}]
    if occurred_at is not None:
        if not isinstance(occurred_at, datetime) or timezone.is_naive(occurred_at):
            errors["occurred_at"] = [_("Must be a date and time with a UTC offset.")]
        elif occurred_at > (now or timezone.now()) + timedelta(hours=24):
            errors["occurred_at"] = [_("Cannot be in the future.")]
    return errors


def consent_record(
    *,
    player: Player,
    channel: str,
    purpose: str,
    status: str,
    source: str,
    evidence: str = "",
    occurred_at: datetime | None = None,
    actor=None,
    via: str = "",
    now: datetime | None = None,
) -> ConsentEvent:
    """Record one consent event (staff, the API, a reply); errors name the field."""
    now = now or timezone.now()
    evidence = (evidence or "").strip()
    errors = consent_clean(
        channel=channel, purpose=purpose, status=status, evidence=evidence, occurred_at=occurred_at, now=now
    )
    if errors:
        raise ValidationError(errors)
    item = ConsentInput(player.pk, channel, purpose, status, occurred_at or now, evidence)
    return consents_record([item], source=source, actor=actor, via=via, now=now)[0]


@transaction.atomic
def consents_record(
    items: list[ConsentInput], *, source: str, actor=None, via: str = "", now: datetime | None = None
) -> list[ConsentEvent]:
    """Append cleaned consent events and bring the latest of each key into force, set-based
    (imports, the migration of the former flag, and `consent_record` for one). A grant for
    a player erased on request is refused (their refusals and withdrawals are not: the
    erasure itself withdraws every consent)."""
    now = now or timezone.now()
    if source not in ConsentSource.values:
        raise ValueError(f"unknown consent source {source!r}")
    # Consents are the VIP person's: said on a linked account, they are recorded on the main one.
    mains = persons_main(item.player_id for item in items)
    if mains:
        items = [replace(item, player_id=mains.get(item.player_id, item.player_id)) for item in items]
    granting = sorted({item.player_id for item in items if item.status == ConsentStatus.GRANTED})
    for start in range(0, len(granting), CHUNK):  # the one check, under the players' row locks
        if players_erased_locked(granting[start : start + CHUNK]):
            raise player_erased_error()
    events = ConsentEvent.objects.bulk_create(
        [
            ConsentEvent(
                player_id=item.player_id,
                channel=item.channel,
                purpose=item.purpose,
                status=item.status,
                source=source,
                occurred_at=item.occurred_at,
                recorded_at=now,
                evidence=item.evidence[:MAX_EVIDENCE],
                recorded_by=actor,
                recorded_via=via[:120],
            )
            for item in items
        ],
        batch_size=1000,
    )
    # The latest event per key (by the time given, then as listed) competes for force.
    latest: dict[tuple[int, str, str], ConsentEvent] = {}
    for event in events:
        key = (event.player_id, event.channel, event.purpose)
        if key not in latest or event.occurred_at >= latest[key].occurred_at:
            latest[key] = event
    ids = [event.pk for event in latest.values()]
    table, events_table = Consent._meta.db_table, ConsentEvent._meta.db_table
    columns = (
        "player_id, channel, purpose, status, source, occurred_at, recorded_at, evidence, recorded_by_id, recorded_via"
    )
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns.split(", ")[3:])
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        marks = ", ".join(["%s"] * len(chunk))
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} ({columns}, event_id) SELECT {columns}, id FROM {events_table} "
                f"WHERE id IN ({marks}) ON CONFLICT (player_id, channel, purpose) DO UPDATE SET {updates}, "
                f"event_id = excluded.event_id WHERE excluded.occurred_at >= {table}.occurred_at",
                chunk,
            )
    refused = [
        (c.player_id, c.channel, c.purpose)
        for start in range(0, len(ids), CHUNK)
        for c in Consent.objects.filter(event_id__in=ids[start : start + CHUNK]).exclude(status=ConsentStatus.GRANTED)
    ]
    if refused:
        for hook in _REFUSAL_HOOKS:
            hook(keys=refused, now=now)
    return events


def consent_reply_status(text: str) -> str | None:
    """The consent a player's reply expresses: a refusal keyword (CRM_CONSENT_REFUSAL_REPLIES)
    withdraws; anything else is no consent decision (None)."""
    words = {w.strip().upper() for w in getattr(settings, "CRM_CONSENT_REFUSAL_REPLIES", [])}
    return ConsentStatus.WITHDRAWN if (text or "").strip().upper() in words else None


def consent_history_days() -> int:
    """Days history is kept after it was superseded: the setting, never below five months."""
    return max(int(getattr(settings, "CRM_CONSENT_HISTORY_DAYS", 183)), MIN_HISTORY_DAYS)


@transaction.atomic
def consent_history_purge(*, now: datetime | None = None) -> int:
    """Delete consent records superseded longer ago than the retention (a record is
    superseded when a later one of the same player, channel and purpose was recorded);
    the record in force is never deleted, nor any record recorded within the retention
    (a grant that arrived late, already superseded, is proof all the same). Returns how
    many were deleted."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=consent_history_days())
    table = ConsentEvent._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {table} WHERE id IN (SELECT e.id FROM {table} e WHERE e.recorded_at <= %s AND "
            f"NOT EXISTS (SELECT 1 FROM {Consent._meta.db_table} c WHERE c.event_id = e.id) AND EXISTS ("
            f"SELECT 1 FROM {table} n WHERE n.player_id = e.player_id AND n.channel = e.channel "
            "AND n.purpose = e.purpose AND n.id <> e.id AND n.recorded_at <= %s "
            "AND (n.occurred_at > e.occurred_at OR (n.occurred_at = e.occurred_at AND n.id > e.id))))",
            [cutoff, cutoff],
        )
        deleted = cursor.rowcount
    if deleted:
        log.info("consent history purged: %s records superseded before %s", deleted, cutoff.isoformat())
    return deleted


# --- VIP people: a merge brings the later consent in force to the person kept -----------
_CONSENT_VALUES = (
    "status",
    "source",
    "occurred_at",
    "recorded_at",
    "evidence",
    "recorded_by_id",
    "recorded_via",
    "event_id",
)


def consents_take_later(*, from_ids: list[int], to_id: int) -> list[dict]:
    """Before a merge moves the consent rows of `from_ids` to `to_id`: where both hold a
    consent of one channel and purpose, the one given later comes into force on `to_id`
    (this module's rule); the other stays where it was. Returns the overwritten rows' former
    values, for `consents_take_later_undo`."""
    held = {(c.channel, c.purpose): c for c in Consent.objects.select_for_update().filter(player_id=to_id)}
    later: dict[tuple[str, str], Consent] = {}
    for row in Consent.objects.filter(player_id__in=from_ids).order_by("occurred_at", "pk"):
        key = (row.channel, row.purpose)
        if key in held and row.occurred_at > held[key].occurred_at:
            later[key] = row
    snapshot = []
    for key, row in later.items():
        mine = held[key]
        snapshot.append(
            {
                "pk": mine.pk,
                "before": {k: _jsonable(getattr(mine, k)) for k in _CONSENT_VALUES},
                "after_recorded_at": row.recorded_at.isoformat(),
            }
        )
        Consent.objects.filter(pk=mine.pk).update(**{k: getattr(row, k) for k in _CONSENT_VALUES})
    return snapshot


def consents_take_later_undo(snapshot: list[dict]) -> None:
    """Put back the consents a merge overwrote, unless one was recorded since (a refusal
    recorded after the merge stays in force)."""
    for item in snapshot:
        values = {
            k: datetime.fromisoformat(v) if k in ("occurred_at", "recorded_at") and v else v
            for k, v in item["before"].items()
        }
        Consent.objects.filter(pk=item["pk"], recorded_at=datetime.fromisoformat(item["after_recorded_at"])).update(
            **values
        )


def _jsonable(value):
    return value.isoformat() if isinstance(value, datetime) else value
