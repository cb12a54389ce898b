"""The player timeline: every event about one player, newest first, paginated.

Each kind of event is a registered *source*: a function returning at most `limit`
entries of one player older than a cursor, newest first, through an index that
starts with the player (e.g. payment_player_recent). A page merges the sources'
slices and keeps the newest `limit`; the last entry shown is the cursor of the next
page. So a page costs one bounded query per source whatever the history's length,
and no page loads the whole history.

The cursor orders entries by (time, source key, id), which is total, so entries with
the same timestamp are neither repeated nor skipped across pages.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from crm.privacy import can_view_personal_data, mask_free_text

PAGE_SIZE = 20


@dataclass(frozen=True)
class Cursor:
    at: datetime
    source: str
    pk: int

    def encode(self) -> str:
        return f"{self.at.astimezone(UTC).isoformat()}~{self.source}~{self.pk}"

    @classmethod
    def decode(cls, text: str | None) -> Cursor | None:
        """None for a missing or malformed cursor (the first page is shown)."""
        try:
            at_text, source, pk = (text or "").split("~")
            at = parse_datetime(at_text)
            if at is None or timezone.is_naive(at):
                return None
            return cls(at=at, source=source, pk=int(pk))
        except ValueError:
            return None


@dataclass
class Entry:
    at: datetime
    source: str
    pk: int
    kind: str  # a short, translated label: "Payment", "Contact", ...
    title: str
    detail: str = ""
    url: str | None = None
    actor: str = ""
    tone: str = ""  # "", "good", "warn", "bad"

    @property
    def cursor(self) -> Cursor:
        return Cursor(self.at, self.source, self.pk)


@dataclass(frozen=True)
class Source:
    key: str
    fetch: Callable  # (before_q, player, limit, user) -> list[Entry]
    time_field: str
    permission: str


_SOURCES: dict[str, Source] = {}


def timeline_source(key: str, *, time_field: str, permission: str):
    """Decorator: register `fetch(queryset_filter: Q, player, limit, user) -> list[Entry]`.

    `fetch` receives a Q over its own model selecting entries older than the cursor
    (already built from `time_field` and the primary key) and must return at most
    `limit` entries of that player, newest first, as `user` may read them (free text
    masked without players.view_personal_data). Every entry names who did it: a person,
    or the system and what moved it."""

    def register(fetch):
        _SOURCES[key] = Source(key=key, fetch=fetch, time_field=time_field, permission=permission)
        return fetch

    return register


def sources() -> dict[str, Source]:
    """The registered sources (`timeline_sources` registers them, imported by `CrmConfig.ready`)."""
    return _SOURCES


def older_than_q(source: Source, cursor: Cursor | None) -> Q:
    """Entries of `source` strictly after `cursor` in newest-first (time, source, id) order."""
    if cursor is None:
        return Q()
    field = source.time_field
    if source.key < cursor.source:
        return Q(**{f"{field}__lte": cursor.at})
    if source.key > cursor.source:
        return Q(**{f"{field}__lt": cursor.at})
    return Q(**{f"{field}__lt": cursor.at}) | Q(**{field: cursor.at, "pk__lt": cursor.pk})


@dataclass
class TimelinePage:
    entries: list[Entry]
    next_cursor: str | None
    first: bool


def player_timeline(*, player, user, before: str | None = None, limit: int = PAGE_SIZE) -> TimelinePage:
    """One page of `player`'s timeline as `user` may see it."""
    cursor = Cursor.decode(before)
    entries: list[Entry] = []
    for source in sources().values():
        if not user.has_perm(source.permission):
            continue
        entries += source.fetch(older_than_q(source, cursor), player, limit + 1, user)
    entries.sort(key=lambda e: (e.at, e.source, e.pk), reverse=True)
    page = entries[:limit]
    if not can_view_personal_data(user):  # notes, topics, titles and messages are free text
        for entry in page:
            entry.title, entry.detail = mask_free_text(entry.title), mask_free_text(entry.detail)
    has_more = len(entries) > limit
    return TimelinePage(
        entries=page,
        next_cursor=page[-1].cursor.encode() if has_more and page else None,
        first=cursor is None,
    )
