"""Admin for greetings: rules, custom dates, the greeting log with the upcoming
view (and skipping), gift budgets and the gift ledger."""

from datetime import date

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.admin_columns import date_column, player_column, text_column
from crm.admin_readonly import ReadOnlyAdminMixin
from crm.calendar import yearly_dates
from crm.formatting import money
from crm.sources import source_text
from players.admin.scoping import PlayerScopedAdminMixin
from players.models import Player
from players.selectors import player_scope_q

from ..greeting_selectors import UPCOMING_DAYS, greetings_upcoming
from ..models import CustomOccasion, GiftBudget, GiftEntry, Greeting, GreetingRule
from ..services.gifts import gift_budget_check, gift_budgets_with_spent, gift_record, month_of
from ..services.greetings import greeting_skip

SKIP_PERMISSION = "campaigns.skip_greeting"
UPCOMING_PAGE_SIZE = 50


@admin.register(CustomOccasion)
class CustomOccasionAdmin(admin.ModelAdmin):
    list_display = ["name", "is_lunar", "month", "day", "year", "next_date"]
    search_fields = ["name"]

    @admin.display(description=_("next date"))
    def next_date(self, obj):
        today = timezone.localdate()
        found = yearly_dates(
            is_lunar=obj.is_lunar, month=obj.month, day=obj.day, start=today, end=today.replace(year=today.year + 1)
        )
        found = [d for d in found if obj.year is None or d.year == obj.year]
        return found[0].isoformat() if found else "-"


class GreetingRuleForm(forms.ModelForm):
    class Meta:
        model = GreetingRule
        fields = [
            "name",
            "is_active",
            "occasion",
            "festival",
            "custom_occasion",
            "starts_on",
            "tier_min",
            "tier_max",
            "payer_status",
            "server",
            "player_channel",
            "tags",
            "task_lead_days",
            "task_title",
            "call_script",
            "message_channel",
            "send_time",
            "subject",
            "template",
            "minor_template",
            "gift_kind",
            "gift_item",
            "gift_value",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.instance.pk:
            self.fields["starts_on"].initial = timezone.localdate()


@admin.register(GreetingRule)
class GreetingRuleAdmin(admin.ModelAdmin):
    form = GreetingRuleForm
    list_display = ["name", "occasion", "festival", "custom_occasion", "is_active", "task_lead_days", "message_channel"]
    list_filter = ["is_active", "occasion", "message_channel"]
    list_select_related = ["custom_occasion"]
    search_fields = ["name"]
    filter_horizontal = ["tags"]
    readonly_fields = ["created_by", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["name", "is_active", "occasion", "festival", "custom_occasion", "starts_on"]}),
        (_("Which players"), {"fields": ["tier_min", "tier_max", "payer_status", "server", "player_channel", "tags"]}),
        (
            _("What the CRM does"),
            {
                "fields": [
                    "task_lead_days",
                    "task_title",
                    "call_script",
                    "message_channel",
                    "send_time",
                    "subject",
                    "template",
                    "minor_template",
                ]
            },
        ),
        (_("Gift"), {"fields": ["gift_kind", "gift_item", "gift_value"]}),
        (_("History"), {"fields": ["created_by", "created_at", "updated_at"]}),
    ]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(Greeting)
