"""A player's rights over their data in the admin: the copy (Art. 45) and the erasure
(Art. 47) from the player (list action or page button), and the request log where a
supervisor confirms or rejects an erasure another person asked for. The rules are in
`players.services.privacy`; here are only forms and pages."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from crm.admin_columns import short_time
from crm.admin_readonly import ReadOnlyAdminMixin
from crm.formatting import when
from crm.names import staff_name

from ..models import DataRequest, DataRequestKind, DataRequestStatus, DeliveryMethod, Player
from ..services.privacy import (
    CONFIRM_ERASURE_PERMISSION,
    HAND_OVER_PERMISSION,
    REQUEST_ERASURE_PERMISSION,
    erasure_confirm,
    erasure_reject,
    erasure_request,
    player_data_file,
)
from .scoping import PlayerScopedAdminMixin


class DataCopyForm(forms.Form):
    reason = forms.CharField(
        label=_("reason"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("How and when the player asked, and how you checked it was them."),
    )
    delivered_via = forms.ChoiceField(label=_("delivered"), choices=DeliveryMethod.choices)


class ErasureRequestForm(forms.Form):
    reason = forms.CharField(
        label=_("reason"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("How and when the player asked, and how you checked it was them. Do not write their data here."),
    )


class ErasureDecisionForm(forms.Form):
    note = forms.CharField(
        label=_("supervisor's note"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Required to reject."),
    )


def _form_errors(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for name, errors in exc.message_dict.items():
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


class PlayerPrivacyAdminMixin:
    """The player list's actions and the player's two pages (added to PlayerAdmin)."""

    def get_urls(self):
        urls = [
            path(
                "<path:object_id>/data-copy/",
                self.admin_site.admin_view(self.data_copy_view),
                name="players_player_data_copy",
            ),
            path(
                "<path:object_id>/erasure/",
                self.admin_site.admin_view(self.erasure_request_view),
                name="players_player_erasure",
            ),
        ]
        return urls + super().get_urls()

    def has_hand_over_permission(self, request):
        return request.user.has_perm(HAND_OVER_PERMISSION)

    def has_request_erasure_permission(self, request):
        return request.user.has_perm(REQUEST_ERASURE_PERMISSION)

    def _one_player(self, request, queryset, url_name):
        players = list(queryset[:2])
        if len(players) != 1:
            self.message_user(request, _("Select exactly one player."), messages.WARNING)
            return None
        return HttpResponseRedirect(reverse(f"admin:{url_name}", args=[players[0].pk]))

    @admin.action(description=_("Hand over the player's data (PIPL Art. 45)"), permissions=["hand_over"])
    def hand_over_data(self, request, queryset):
        return self._one_player(request, queryset, "players_player_data_copy")

    @admin.action(
        description=_("Ask to erase the player's personal data (PIPL Art. 47)"), permissions=["request_erasure"]
    )
    def request_erasure(self, request, queryset):
        return self._one_player(request, queryset, "players_player_erasure")

    def _visible_player(self, request, object_id, permission) -> Player:
        if not request.user.has_perm(permission):
            raise PermissionDenied
        player = self.get_queryset(request).filter(pk=object_id).first() if str(object_id).isdigit() else None
        if player is None:
            raise Http404
        return player

    def _page(self, request, player, template, title, form, **extra):
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "form": form,
            "player": player,
            "opts": self.model._meta,
            "original": player,
            **extra,
        }
        return render(request, template, context)

    def data_copy_view(self, request, object_id):
        player = self._visible_player(request, object_id, HAND_OVER_PERMISSION)
        form = DataCopyForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                produced = player_data_file(player=player, actor=request.user, **form.cleaned_data)
            except ValidationError as exc:
                _form_errors(form, exc)
            else:
                response = HttpResponse(produced.content, content_type="application/zip")
                response["Content-Disposition"] = f'attachment; filename="{produced.name}"'
                response["Cache-Control"] = "no-store"
                return response
        return self._page(
            request, player, "admin/players/player/data_copy.html", _("Hand over the player's data"), form
        )

    def erasure_request_view(self, request, object_id):
        player = self._visible_player(request, object_id, REQUEST_ERASURE_PERMISSION)
        form = ErasureRequestForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                erasure_request(player=player, actor=request.user, reason=form.cleaned_data["reason"])
            except ValidationError as exc:
                _form_errors(form, exc)
            else:
                self.message_user(
                    request,
                    _("Erasure requested. A supervisor (another person) must confirm it in Data requests."),
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse("admin:players_player_change", args=[player.pk]))
        pending = player.data_requests.filter(kind=DataRequestKind.ERASURE, status=DataRequestStatus.PENDING).first()
        return self._page(
            request,
            player,
            "admin/players/player/erasure_request.html",
            _("Ask to erase the player's personal data"),
            form,
            pending=pending,
        )


@admin.register(DataRequest)
class DataRequestAdmin(ReadOnlyAdminMixin, PlayerScopedAdminMixin, admin.ModelAdmin):
    """The request log (supervisors): every copy handed over and every erasure asked,
    confirmed or rejected, with who, when, why and how it was delivered."""

    list_display = ["requested", "kind", "player_label", "status", "requester", "decider", "delivered_via"]
    list_filter = ["kind", "status", "delivered_via"]
    list_select_related = ["player", "requested_by", "decided_by"]
    fields = [
        "kind",
        "player_label",
        "status",
        "reason",
        "requester",
        "requested",
        "decider",
        "decided",
        "decision_note",
        "delivered_via",
        "delivered",
        "file_sha256",
        "file_bytes",
        "duration_ms",
    ]
    readonly_fields = fields
    change_form_template = "admin/players/datarequest/change_form.html"

    def get_urls(self):
        return [
            path(
                "<path:object_id>/decide/",
                self.admin_site.admin_view(self.decide_view),
                name="players_datarequest_decide",
            ),
            *super().get_urls(),
        ]

    @admin.display(description=_("requested at"), ordering="requested_at")
    def requested(self, obj):
        return short_time(obj.requested_at)

    @admin.display(description=_("confirmed or rejected at"), ordering="decided_at")
    def decided(self, obj):
        return when(obj.decided_at) if obj.decided_at else "-"

    @admin.display(description=_("delivered at"))
    def delivered(self, obj):
        return when(obj.delivered_at) if obj.delivered_at else "-"

    @admin.display(description=_("requested by"))
    def requester(self, obj):
        return staff_name(obj.requested_by) if obj.requested_by else "-"

    @admin.display(description=_("confirmed or rejected by"))
    def decider(self, obj):
        return staff_name(obj.decided_by) if obj.decided_by else "-"

    @admin.display(description=_("player"))
    def player_label(self, obj):
        if obj.player.erased_at:
            return _("(personal data erased)")
        url = reverse("admin:players_player_change", args=[obj.player_id])
        return format_html('<a href="{}">{}</a>', url, obj.player)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        decidable = (
            obj is not None
            and obj.kind == DataRequestKind.ERASURE
            and obj.status == DataRequestStatus.PENDING
            and request.user.has_perm(CONFIRM_ERASURE_PERMISSION)
        )
        extra_context = {
            **(extra_context or {}),
            "decidable": decidable,
            "own_request": obj is not None and obj.requested_by_id == request.user.pk,
            "decision_form": ErasureDecisionForm(),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def decide_view(self, request, object_id):
        if not request.user.has_perm(CONFIRM_ERASURE_PERMISSION):
            raise PermissionDenied
        obj = self.get_queryset(request).filter(pk=object_id).first() if str(object_id).isdigit() else None
        if obj is None:
            raise Http404
        change_url = reverse("admin:players_datarequest_change", args=[obj.pk])
        if request.method != "POST":
            return HttpResponseRedirect(change_url)
        form = ErasureDecisionForm(request.POST)
        form.is_valid()
        note = form.cleaned_data.get("note", "")
        try:
            if "confirm" in request.POST:
                erasure_confirm(request=obj, actor=request.user, note=note)
                self.message_user(request, _("The player's personal data was erased."), messages.SUCCESS)
            else:
                erasure_reject(request=obj, actor=request.user, note=note)
                self.message_user(request, _("The erasure was rejected."), messages.SUCCESS)
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
        return HttpResponseRedirect(change_url)
