"""Outreach campaigns (campaigns.models.campaign): what the campaigns launched in the
last 90 days have brought back so far, treated group against holdout."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Count, Q
from django.utils.translation import gettext_lazy as _

from campaigns.models import Campaign, CampaignStatus, CampaignTarget

from ..aggregates import aggregate
from ..registry import TEAM, PanelContent, PanelRequest, Row, admin_url, panel

RECENT_DAYS = 90
SHOWN = 8


@aggregate("campaigns", label=_("Recent campaigns"))
def campaign_figures(now: datetime) -> list[dict]:
    """Per recent campaign: targets, reached and returned, treated and holdout apart."""
    recent = list(
        Campaign.objects.filter(status=CampaignStatus.LAUNCHED, launched_at__gte=now - timedelta(days=RECENT_DAYS))
        .order_by("-launched_at")
        .values("pk", "name")[:SHOWN]
    )
    counts = {
        (row["campaign_id"], row["is_holdout"]): row
        for row in CampaignTarget.objects.filter(campaign_id__in=[c["pk"] for c in recent])
        .order_by()
        .values("campaign_id", "is_holdout")
        .annotate(
            targets=Count("id"),
            reached=Count("id", filter=Q(reached_at__isnull=False)),
            returned=Count("id", filter=Q(returned_at__isnull=False)),
        )
    }
    empty = {"targets": 0, "reached": 0, "returned": 0}
    return [
        {**c, "treated": counts.get((c["pk"], False), empty), "holdout": counts.get((c["pk"], True), empty)}
        for c in recent
    ]


def _rate(part: int, whole: int) -> str:
    return f"{part * 100 / whole:.0f}%" if whole else "–"


@panel(
    "campaigns",
    title=_("Recent campaigns"),
    audience=TEAM,
    order=35,
    permissions=["campaigns.view_campaign"],
)
def recent_campaigns(ctx: PanelRequest) -> PanelContent | None:
    figures = ctx.team.get("campaigns")
    if figures is None:
        return None
    rows = [
        Row(
            text=c["name"],
            url=admin_url("campaigns_campaign_change", c["pk"]),
            meta=_("returned %(treated)s vs %(holdout)s holdout")
            % {
                "treated": _rate(c["treated"]["returned"], c["treated"]["targets"]),
                "holdout": _rate(c["holdout"]["returned"], c["holdout"]["targets"]),
            },
        )
        for c in figures
    ]
    return PanelContent(
        rows=rows, more_url=admin_url("campaigns_campaign_changelist"), empty=_("No campaign launched lately.")
    )
