from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from crm.admin_columns import date_column, player_column, short_date, text_column, time_column
from crm.names import staff_name
from crm.sources import source_text
from crm.workdays import statutory_break_days
from players.admin.scoping import PlayerScopedAdminMixin
from players.admin.scripts import ScriptInsertTextarea

from ..models import (
    NO_SEND_ALL_HOLIDAYS,
    Campaign,
    Message,
    MessageReason,
    NoSendDay,
    OutreachTask,
    message_reason_text,
)
from ..services.campaigns import TASK_TEXT_FIELDS, task_save, task_texts_check
from ..services.messaging import message_cancel, message_retry


class AssigneeFilter(admin.SimpleListFilter):
    """Whose tasks: the active staff by display name (a list of users, never a scan of tasks)."""

    title = _("assignee")
    parameter_name = "assignee__id__exact"

    def lookups(self, request, model_admin):
        users = get_user_model().objects.filter(is_active=True, is_staff=True).order_by("last_name", "first_name", "id")
        return [(str(user.pk), staff_name(user)) for user in users]

    def queryset(self, request, queryset):
        return queryset.filter(assignee_id=self.value()) if self.value() else queryset


class CampaignFilter(admin.SimpleListFilter):
    """Which campaign the tasks came from, newest campaigns first."""

    title = _("campaign")
    parameter_name = "campaign__id__exact"

    def lookups(self, request, model_admin):
        return [
            (str(pk), name) for pk, name in Campaign.objects.order_by("-created_at", "-id").values_list("pk", "name")
        ]

    def queryset(self, request, queryset):
        return queryset.filter(campaign_id=self.value()) if self.value() else queryset


