"""The admin's system status: is the CRM keeping up with the game's events?

Shows how far the projection of accepted payments and logins (totals, tier, payer
status: `players.services.projection`) is behind, where it runs, and when it is logged
as lagging. The same figures as GET /api/v1/health/ gives the game's operators."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.utils.translation import gettext as _

from players.services.projection import projection_lag, projection_lag_warn_seconds

PERMISSION = "players.view_projectionpending"


def system_status_view(request):
    if not request.user.has_perm(PERMISSION):
        raise PermissionDenied
    lag = projection_lag()
    threshold = projection_lag_warn_seconds()
    if not lag.pending_players:
        state, state_label = "current", _("Up to date")
    elif lag.seconds > threshold:
        state, state_label = "lagging", _("Lagging")
    else:
        state, state_label = "catching-up", _("Catching up")
    context = {
        **admin.site.each_context(request),
        "title": _("System status"),
        "lag": lag,
        "lag_seconds": round(lag.seconds),
        "threshold": round(threshold),
        "state": state,
        "state_label": state_label,
        "on_workers": bool(settings.CELERY_BROKER_URL),
    }
    return render(request, "admin/workplace/system_status.html", context)
