from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import Http404
from django.shortcuts import render
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin
from simple_history.template_utils import HistoricalRecordContextHelper

from crm.admin_columns import short_time
from crm.admin_readonly import ReadOnlyAdminMixin
from crm.formatting import money, when
from crm.names import staff_name
from crm.privacy import can_view_personal_data, masked
from players.admin.scoping import PlayerScopedAdminMixin

from ..filters import LAST_LOGIN_CHOICES, NO_MANAGER, player_filter_apply, spend_band_choices
from ..models import MinorBand, Payment, Player, Tag, player_erased_text
from ..selectors import is_scoped, player_distinct_values, player_search_q
from ..selectors.consents import consent_overview
from ..selectors.minors import minor_q
from ..services import player_update
from . import payer_status  # payer churn: rules, at-risk worklist, status history, report
from .imports import PlayerExportMixin
from .privacy import PlayerPrivacyAdminMixin

MANAGER_GROUP = "VIP manager"


def manager_choices():
    User = get_user_model()
    return (
        User.objects.filter(Q(groups__name=MANAGER_GROUP) | Q(is_superuser=True), is_active=True)
        .distinct()
        .order_by("username")
    )


class PlayerFilterSetListFilter(admin.SimpleListFilter):
    """A sidebar filter whose rule is PlayerFilterSet's (players.filters, shared with the API):
    it turns its choice into the FilterSet's parameters and applies them. A value the
    FilterSet refuses (typed into the URL) is ignored with a message naming the filter."""

    def filterset_params(self, value) -> dict:
        return {self.parameter_name: value}

    def queryset(self, request, queryset):
        value = self.value()
        if value in (None, ""):
            return queryset
        filtered, errors = player_filter_apply(queryset, **self.filterset_params(value))
        if errors:
            messages.warning(
                request,
                _("The filter “%(filter)s” does not accept “%(value)s”; it was ignored.")
                % {"filter": self.title, "value": value[:100]},
            )
        return filtered


class SpendRangeFilter(PlayerFilterSetListFilter):
    title = _("total spend")
    parameter_name = "spend"

    def lookups(self, request, model_admin):
        return spend_band_choices()  # named in the configured base currency

    def filterset_params(self, value):
        return {"spend_band": value}


class LastLoginFilter(PlayerFilterSetListFilter):
    title = _("last login")
    parameter_name = "login"

    def lookups(self, request, model_admin):
        return LAST_LOGIN_CHOICES

    def filterset_params(self, value):
        return {"last_login": value}


class DistinctValuesFilter(PlayerFilterSetListFilter):
    """Filter by one of a column's values, listed without scanning the table
    (Django's AllValuesFieldListFilter runs SELECT DISTINCT over every row)."""

    field = ""

    def lookups(self, request, model_admin):
        values = player_distinct_values(self.field)
        if self.value() and self.value() not in values:  # newer than the cached list
            values = [*values, self.value()]
        return [(value, value) for value in values]


class ServerFilter(DistinctValuesFilter):
    title = _("server")
    parameter_name = "server"
    field = "server"


class ChannelFilter(DistinctValuesFilter):
    title = _("channel")
    parameter_name = "channel"
    field = "channel"


class MinorFilter(admin.SimpleListFilter):
    """Minors by the date of birth (players.selectors.minors), for everyone who may see the
    players: the band is what the team must know (no marketing, the spending caps), not the
    birthday, and the customer card, the player page and exports show it alike. Not in the
    game API's filters."""

    title = _("minor")
    parameter_name = "minor"

    def lookups(self, request, model_admin):
        return [(band.value, band.label) for band in (MinorBand.MINOR, MinorBand.CHILD, MinorBand.ADULT)]

    def queryset(self, request, queryset):
        if self.value() in MinorBand.values:
            return queryset.filter(minor_q(self.value()))
        return queryset


class ManagerFilter(PlayerFilterSetListFilter):
    title = _("VIP manager")
    parameter_name = "manager"

    def lookups(self, request, model_admin):
        return [(NO_MANAGER, _("no manager"))] + [(str(u.pk), staff_name(u)) for u in manager_choices()]

    def filterset_params(self, value):
        return {"without_manager": "true"} if value == NO_MANAGER else {"manager": value}


RECENT_ROWS = 20
# Written by the game's profile updates (API.md); read-only on an existing player's page.
GAME_OWNED_FIELDS = ["nickname", "server", "channel", "level", "registered_at", "last_login_at"]


