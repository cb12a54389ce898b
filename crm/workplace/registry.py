"""Dashboard panels: what each is, who sees it, and how it is built.

A panel builder takes a `PanelRequest` and returns a `PanelContent` (or None to stay
hidden: its source has nothing to show or the user may not see it). Manager panels
run bounded, indexed queries on each view; team panels read the cached aggregates.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from urllib.parse import urlencode

from django.urls import reverse

MY_DAY = "my_day"
TEAM = "team"

# How many rows a list panel shows; the link behind it has the rest.
PANEL_ROWS = 8


@dataclass
class Tile:
    """A number with a label, linking to the filtered list behind it."""

    label: str
    value: str
    url: str | None = None
    note: str = ""
    tone: str = ""  # "", "good", "warn", "bad"


@dataclass
class Row:
    text: str
    url: str | None = None
    meta: str = ""
    badge: str = ""
    badge_colour: str = ""
    tone: str = ""


@dataclass
class Chart:
    """Data for one Chart.js chart: labels and datasets of plain numbers."""

    kind: str  # "line" or "bar"
    labels: list[str]
    datasets: list[dict]
    money: bool = False


@dataclass
class PanelContent:
    tiles: list[Tile] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    chart: Chart | None = None
    count: int | None = None
    count_more: bool = False  # there are more than `count`
    more_url: str | None = None
    empty: str = ""
    note: str = ""


@dataclass
class PanelRequest:
    request: object
    user: object
    today: date
    team: dict | None = None  # the cached team aggregates (team panels only)


@dataclass(frozen=True)
class Panel:
    key: str
    title: object
    audience: str
    order: int
    build: Callable[[PanelRequest], PanelContent | None]
    permissions: tuple[str, ...] = ()
    wide: bool = False

    def visible_to(self, user) -> bool:
        return all(user.has_perm(p) for p in self.permissions)


_PANELS: dict[str, Panel] = {}


def panel(key: str, *, title, audience: str, order: int = 100, permissions=(), wide: bool = False):
    """Decorator: register a panel builder under a unique key."""

    def register(build):
        _PANELS[key] = Panel(
            key=key,
            title=title,
            audience=audience,
            order=order,
            build=build,
            permissions=tuple(permissions),
            wide=wide,
        )
        return build

    return register


def panels(audience: str) -> list[Panel]:
    from . import panels as _load  # noqa: F401  (registers every panel module)

    return sorted((p for p in _PANELS.values() if p.audience == audience), key=lambda p: (p.order, p.key))


_TILE_BUILDERS: dict[str, tuple[int, Callable[[PanelRequest], list[Tile]]]] = {}


def team_tiles(key: str, *, order: int = 100):
    """Decorator: register a builder of KPI tiles for the team's "at a glance" strip.
    It takes the PanelRequest (with the cached team figures) and returns tiles."""

    def register(build):
        _TILE_BUILDERS[key] = (order, build)
        return build

    return register


def built_team_tiles(ctx: PanelRequest) -> list[Tile]:
    tiles = []
    for _order, build in sorted(_TILE_BUILDERS.values(), key=lambda item: item[0]):
        tiles += build(ctx)
    return tiles


def admin_url(name: str, *args, **params) -> str:
    """reverse('admin:<name>') with query parameters, e.g. a filtered changelist."""
    url = reverse(f"admin:{name}", args=args)
    params = {k: v for k, v in params.items() if v is not None}
    return f"{url}?{urlencode(params)}" if params else url
