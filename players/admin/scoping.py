"""What every admin over player data shares (players', vip's, campaigns'): row scoping for
VIP managers, applied here and decided by `players.selectors.player_scope_q` (which players
a user may see)."""

from django.contrib import admin
from django.contrib.admin import helpers
from django.contrib.admin.widgets import ForeignKeyRawIdWidget
from django.core.exceptions import ValidationError
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from crm.paginator import EstimatedCountPaginator
from crm.privacy import can_view_personal_data, lookup_reaches_personal_data, viewer_attach

from ..selectors import player_scope_q


class ScopedRawIdWidget(ForeignKeyRawIdWidget):
    """A raw-id box that names the record beside it only when the user may see it
    (Django's looks the id up in the whole table)."""

    def __init__(self, rel, admin_site, queryset, **kwargs):
        super().__init__(rel, admin_site, **kwargs)
        self.queryset = queryset

    def label_and_url_for_value(self, value):
        key = self.rel.get_related_field().name
        try:
            visible = self.queryset.filter(**{key: value}).exists()
        except (ValueError, TypeError, ValidationError):
            visible = False
        return super().label_and_url_for_value(value) if visible else ("", "")


class PlayerScopedAdminMixin:
    """Limit a changelist, its search, change pages, actions, exports, autocomplete
    and player foreign-key choices to the players the user may see.

    `player_path` is the lookup from this model to its Player ("" for Player).
    """

    player_path = "player"
    # Lists of player data are big: no COUNT(*) over a million rows per page view.
    paginator = EstimatedCountPaginator
    show_full_result_count = False

    def get_queryset(self, request):
        return super().get_queryset(request).filter(player_scope_q(request.user, self.player_path))

    def get_object(self, request, object_id, from_field=None):
        """The object of a change, delete or history page knows who looks at it, so that its
        label shows free text in clear only to those who may see personal data."""
        return viewer_attach(super().get_object(request, object_id, from_field), request.user)

    def lookup_allowed(self, lookup, value, request=None):
        """Refuse (400, Django's DisallowedModelAdminLookup) a changelist or export filter on
        a personal field, direct or through relations, to a user who may not see it:
        `?phone__startswith=` would otherwise reveal a number one digit at a time.

        A `__range` lookup is refused to everyone: the admin passes its URL value on as one
        string, which the database reads character by character (`?nickname__range=a,b`
        was a 500); no filter of ours builds one."""
        if lookup.endswith("__range"):
            return False
        if lookup_reaches_personal_data(self.model, lookup) and not can_view_personal_data(
            getattr(request, "user", None)
        ):
            return False
        return super().lookup_allowed(lookup, value, request)

    @admin.display(description=mark_safe('<input type="checkbox" id="action-toggle">'))
    def action_checkbox(self, obj):
        """Django renders this checkbox through the form widget templates, once per row;
        the same markup written directly makes a long list noticeably cheaper."""
        return format_html(
            '<input type="checkbox" name="{}" value="{}" class="action-select" aria-label="{}">',
            helpers.ACTION_CHECKBOX_NAME,
            obj.pk,
            format_html(_("Select this object for an action - {}"), obj),
        )

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        """A foreign key to a scoped record (a player, a case...) offers, accepts and names
        only what the user may see: the related admin's queryset decides."""
        related_admin = self.admin_site._registry.get(db_field.related_model)
        if "queryset" not in kwargs and isinstance(related_admin, PlayerScopedAdminMixin):
            kwargs["queryset"] = related_admin.get_queryset(request)
            if db_field.name in self.raw_id_fields and "widget" not in kwargs:
                kwargs["widget"] = ScopedRawIdWidget(
                    db_field.remote_field, self.admin_site, kwargs["queryset"], using=kwargs.get("using")
                )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)