def mini_table(headers, rows, numeric=()):
    """A small read-only table for the player page: rows are (cells, css class)."""
    rows = list(rows)
    if not rows:
        return format_html('<span class="crm-empty">{}</span>', _("None yet."))
    head = format_html_join("", "<th>{}</th>", ((h,) for h in headers))
    body = format_html_join(
        "",
        '<tr class="{}">{}</tr>',
        (
            (
                css,
                format_html_join(
                    "",
                    "<td{}>{}</td>",
                    ((mark_safe(' class="num"') if i in numeric else "", cell) for i, cell in enumerate(cells)),
                ),
            )
            for cells, css in rows
        ),
    )
    return format_html('<table class="crm-mini"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>', head, body)


def personal_display(field):
    """A read-only admin column showing a personal field masked."""

    def display(obj):
        value = masked(field, getattr(obj, field))
        return format_html('<span class="masked">{}</span>', value) if value else "-"

    display.short_description = Player._meta.get_field(field).verbose_name
    display.__name__ = f"masked_{field}"
    return display


class MaskedHistoryContextHelper(HistoricalRecordContextHelper):
    """Shows changes of personal fields masked (old and new) in the change history."""

    def prepare_delta_change_value(self, change, value):
        if change.field in Player.PERSONAL_FIELDS:
            return masked(change.field, value) if value else ""
        return super().prepare_delta_change_value(change, value)


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["name", "colour"]
    search_fields = ["name"]


