from django.contrib import admin
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from crm.admin_readonly import ReadOnlyAdminMixin
from crm.formatting import money
from players.admin.scoping import PlayerScopedAdminMixin

from ..models import ManagerAssignment, Tier, TierChange
from . import profile  # noqa: F401  (the player admin with vip's actions)


@admin.register(Tier)
class TierAdmin(SimpleHistoryAdmin):
    list_display = ["name", "level", "min_spend_display", "window_days", "downgrade_grace_days", "swatch"]
    ordering = ["level"]

    @admin.display(description=_("minimum spend"), ordering="min_spend")
    def min_spend_display(self, obj):
        return money(obj.min_spend)

    @admin.display(description=_("colour"))
    def swatch(self, obj):
        return format_html('<span class="vip-badge" style="background:{}">{}</span>', obj.colour, obj.name)


class ReadOnlyHistoryAdmin(ReadOnlyAdminMixin, PlayerScopedAdminMixin, admin.ModelAdmin):
    """History rows are written by services only."""

    show_full_result_count = False


@admin.register(TierChange)
class TierChangeAdmin(ReadOnlyHistoryAdmin):
    list_display = ["changed_at", "player", "from_tier", "to_tier", "reason", "actor", "note"]
    list_filter = ["reason", "to_tier"]
    list_select_related = ["player", "from_tier", "to_tier", "actor"]
    search_fields = ["=player__account_id"]


@admin.register(ManagerAssignment)
class ManagerAssignmentAdmin(ReadOnlyHistoryAdmin):
    list_display = ["assigned_at", "player", "from_manager", "to_manager", "actor", "note"]
    list_select_related = ["player", "from_manager", "to_manager", "actor"]
    search_fields = ["=player__account_id"]
