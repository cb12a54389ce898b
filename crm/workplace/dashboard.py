"""Assemble the dashboard for one request: which sections, which panels."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from players.models import Player
from players.selectors import sees_all_players

from .aggregates import dashboard_snapshot, failed_labels
from .registry import MY_DAY, TEAM, Panel, PanelContent, PanelRequest, panels


@dataclass
class Section:
    key: str
    title: object
    panels: list[tuple[Panel, PanelContent]] = field(default_factory=list)
    computed_at: datetime | None = None
    note: object = ""
    failed: list[str] = field(default_factory=list)


def sees_team(user) -> bool:
    return sees_all_players(user)


def sees_my_day(user) -> bool:
    """Managers see their day; a supervisor too when they look after players themselves."""
    return not sees_team(user) or Player.objects.filter(manager=user).exists()


def dashboard_sections(request) -> list[Section]:
    user = request.user
    today = timezone.localdate()
    sections = []
    if sees_my_day(user):
        ctx = PanelRequest(request=request, user=user, today=today)
        sections.append(Section(MY_DAY, _("My day"), _built(MY_DAY, ctx)))
    if sees_team(user):
        snapshot = dashboard_snapshot()
        if snapshot is None:
            sections.append(Section(TEAM, _("The team"), note=_("The team figures cannot be read right now.")))
        else:
            ctx = PanelRequest(request=request, user=user, today=today, team=snapshot["data"])
            sections.append(
                Section(
                    TEAM,
                    _("The team"),
                    _built(TEAM, ctx),
                    computed_at=snapshot["computed_at"],
                    failed=failed_labels(snapshot),
                )
            )
    return sections


def _built(audience: str, ctx: PanelRequest) -> list[tuple[Panel, PanelContent]]:
    built = []
    for p in panels(audience):
        if not p.visible_to(ctx.user):
            continue
        content = p.build(ctx)
        if content is not None:
            built.append((p, content))
    return built
