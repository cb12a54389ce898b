"""The player list and page with vip's actions: assigning a VIP manager (also the page's
manager field) and pinning a tier. vip extends players' PlayerAdmin (players <- vip: the
lower app's admin is extended, never imports upward), as campaigns extends the at-risk
worklist."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from players.admin.profile import PlayerAdmin, manager_choices
from players.models import Player

from ..models import Tier
from ..services import manager_assign_allowed, players_assign_manager, tier_pin


class AssignManagerForm(forms.Form):
    manager = forms.ModelChoiceField(queryset=None, required=False, label=_("VIP manager"), empty_label=_("(nobody)"))
    note = forms.CharField(required=False, label=_("note"), max_length=500)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["manager"].queryset = manager_choices()


class PinTierForm(forms.Form):
    tier = forms.ModelChoiceField(
        queryset=Tier.objects.all(), required=False, label=_("VIP tier"), empty_label=_("(no tier)")
    )
    expires_at = forms.DateTimeField(
        label=_("pinned until"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    reason = forms.CharField(label=_("reason"), max_length=500)


admin.site.unregister(Player)


@admin.register(Player)
class VipPlayerAdmin(PlayerAdmin):
    actions = [*PlayerAdmin.actions, "assign_manager", "pin_tier"]

    def manager_assignable(self, request) -> bool:
        return manager_assign_allowed(request.user)

    def manager_move(self, request, player, manager) -> None:
        players_assign_manager(
            players=Player.objects.filter(pk=player.pk),
            manager=manager,
            actor=request.user,
            note=_("changed on the player page"),
        )

    @admin.action(description=_("Assign to a VIP manager"), permissions=["assign"])
    def assign_manager(self, request, queryset):
        form = AssignManagerForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            changed = players_assign_manager(
                players=queryset,
                manager=form.cleaned_data["manager"],
                actor=request.user,
                note=form.cleaned_data["note"],
            )
            self.message_user(
                request,
                ngettext("%(count)d player assigned.", "%(count)d players assigned.", changed) % {"count": changed},
                messages.SUCCESS,
            )
            return None
        return self._action_form(request, queryset, form, "assign_manager", _("Assign to a VIP manager"))

    @admin.action(description=_("Pin a VIP tier"), permissions=["change"])
    def pin_tier(self, request, queryset):
        form = PinTierForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            pinned = 0
            for player in queryset:
                try:
                    tier_pin(player=player, actor=request.user, **form.cleaned_data)
                    pinned += 1
                except ValidationError as exc:
                    for field, errors in exc.message_dict.items():
                        form.add_error(field if field in form.fields else None, errors)
                    return self._action_form(request, queryset, form, "pin_tier", _("Pin a VIP tier"))
            self.message_user(
                request,
                ngettext("Tier pinned for %(count)d player.", "Tier pinned for %(count)d players.", pinned)
                % {"count": pinned},
                messages.SUCCESS,
            )
            return None
        return self._action_form(request, queryset, form, "pin_tier", _("Pin a VIP tier"))

    def has_assign_permission(self, request):
        return manager_assign_allowed(request.user)
