from django.contrib import admin

from crm.admin_mixins import PlayerScopedAdminMixin

from ..models import Message, OutreachTask


@admin.register(OutreachTask)
class OutreachTaskAdmin(PlayerScopedAdminMixin, admin.ModelAdmin):
    list_display = ["title", "player", "assignee", "kind", "due_date", "status", "outcome"]
    list_filter = ["status", "kind", "due_date"]
    list_select_related = ["player", "assignee"]
    search_fields = ["=player__account_id", "title"]
    autocomplete_fields = ["player"]
    show_full_result_count = False


@admin.register(Message)
class MessageAdmin(PlayerScopedAdminMixin, admin.ModelAdmin):
    list_display = ["player", "channel", "status", "scheduled_for", "sent_at", "attempts", "source"]
    list_filter = ["status", "channel"]
    list_select_related = ["player"]
    search_fields = ["=player__account_id"]
    show_full_result_count = False
    raw_id_fields = ["player"]
