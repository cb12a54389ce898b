"""Admin views of the workplace: quick actions from the player page, dashboard refresh."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from players.selectors import players_visible_to
from players.services import contact_log_create
from vip.admin.profile import PinTierForm
from vip.services import tier_pin

from .aggregates import dashboard_refresh
from .dashboard import sees_team
from .forms import ContactQuickForm


def _player_for(request, pk, permission):
    if not request.user.has_perm(permission):
        raise PermissionDenied
    return get_object_or_404(players_visible_to(request.user), pk=pk)


def _player_page(player) -> str:
    return reverse("admin:players_player_change", args=[player.pk])


@require_POST
def player_log_contact(request, pk):
    player = _player_for(request, pk, "players.add_contactlog")
    form = ContactQuickForm(request.POST)
    if form.is_valid():
        try:
            contact_log_create(player=player, staff=request.user, **form.cleaned_data)
        except ValidationError as exc:  # the contact rules are the service's, shown as the form's
            for field, errors in exc.message_dict.items() if hasattr(exc, "error_dict") else [(None, exc.messages)]:
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, _("Contact logged."))
            return redirect(_player_page(player))
    for field, errors in form.errors.items():
        label = form.fields[field].label if field in form.fields else ""
        for error in errors:
            messages.error(request, f"{label}: {error}" if label else error)
    return redirect(_player_page(player) + "#quick-actions")


def player_pin_tier(request, pk):
    player = _player_for(request, pk, "players.change_player")
    form = PinTierForm(request.POST or None, initial={"tier": player.tier_id})
    if request.method == "POST" and form.is_valid():
        try:
            tier_pin(player=player, actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, _("Tier pinned."))
            return redirect(_player_page(player))
    context = {
        **admin.site.each_context(request),
        "title": _("Pin a VIP tier"),
        "subtitle": str(player),
        "player": player,
        "form": form,
        "opts": player._meta,
    }
    return render(request, "admin/workplace/quick_form.html", context)


@require_POST
def dashboard_refresh_now(request):
    if not sees_team(request.user):
        raise PermissionDenied
    dashboard_refresh()
    messages.success(request, _("The team figures were refreshed."))
    return redirect("admin:index")
