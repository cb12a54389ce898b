"""Server merges (合服) in the admin: the record of every merge, and "Merge servers" (the
add page): a form, a confirmation with what moves, then `players.services.servers.server_merge`."""

import re

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from crm.admin_columns import short_time
from crm.formatting import when
from crm.names import staff_name

from ..models import ServerMerge
from ..services.servers import server_merge, server_merge_plan

MERGE_PERMISSION = "players.merge_servers"


class ServerMergeForm(forms.Form):
    game = forms.CharField(
        label=_("game"),
        max_length=64,
        required=False,
        help_text=_("Only this game's API clients follow the merge; empty: every client bound to an old server."),
    )
    old_servers = forms.CharField(
        label=_("old servers"),
        max_length=4000,
        help_text=_("The server ids merged away, separated by spaces or commas, e.g. s1, s2, s3."),
    )
    new_server = forms.CharField(label=_("new server"), max_length=32, help_text=_("The merged server's id."))
    note = forms.CharField(label=_("note"), max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def clean_old_servers(self):
        return [s for s in re.split(r"[\s,，、;；]+", self.cleaned_data["old_servers"]) if s]


def _form_errors(form, exc: ValidationError) -> None:
    for name, errors in exc.message_dict.items():
        form.add_error(name if name in form.fields else None, errors)


@admin.register(ServerMerge)
class ServerMergeAdmin(admin.ModelAdmin):
    list_display = [
        "merged",
        "game",
        "old_server_ids",
        "new_server",
        "accounts",
        "api_clients",
        "rules",
        "merged_by_name",
    ]
    list_filter = ["game"]
    search_fields = ["=new_server", "=sources__server"]
    fields = [
        "game",
        "old_server_ids",
        "new_server",
        "accounts",
        "api_clients",
        "rules",
        "merged_by_name",
        "merged_at_local",
        "duration_ms",
        "note",
    ]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("merged_by").prefetch_related("sources")

    def has_add_permission(self, request, obj=None):
        return request.user.has_perm(MERGE_PERMISSION)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("merged at"), ordering="merged_at")
    def merged(self, obj):
        return short_time(obj.merged_at)

    @admin.display(description=_("merged at"))
    def merged_at_local(self, obj):
        return when(obj.merged_at)

    @admin.display(description=_("old servers"))
    def old_server_ids(self, obj):
        return ", ".join(f"{s.server} ({s.accounts})" for s in obj.sources.all())

    @admin.display(description=_("merged by"))
    def merged_by_name(self, obj):
        return staff_name(obj.merged_by) if obj.merged_by else "-"

    def add_view(self, request, form_url="", extra_context=None):
        """The form; then a confirmation listing what moves; then the merge."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = ServerMergeForm(request.POST or None)
        plan = None
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                if request.POST.get("confirmed") == "yes":
                    merge = server_merge(
                        game=data["game"],
                        old_servers=data["old_servers"],
                        new_server=data["new_server"],
                        note=data["note"],
                        actor=request.user,
                    )
                    self.message_user(
                        request,
                        ngettext(
                            "%(count)d account moved to server %(server)s.",
                            "%(count)d accounts moved to server %(server)s.",
                            merge.accounts,
                        )
                        % {"count": merge.accounts, "server": merge.new_server},
                        messages.SUCCESS,
                    )
                    return HttpResponseRedirect(reverse("admin:players_servermerge_change", args=[merge.pk]))
                plan = server_merge_plan(
                    game=data["game"], old_servers=data["old_servers"], new_server=data["new_server"]
                )
            except ValidationError as exc:
                _form_errors(form, exc)
                plan = None
        context = {
            **self.admin_site.each_context(request),
            "title": _("Merge servers"),
            "form": form,
            "plan": plan,
            "opts": self.model._meta,
        }
        return render(request, "admin/players/servermerge/merge.html", context)
