"""Possible duplicates in the admin: the pairs the finder found (`players.services.duplicates`),
best first, with the reason and the shared values (masked without the permission to see
personal data), scoped (a VIP manager sees the pairs of two of their own players), and the
review actions "not the same person" / "to review again"."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from crm.admin_columns import player_column, short_time
from crm.names import staff_name
from crm.privacy import can_view_personal_data, masked

from ..models.duplicates import DUPLICATE_RULES, DuplicateCandidate
from ..selectors.duplicates import duplicate_scope_q
from ..services.duplicates import REVIEW_PERMISSION, duplicates_dismiss, duplicates_reopen
from ..services.persons import MERGE_PERMISSION
from .scoping import PlayerScopedAdminMixin


def _reasons(obj, *, clear: bool):
    """Why the two accounts may be one person, rule by rule, each with the value they share
    (masked without the permission): "same phone 138****5678"."""
    lines = []
    player = obj.player_a
    for rule in obj.rules:
        values = []
        for name in rule.fields:
            value = getattr(player, name)
            if not clear:
                values.append(masked(name, value))
            elif name == "birthday":
                values.append(date_format(value, "DATE_FORMAT"))
            else:
                values.append(str(value))
        lines.append((rule.label, " ".join(values)))
    return format_html_join("", '<div>{} <small class="crm-shared">{}</small></div>', lines) or "-"


@admin.register(DuplicateCandidate)
class DuplicateCandidateAdmin(PlayerScopedAdminMixin, admin.ModelAdmin):
    list_display = ["score", "account_a", "account_b", "reasons", "status", "found", "merge_link"]
    list_display_links = ["score"]
    list_filter = ["status", *[rule.flag for rule in DUPLICATE_RULES]]
    list_select_related = ["player_a", "player_b"]
    search_fields = ["=player_a__account_id", "=player_b__account_id"]
    actions = ["dismiss", "reopen"]
    list_per_page = 50
    fields = ["score", "account_a", "account_b", "reasons", "status", "found", "reviewer", "reviewed"]
    readonly_fields = fields

    def get_queryset(self, request):
        # Both accounts must be visible: a pair names two players.
        return admin.ModelAdmin.get_queryset(self, request).filter(duplicate_scope_q(request.user))

    def get_list_display(self, request):
        return self.get_list_display_for_merge(request, self._reasons_for(request, self.list_display))

    def get_fields(self, request, obj=None):
        return self._reasons_for(request, self.fields)

    @staticmethod
    def _reasons_for(request, names):
        """The reasons' column shows the shared values: masked without the permission."""
        if can_view_personal_data(request.user):
            return list(names)
        return ["reasons_masked" if name == "reasons" else name for name in names]

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_review_permission(self, request):
        return request.user.has_perm(REVIEW_PERMISSION)

    # --- columns ------------------------------------------------------------------
    account_a = staticmethod(player_column("player_a", _("account"), link=True))
    account_b = staticmethod(player_column("player_b", _("other account"), link=True))

    @admin.display(description=_("why"))
    def reasons(self, obj):
        return _reasons(obj, clear=True)

    @admin.display(description=_("why"))
    def reasons_masked(self, obj):
        return _reasons(obj, clear=False)

    @admin.display(description=_("merge"))
    def merge_link(self, obj):
        url = reverse("admin:players_personmerge_add")
        return format_html(
            '<a class="button" href="{}?a={}&amp;b={}">{}</a>', url, obj.player_a_id, obj.player_b_id, _("Merge…")
        )

    def get_list_display_for_merge(self, request, names):
        return list(names) if request.user.has_perm(MERGE_PERMISSION) else [n for n in names if n != "merge_link"]

    @admin.display(description=_("found"), ordering="found_at")
    def found(self, obj):
        return short_time(obj.found_at)

    @admin.display(description=_("reviewed by"))
    def reviewer(self, obj):
        return staff_name(obj.reviewed_by) if obj.reviewed_by else "-"

    @admin.display(description=_("reviewed at"))
    def reviewed(self, obj):
        return short_time(obj.reviewed_at)

    # --- actions ------------------------------------------------------------------
    @admin.action(description=_("Not the same person"), permissions=["review"])
    def dismiss(self, request, queryset):
        try:
            done = duplicates_dismiss(candidates=queryset, actor=request.user)
        except PermissionDenied:
            self.message_user(request, _("You may not review possible duplicates."), messages.ERROR)
            return
        self.message_user(
            request,
            ngettext(
                "%(count)d pair marked as not the same person.", "%(count)d pairs marked as not the same person.", done
            )
            % {"count": done},
            messages.SUCCESS,
        )

    @admin.action(description=_("To review again"), permissions=["review"])
    def reopen(self, request, queryset):
        try:
            done = duplicates_reopen(candidates=queryset, actor=request.user)
        except PermissionDenied:
            self.message_user(request, _("You may not review possible duplicates."), messages.ERROR)
            return
        self.message_user(
            request,
            ngettext("%(count)d pair to review again.", "%(count)d pairs to review again.", done) % {"count": done},
            messages.SUCCESS,
        )
