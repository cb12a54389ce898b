"""Admin for satisfaction surveys: read only (written by players.services.surveys),
scoped to the players a user may see."""

from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from crm.admin_columns import player_column, short_time, truncated
from crm.admin_readonly import ReadOnlyAdminMixin

from ..models import SatisfactionSurvey
from .scoping import PlayerScopedAdminMixin
from .service_records import masked_text_column


@admin.register(SatisfactionSurvey)
class SatisfactionSurveyAdmin(ReadOnlyAdminMixin, PlayerScopedAdminMixin, admin.ModelAdmin):
    list_display = [
        "sent",
        player_column(),
        "kind",
        "category_display",
        "manager",
        "channel",
        "status_display",
        "score_display",
        "reason_display",
        "answered_via",
        "answered",
    ]
    list_filter = ["status", "kind", "category", "manager", "score", "answered_via"]
    list_select_related = ["player", "manager"]
    search_fields = ["=player__account_id"]
    search_help_text = _("Account id.")
    readonly_fields = ["expiry_display"]
    show_full_result_count = False
    fields = [
        "player",
        "kind",
        "case",
        "contact",
        "manager",
        "category",
        "channel",
        "status",
        "expiry_display",
        "sent_at",
        "reminded_at",
        "answered_at",
        "answered_via",
        "score",
        "reason",
    ]

    def get_list_display(self, request):
        return [
            masked_text_column("reason", _("reason"), request.user) if c == "reason_display" else c
            for c in super().get_list_display(request)
        ]

    @admin.display(description=_("reason"))
    def reason_display(self, obj):  # replaced per request by get_list_display
        return ""

    @admin.display(description=_("status"), ordering="status")
    def status_display(self, obj):
        # An expired survey says why and when, under its status, as the reasons elsewhere do.
        if not obj.expiry_text:
            return obj.get_status_display()
        return format_html(
            "{}<br><small>{}</small>", obj.get_status_display(), truncated(obj.expiry_text, width="12em")
        )

    @admin.display(description=_("why it expired"))
    def expiry_display(self, obj):
        return obj.expiry_text or "-"

    @admin.display(description=_("sent at"), ordering="sent_at")
    def sent(self, obj):
        return short_time(obj.sent_at)

    @admin.display(description=_("answered at"), ordering="answered_at")
    def answered(self, obj):
        return short_time(obj.answered_at)

    @admin.display(description=_("category"), ordering="category")
    def category_display(self, obj):
        return obj.get_category_display()

    @admin.display(description=_("score (1-5)"), ordering="score")
    def score_display(self, obj):
        return "-" if obj.score is None else f"{'★' * obj.score}{'☆' * (5 - obj.score)}"