@admin.register(Player)
class PlayerAdmin(PlayerPrivacyAdminMixin, PlayerExportMixin, PlayerScopedAdminMixin, SimpleHistoryAdmin):
    player_path = ""
    list_display = [
        "account_id",
        "nickname",
        "server",
        "tier_badge",
        "spend",
        "payer_status",
        "manager",
        "last_paid",
        "last_login",
    ]
    list_display_links = ["account_id", "nickname"]
    list_filter = [
        "payer_status",
        "tier",
        ManagerFilter,
        ServerFilter,
        ChannelFilter,
        SpendRangeFilter,
        LastLoginFilter,
        MinorFilter,
    ]
    list_filter += [payer_status.RiskBandFilter, payer_status.ChurnReasonFilter]
    list_select_related = ["tier", "manager"]
    search_fields = ["account_id"]  # replaced by get_search_results; keeps the box shown
    search_help_text = _(
        "Account id (with or without its prefix), phone number or its last 4 digits, or the start of a nickname."
    )
    show_full_result_count = False
    list_per_page = 50
    autocomplete_fields = ["tags"]
    actions = [
        "hand_over_data",
        "request_erasure",
    ]  # and vip's admin adds assigning a manager and pinning a tier (vip/admin/profile.py)
    readonly_fields = [
        "tier",
        "tier_since",
        "tier_pinned_until",
        "spend",
        "purchase_count",
        "first_paid_at",
        "last_paid_at",
        "payer_status",
        "created_at",
        "updated_at",
        "tier_history",
        "manager_history",
        "consents_display",
        "minor_display",
    ]
    fieldsets = [
        (None, {"fields": ["account_id", "server", "nickname", "channel", "level", "registered_at", "last_login_at"]}),
        (
            _("Personal data"),
            {"fields": ["real_name", "phone", "qq", "wechat", "email", "birthday", "birthday_is_lunar"]},
        ),
        (_("VIP"), {"fields": ["tier", "tier_since", "tier_pinned_until", "manager", "tags", "notes"]}),
        (_("Contact preferences"), {"fields": ["preferred_channel", "timezone", "consents_display", "minor_display"]}),
        (_("Spend"), {"fields": ["spend", "purchase_count", "first_paid_at", "last_paid_at", "payer_status"]}),
        # Payments are on the timeline and the customer card links to all of them.
        (_("History"), {"fields": ["tier_history", "manager_history", "created_at", "updated_at"]}),
    ]

    def get_list_filter(self, request):
        filters = list(super().get_list_filter(request))
        if not is_scoped(request.user):  # sees everyone: may filter by manager
            return filters
        return [f for f in filters if f is not ManagerFilter]

    # --- personal data ------------------------------------------------------
    def get_list_display(self, request):
        columns = list(super().get_list_display(request))
        phone = "phone" if can_view_personal_data(request.user) else personal_display("phone")
        columns.insert(2, phone)
        return columns

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is not None and obj.erased_at:  # its account id is a digest: no one reads it
            fieldsets = [
                (
                    title,
                    {**options, "fields": ["erased_account" if f == "account_id" else f for f in options["fields"]]},
                )
                for title, options in fieldsets
            ]
        if can_view_personal_data(request.user):
            return fieldsets
        swapped = []
        for title, options in fieldsets:
            fields = [f"masked_{f}" if f in Player.PERSONAL_FIELDS else f for f in options["fields"]]
            swapped.append((title, {**options, "fields": fields}))
        return swapped

    @admin.display(description=_("account id"))
    def erased_account(self, obj):
        return _("(personal data erased)")

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and obj.erased_at:
            fields.append("erased_account")
        if not can_view_personal_data(request.user):
            fields += [f"masked_{f}" for f in Player.PERSONAL_FIELDS]
        if obj is not None:  # the game owns these (API.md, PUT /players/): shown, never edited by staff
            fields += ["account_id", *GAME_OWNED_FIELDS]
        if not self.manager_assignable(request):
            fields.append("manager")
        if obj is not None and obj.erased_at:  # erased on request: nothing personal is written again
            fields += [
                f for f in (*Player.PERSONAL_FIELDS, "birthday_is_lunar", "nickname", "notes") if f not in fields
            ]
        return fields

    def save_model(self, request, obj, form, change):
        """The profile is written by player_update (validation, the birthday index, the change
        history with who did it); a new manager goes through `manager_move`, which records who
        moved the player to whom (the manager history on this page)."""
        moving = "manager" in form.changed_data
        moving_to = obj.manager
        if moving:  # written only by manager_move
            obj.manager_id = form.initial.get("manager") if change else None
        written = form.changed_data if change else list(form.cleaned_data)
        data = {
            name: form.cleaned_data[name]
            for name in written
            if name in form.cleaned_data and name != "manager" and not Player._meta.get_field(name).many_to_many
        }
        player_update(player=obj, data=data, actor=request.user)
        if moving:
            self.manager_move(request, obj, moving_to)
            obj.manager = moving_to

    # --- VIP managers: assigned by vip's service, which vip's admin brings ------
    def manager_assignable(self, request) -> bool:
        """Whether this user may change the manager field (vip's admin says who may)."""
        return False

    def manager_move(self, request, player, manager) -> None:
        """Move the player to `manager`: players has no writer of manager assignments."""
        raise PermissionDenied

    # --- change history (django-simple-history), scoped and masked ------------
    def _scoped_or_404(self, request, object_id):
        try:
            visible = self.get_queryset(request).filter(pk=unquote(object_id)).exists()
        except (ValueError, ValidationError):
            visible = False
        if not visible:
            # simple-history would fall back to the historical record: not for others' players.
            raise Http404

    def history_view(self, request, object_id, extra_context=None):
        self._scoped_or_404(request, object_id)
        return super().history_view(request, object_id, extra_context)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        self._scoped_or_404(request, object_id)
        return super().history_form_view(request, object_id, version_id, extra_context)

    def get_historical_record_context_helper(self, request, historical_record):
        if can_view_personal_data(request.user):
            return super().get_historical_record_context_helper(request, historical_record)
        return MaskedHistoryContextHelper(self.model, historical_record)

    def get_exclude(self, request, obj=None):
        exclude = list(super().get_exclude(request, obj) or [])
        if not can_view_personal_data(request.user):
            exclude += Player.PERSONAL_FIELDS
        return exclude

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "manager":
            kwargs["queryset"] = manager_choices()
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def __getattr__(self, name):
        if name.startswith("masked_") and name[7:] in Player.PERSONAL_FIELDS:
            return personal_display(name[7:])
        raise AttributeError(name)

    # --- search ---------------------------------------------------------------
    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        if can_view_personal_data(request.user):  # real names are searched for them only
            changelist.search_help_text = _(
                "Account id (with or without its prefix), phone number or its last 4 digits, real name, "
                "or the start of a nickname."
            )
        return changelist

    def get_search_results(self, request, queryset, search_term):
        if not search_term.strip():
            return queryset, False
        return queryset.filter(player_search_q(search_term, user=request.user)), False

    # --- columns --------------------------------------------------------------
    @admin.display(description=_("VIP"), ordering="tier__level")
    def tier_badge(self, obj):
        if not obj.tier:
            return "-"
        return format_html('<span class="vip-badge" style="background:{}">{}</span>', obj.tier.colour, obj.tier.name)

    @admin.display(description=_("total spend"), ordering="total_spend")
    def spend(self, obj):
        return money(obj.total_spend)

    @admin.display(description=_("last paid"), ordering="last_paid_at")
    def last_paid(self, obj):
        return short_time(obj.last_paid_at)

    @admin.display(description=_("last login"), ordering="last_login_at")
    def last_login(self, obj):
        return short_time(obj.last_login_at)

    @admin.display(description=_("consent"))
    def consents_display(self, obj):
        """The consent in force per channel and purpose, and where to record a new one."""
        from django.urls import reverse

        user = getattr(obj, "_viewer", None)
        rows = []
        for row in consent_overview(obj):
            consent = row["consent"]
            if consent is not None:
                state = consent.get_status_display()
                detail = f"{when(consent.occurred_at)} · {consent.get_source_display()}"
                if consent.recorded_by_id:
                    detail += f" · {staff_name(consent.recorded_by)}"
            else:
                state = _("no record: needs the player's consent") if row["opt_in"] else _("no record: allowed")
                detail = ""
            rows.append(
                (
                    (row["channel_label"], row["purpose_label"], state, detail),
                    "consent-live" if row["live"] else "consent-blocked",
                )
            )
        table = mini_table([_("channel"), _("purpose"), _("consent"), _("recorded")], rows)
        links = [
            (
                reverse("admin:players_consentevent_changelist") + f"?player__id__exact={obj.pk}",
                _("History"),
            )
        ]
        if obj.erased_at:  # erased on request: no consent is recorded any more (the refusal says why)
            notice = format_html('<p class="crm-erased-notice" id="consent-erased">{}</p>', player_erased_text())
        else:
            notice = ""
            if user is not None and user.has_perm("players.record_consent"):
                links.insert(0, (reverse("admin:players_consentevent_add") + f"?player={obj.pk}", _("Record consent")))
        return format_html(
            "{}{}<p>{}</p>",
            table,
            notice,
            format_html_join(" ", '<a class="button" href="{}">{}</a>', links),
        )

    @admin.display(description=_("minor"))
    def minor_display(self, obj):
        """Derived from the date of birth (lifted at 18): what it means for outreach and spend."""
        if not obj.is_minor:
            return _("No (by the date of birth)") if obj.birthday else _("Unknown: no date of birth")
        lines = [_("Minor: no marketing by any channel; payments over the NPPA caps are flagged.")]
        if obj.is_child:
            lines.append(
                _("Under 14: their personal information is sensitive (PIPL Art. 28); only with a guardian's consent.")
            )
        return format_html_join("", '<strong class="minor-flag">{}</strong><br>', ((line,) for line in lines))

    @admin.display(description=_("tier history"))
    def tier_history(self, obj):
        rows = obj.tier_changes.select_related("from_tier", "to_tier", "actor")[:RECENT_ROWS]
        return mini_table(
            [_("when"), _("change"), _("reason"), _("by"), _("note")],
            [
                (
                    (
                        when(c.changed_at),
                        format_html("{} → {}", c.from_tier or "-", c.to_tier or "-"),
                        c.get_reason_display(),
                        c.actor or "",
                        c.note,
                    ),
                    "",
                )
                for c in rows
            ],
        )

    @admin.display(description=_("manager history"))
    def manager_history(self, obj):
        rows = obj.manager_assignments.select_related("from_manager", "to_manager", "actor")[:RECENT_ROWS]
        return mini_table(
            [_("when"), _("change"), _("by"), _("note")],
            [
                (
                    (
                        when(a.assigned_at),
                        format_html("{} → {}", a.from_manager or "-", a.to_manager or "-"),
                        a.actor or "",
                        a.note,
                    ),
                    "",
                )
                for a in rows
            ],
        )

    # --- action forms (the actions are vip's) --------------------------------
    def _action_form(self, request, queryset, form, action, title):
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "form": form,
            "players": queryset[:50],
            "count": queryset.count(),
            "action": action,
            "opts": self.model._meta,
            "selected": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
            "select_across": request.POST.get("select_across", "0"),
        }
        return render(request, "admin/players/player/action_form.html", context)


class CurrencyFilter(admin.SimpleListFilter):
    """The accepted currencies come from settings, not from SELECT DISTINCT over the ledger."""

    title = _("currency")
    parameter_name = "currency"

    def lookups(self, request, model_admin):
        codes = [settings.CRM_BASE_CURRENCY, *sorted(settings.CRM_CURRENCY_RATES)]
        return [(code, code) for code in dict.fromkeys(codes)]

    def queryset(self, request, queryset):
        return queryset.filter(currency=self.value()) if self.value() else queryset


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdminMixin, PlayerScopedAdminMixin, admin.ModelAdmin):
    """The ledger is append-only: readable here, written only by services."""

    list_display = ["event_id", "player", "kind", "amount_display", "occurred", "source", "product"]
    list_filter = ["kind", "source", CurrencyFilter]
    list_select_related = ["player"]
    search_fields = ["=event_id", "=order_id", "=player__account_id"]
    show_full_result_count = False
    raw_id_fields = ["player"]

    @admin.display(description=_("amount"), ordering="amount")
    def amount_display(self, obj):
        return money(obj.amount, obj.currency)

    @admin.display(description=_("occurred at"), ordering="occurred_at")
    def occurred(self, obj):
        return when(obj.occurred_at)