class OutreachTaskForm(forms.ModelForm):
    """A task by hand: a script from the library can be inserted into its call script,
    filled in for the task's player (`ScriptInsertTextarea`); a {variable} left unfilled
    is refused (`task_texts_check`, the service's rule, shown on the form)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "script" in self.fields:
            self.fields["script"].widget = ScriptInsertTextarea(
                attrs={"rows": 8, "cols": 80}, player_id=self.instance.player_id if self.instance.pk else None
            )

    def clean(self):
        data = super().clean()
        values = {name: data.get(name, getattr(self.instance, name)) for name in TASK_TEXT_FIELDS}
        try:
            task_texts_check(values=values)
        except ValidationError as exc:
            for name, errors in exc.message_dict.items():
                self.add_error(name if name in self.fields else None, errors)
        return data


@admin.register(OutreachTask)
class OutreachTaskAdmin(PlayerScopedAdminMixin, admin.ModelAdmin):
    form = OutreachTaskForm
    list_display = [  # fits 1366 px (crm.admin_columns)
        text_column("title_text", _("title"), width="16em", ordering="title"),
        player_column(),
        "assignee",
        text_column(
            "campaign", OutreachTask._meta.get_field("campaign").verbose_name, width="8em", ordering="campaign__name"
        ),
        "kind",
        date_column("due_date", OutreachTask._meta.get_field("due_date").verbose_name),
        "status",
        "outcome",
    ]
    list_filter = ["status", CampaignFilter, AssigneeFilter, "kind", "due_date"]
    list_select_related = ["player", "assignee", "campaign"]
    search_fields = ["=player__account_id", "title"]
    autocomplete_fields = ["player"]
    show_full_result_count = False
    exclude = ["title_code", "title_params", "status_reason"]

    @admin.display(description=_("title"), ordering="title")
    def title_display(self, obj):
        # A title the CRM wrote (a greeting call) reads in the reader's language.
        return obj.title_text

    @admin.display(description=_("reason"))
    def status_reason_display(self, obj):
        return message_reason_text(obj.status_reason)

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None and obj.title_code:
            readonly.append("title_display")
        if obj is not None and obj.status_reason:
            readonly.append("status_reason_display")
        return readonly

    def get_fields(self, request, obj=None):
        fields = [f for f in super().get_fields(request, obj) if f != "title_display"]
        if obj is not None and obj.title_code:
            # The CRM's title is shown, not edited, where the title field would be.
            fields = ["title_display" if f == "title" else f for f in fields]
        return fields

    def save_model(self, request, obj, form, change):
        task_save(task=obj, actor=request.user)


@admin.register(Message)
class MessageAdmin(PlayerScopedAdminMixin, admin.ModelAdmin):
    list_display = [  # fits 1366 px (crm.admin_columns)
        player_column(),
        "channel",
        "status",
        time_column("scheduled_for", _("send at")),
        time_column("sent_at", _("sent at")),
        time_column("delivered_at", _("delivered to phone")),
        "attempts",
        text_column("status_reason_text", _("reason"), width="8em", ordering="status_reason"),
        "source_display",
    ]
    list_filter = ["status", "channel", "is_marketing"]
    list_select_related = ["player"]
    search_fields = ["=player__account_id", "=source"]
    show_full_result_count = False
    raw_id_fields = ["player"]
    readonly_fields = [
        "status",
        "sent_at",
        "delivered_at",
        "provider_ref",
        "attempts",
        "status_reason_display",
        "last_error",
        "source_display",
        "created_at",
    ]
    exclude = ["source", "status_reason", "status_params", "provider_batch", "last_error"]
    actions = ["retry_now", "cancel"]

    def get_readonly_fields(self, request, obj=None):
        # The provider's own words (its code and text, in its language) are for whoever acts
        # on failures (a supervisor); everyone reads the reason in their language.
        fields = list(super().get_readonly_fields(request, obj))
        if not self.has_retry_permission(request):
            fields.remove("last_error")
        return fields

    @admin.display(description=_("source"))
    def source_display(self, obj):
        return source_text(obj.source)

    @admin.display(description=_("reason"))
    def status_reason_display(self, obj):
        # Stored as codes: read in the reader's language.
        return obj.status_reason_text

    def has_change_permission(self, request, obj=None):
        # Messages change only through the delivery service and the actions below.
        return False

    @admin.action(description=_("Retry now"), permissions=["retry"])
    def retry_now(self, request, queryset):
        done = 0
        for message in queryset:
            try:
                message_retry(message=message)
                done += 1
            except ValidationError as exc:
                self.message_user(request, f"{message}: {' '.join(exc.messages)}", messages.WARNING)
        self.message_user(
            request,
            ngettext("%(count)d message queued again.", "%(count)d messages queued again.", done) % {"count": done},
        )

    @admin.action(description=_("Cancel (not yet sent)"), permissions=["retry"])
    def cancel(self, request, queryset):
        done = 0
        for message in queryset:
            try:
                message_cancel(
                    message=message, reason=MessageReason.CANCELLED_BY, params={"user": staff_name(request.user)}
                )
                done += 1
            except ValidationError as exc:
                self.message_user(request, f"{message}: {' '.join(exc.messages)}", messages.WARNING)
        self.message_user(
            request, ngettext("%(count)d message cancelled.", "%(count)d messages cancelled.", done) % {"count": done}
        )

    def has_retry_permission(self, request):
        return request.user.has_perm("campaigns.retry_message")


@admin.register(NoSendDay)
class NoSendDayAdmin(admin.ModelAdmin):
    """Dates, and statutory holidays every year: the holidays' dates come from the one
    calendar service (crm.workdays), never typed in again."""

    list_display = ["when", "note", "greetings", "this_year"]
    list_filter = ["greetings_too"]
    date_hierarchy = "date"
    search_fields = ["note"]
    fields = ["date", "holiday", "greetings_too", "note"]

    @admin.display(description=_("date"), ordering="date")
    def when(self, obj):
        return str(obj) if obj.date is None else short_date(obj.date)

    @admin.display(description=_("greetings"), ordering="greetings_too")
    def greetings(self, obj):
        return _("Held too") if obj.greetings_too else _("Still go out")

    @admin.display(description=_("this year"))
    def this_year(self, obj):
        """For a holiday: the days of its break this year (and next, once this one is past)."""
        if obj.date is not None:
            return ""
        today = timezone.localdate()
        holiday = None if obj.holiday == NO_SEND_ALL_HOLIDAYS else obj.holiday
        days = statutory_break_days(today, today + timedelta(days=365), holiday=holiday)
        runs = []
        for day in days:
            if runs and (day - runs[-1][-1]).days == 1:
                runs[-1].append(day)
            else:
                runs.append([day])
        return format_html_join(
            ", ",
            "{}",
            (
                (
                    short_date(run[0])
                    if len(run) == 1
                    else format_html("{} – {}", short_date(run[0]), short_date(run[-1])),
                )
                for run in runs[:3]
            ),
        )


from . import greetings, wecom, winback  # noqa: E402, F401
from .campaigns import CampaignAdmin, WorklistAdmin  # noqa: E402,F401