class GreetingAdmin(ReadOnlyAdminMixin, PlayerScopedAdminMixin, admin.ModelAdmin):
    """The log of every greeting (one per rule, player and occasion date), and the
    upcoming view: the next 30 days for my players, with a skip button."""

    change_list_template = "admin/campaigns/greeting/change_list.html"
    list_display = ["occasion_date", "rule", "player", "status", "task", "message", "gift", "note"]
    list_filter = ["status", "rule", "occasion_date"]
    list_select_related = ["rule", "player", "task__player", "message__player", "gift"]
    search_fields = ["=player__account_id"]
    show_full_result_count = False
    date_hierarchy = "occasion_date"

    def get_urls(self):
        urls = [
            path("upcoming/", self.admin_site.admin_view(self.upcoming_view), name="campaigns_greeting_upcoming"),
            path("upcoming/skip/", self.admin_site.admin_view(self.skip_view), name="campaigns_greeting_skip"),
        ]
        return urls + super().get_urls()

    def upcoming_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        start = timezone.localdate()
        upcoming = greetings_upcoming(user=request.user, start=start, span_days=UPCOMING_DAYS)
        page = Paginator(upcoming.rows, UPCOMING_PAGE_SIZE).get_page(request.GET.get("p"))
        context = {
            "page": page,
            **self.admin_site.each_context(request),
            "title": _("Greetings in the next %(days)d days") % {"days": UPCOMING_DAYS},
            "opts": self.model._meta,
            "upcoming": upcoming,
            "can_skip": request.user.has_perm(SKIP_PERMISSION),
        }
        return TemplateResponse(request, "admin/campaigns/greeting/upcoming.html", context)

    def skip_view(self, request):
        if request.method != "POST" or not request.user.has_perm(SKIP_PERMISSION):
            raise PermissionDenied
        rule = get_object_or_404(GreetingRule, pk=request.POST.get("rule"))
        player = get_object_or_404(Player.objects.filter(player_scope_q(request.user)), pk=request.POST.get("player"))
        try:
            occasion_date = date.fromisoformat(request.POST.get("date", ""))
            greeting_skip(
                rule=rule,
                player=player,
                occasion_date=occasion_date,
                actor=request.user,
                reason=request.POST.get("reason", "")[:300],
            )
        except ValueError:
            self.message_user(request, _("The date is not valid."), messages.ERROR)
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
        else:
            self.message_user(
                request,
                _("%(player)s will not be greeted by “%(rule)s” on %(date)s.")
                % {"player": player, "rule": rule, "date": occasion_date.isoformat()},
                messages.SUCCESS,
            )
        return redirect(reverse("admin:campaigns_greeting_upcoming"))


@admin.register(GiftBudget)
class GiftBudgetAdmin(admin.ModelAdmin):
    list_display = ["tier", "budget", "remaining"]
    list_select_related = ["tier"]

    @admin.display(description=_("monthly budget"), ordering="monthly_amount")
    def budget(self, obj):
        return money(obj.monthly_amount)

    def get_queryset(self, request):
        # What each tier spent this month, in the list's one query (no query per row).
        return gift_budgets_with_spent(super().get_queryset(request), month=month_of(timezone.localdate()))

    @admin.display(description=_("left this month"))
    def remaining(self, obj):
        return money(obj.monthly_amount - obj.spent_this_month)


class GiftEntryForm(forms.ModelForm):
    class Meta:
        model = GiftEntry
        fields = ["player", "kind", "item", "code", "value", "given_on", "reason"]

    def clean(self):
        cleaned = super().clean()
        player, value, on = cleaned.get("player"), cleaned.get("value"), cleaned.get("given_on")
        if player is not None and value is not None and on is not None:
            try:
                gift_budget_check(tier=player.tier, value=value, on=on)
            except ValidationError as exc:
                self.add_error("value", exc.message_dict["value"])
        return cleaned


@admin.register(GiftEntry)
class GiftEntryAdmin(PlayerScopedAdminMixin, admin.ModelAdmin):
    """The gift ledger: append-only; new gifts go through gift_record (budget checked)."""

    form = GiftEntryForm
    list_display = [  # fits 1366 px (crm.admin_columns)
        date_column("given_on", _("given on")),
        player_column(),
        "tier",
        "kind",
        text_column("item", _("item"), width="8em"),
        "code",
        "value_display",
        "source_display",
        "actor",
    ]
    list_filter = ["kind", "tier", "month"]
    list_select_related = ["player", "tier", "actor"]
    search_fields = ["=player__account_id", "=code", "source"]
    raw_id_fields = ["player"]
    show_full_result_count = False

    @admin.display(description=_("value"), ordering="value")
    def value_display(self, obj):
        return money(obj.value)

    @admin.display(description=_("source"))
    def source_display(self, obj):
        return source_text(obj.source)

    def get_changeform_initial_data(self, request):
        return {"given_on": timezone.localdate(), **super().get_changeform_initial_data(request)}

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        saved = gift_record(
            player=data["player"],
            kind=data["kind"],
            value=data["value"],
            item=data["item"],
            code=data["code"],
            reason=data["reason"],
            actor=request.user,
            on=data["given_on"],
        )
        obj.pk = saved.pk
        obj.code = saved.code
