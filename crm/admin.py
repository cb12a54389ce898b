from django import forms
from django.contrib import admin, messages
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .models import ApiClient, CompanyDayOff
from .services import api_client_create, api_client_disable, api_client_enable, api_client_rotate, api_client_update
from .workdays import company_day_off_delete, company_day_off_save, statutory_day_info


class ApiClientForm(forms.ModelForm):
    class Meta:
        model = ApiClient
        fields = ["name", "game", "server"]


@admin.register(ApiClient)
class ApiClientAdmin(admin.ModelAdmin):
    form = ApiClientForm
    list_display = ["name", "game", "server", "enabled", "key_prefix", "created_at", "rotated_at", "last_used_at"]
    list_filter = ["enabled", "game"]
    search_fields = ["name", "game", "key_prefix"]
    readonly_fields = ["enabled", "key_prefix", "created_at", "rotated_at", "last_used_at"]
    actions = ["rotate_credentials", "disable_clients", "enable_clients"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["name", "game", "server"]
        return ["name", "game", "server", *self.readonly_fields]

    def save_model(self, request, obj, form, change):
        if change:
            api_client_update(client=obj, name=obj.name, game=obj.game, server=obj.server)
            return
        credentials = api_client_create(name=obj.name, game=obj.game, server=obj.server)
        obj.pk = credentials.client.pk
        obj._state.adding = False
        request._api_credentials = [credentials]

    def response_add(self, request, obj, post_url_continue=None):
        return self._credentials_response(request, request._api_credentials)

    def _credentials_response(self, request, credentials):
        context = {
            **self.admin_site.each_context(request),
            "title": _("New API credentials"),
            "opts": self.model._meta,
            "credentials": credentials,
        }
        return TemplateResponse(request, "admin/crm/apiclient/credentials.html", context)

    @admin.action(description=_("Rotate key and signing secret (shown once)"), permissions=["change"])
    def rotate_credentials(self, request, queryset):
        credentials = [api_client_rotate(client=client) for client in queryset]
        return self._credentials_response(request, credentials)

    @admin.action(description=_("Disable: refuse their requests"), permissions=["change"])
    def disable_clients(self, request, queryset):
        count = 0
        for client in queryset.filter(enabled=True):
            api_client_disable(client=client)
            count += 1
        self.message_user(
            request,
            ngettext("%(count)d API client disabled.", "%(count)d API clients disabled.", count) % {"count": count},
            messages.SUCCESS,
        )

    @admin.action(description=_("Enable"), permissions=["change"])
    def enable_clients(self, request, queryset):
        count = 0
        for client in queryset.filter(enabled=False):
            api_client_enable(client=client)
            count += 1
        self.message_user(
            request,
            ngettext("%(count)d API client enabled.", "%(count)d API clients enabled.", count) % {"count": count},
            messages.SUCCESS,
        )


@admin.register(CompanyDayOff)
class CompanyDayOffAdmin(admin.ModelAdmin):
    """Supervisors add the company's own days off; statutory holidays and make-up working
    days come from the calendar (crm.workdays) and need no entry."""

    list_display = ["day", "weekday", "reason", "statutory", "created_by"]
    list_select_related = ["created_by"]
    date_hierarchy = "day"
    search_fields = ["reason"]
    fields = ["day", "reason"]

    @admin.display(description=_("weekday"))
    def weekday(self, obj):
        from django.utils.formats import date_format

        return date_format(obj.day, "l")

    @admin.display(description=_("otherwise"))
    def statutory(self, obj):
        info = statutory_day_info(obj.day)
        return f"{info.label} {info.name}".strip()

    def save_model(self, request, obj, form, change):
        company_day_off_save(day=obj.day, reason=obj.reason, actor=request.user, instance=obj)

    def delete_model(self, request, obj):
        company_day_off_delete(record=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for record in queryset:
            company_day_off_delete(record=record, actor=request.user)
