"""The consent ledger in the admin: the history of every grant, refusal and withdrawal
(read-only, scoped to the players the user may see), and the screen where staff record
what a player said in a contact (the add page, through `consent_record`)."""

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from crm.admin_columns import player_column, short_time
from crm.channels import consent_channel_choices
from crm.names import staff_name
from crm.privacy import free_text_for

from ..models import ConsentEvent, ConsentPurpose, ConsentSource, ConsentStatus, ContactLog, Player
from ..selectors import players_visible_to
from ..services.consents import MAX_EVIDENCE, consent_record
from .scoping import PlayerScopedAdminMixin

RECORD_PERMISSION = "players.record_consent"


class ConsentRecordForm(forms.Form):
    """What a player said about being reached, recorded by staff from a contact."""

    player = forms.ModelChoiceField(label=_("player"), queryset=Player.objects.none(), widget=forms.HiddenInput)
    channel = forms.ChoiceField(label=_("channel"), choices=consent_channel_choices)
    purpose = forms.ChoiceField(
        label=_("purpose"), choices=ConsentPurpose.choices, initial=ConsentPurpose.MARKETING, widget=forms.RadioSelect
    )
    status = forms.ChoiceField(label=_("consent"), choices=ConsentStatus.choices, widget=forms.RadioSelect)
    contact = forms.ModelChoiceField(
        label=_("in the contact"),
        queryset=ContactLog.objects.none(),
        required=False,
        help_text=_("The call or message in which the player said it."),
    )
    occurred_at = forms.SplitDateTimeField(
        label=_("given at"), required=False, help_text=_("Empty: now."), widget=admin.widgets.AdminSplitDateTime
    )
    evidence = forms.CharField(
        label=_("evidence"),
        max_length=MAX_EVIDENCE,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text=_("The player's words, as close as you can."),
    )

    def __init__(self, *args, user, player=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["player"].queryset = players_visible_to(user)
        contacts = ContactLog.objects.filter(player__in=players_visible_to(user))
        if player is not None:
            contacts = contacts.filter(player=player)
        self.fields["contact"].queryset = contacts.select_related("staff").order_by("-contacted_at")
        self.fields["contact"].label_from_instance = lambda c: (
            f"{timezone.localtime(c.contacted_at):%Y-%m-%d %H:%M} · {c.get_channel_display()} · {c.topic[:40]}"
        )

    def clean_contact(self):
        contact = self.cleaned_data.get("contact")
        player = self.cleaned_data.get("player")
        if contact is not None and player is not None and contact.player_id != player.pk:
            raise ValidationError(gettext("This contact is with another player."))
        return contact


VIA_KINDS = {
    "api": _("the game's API"),
    "import": _("an import"),
    "contact": _("a contact"),
    "data_request": _("an erasure on request"),
}


@admin.register(ConsentEvent)
class ConsentEventAdmin(PlayerScopedAdminMixin, admin.ModelAdmin):
    """Every consent recorded, newest first; recording one is the add page."""

    list_display = ["occurred", player_column(), "channel", "purpose", "status", "source", "recorder", "evidence_text"]
    list_filter = ["status", "channel", "purpose", "source"]
    list_select_related = ["player", "recorded_by"]
    search_fields = ["=player__account_id"]
    search_help_text = _("Account id.")
    list_per_page = 50
    date_hierarchy = None
    add_form_template = "admin/players/consentevent/record.html"

    def has_add_permission(self, request):
        return request.user.has_perm(RECORD_PERMISSION)

    def has_change_permission(self, request, obj=None):
        return False  # a record is evidence: never edited, only superseded

    def has_delete_permission(self, request, obj=None):
        return False  # only the retention purge deletes (players.services.consents)

    @admin.display(description=_("given at"), ordering="occurred_at")
    def occurred(self, obj):
        return short_time(obj.occurred_at)

    @admin.display(description=_("recorded by"))
    def recorder(self, obj):
        if obj.recorded_by_id:
            return staff_name(obj.recorded_by)
        return obj.get_source_display()

    @admin.display(description=_("recorded via"))
    def via_display(self, obj):
        """Where the record came from, in words (the stored value is "<kind>:<reference>")."""
        kind = obj.recorded_via.partition(":")[0]
        return VIA_KINDS.get(kind, "-")

    def get_fields(self, request, obj=None):
        return [f if f != "recorded_via" else "via_display" for f in super().get_fields(request, obj)]

    def get_readonly_fields(self, request, obj=None):
        return [*super().get_readonly_fields(request, obj), "via_display"]

    @admin.display(description=_("evidence"))
    def evidence_text(self, obj):
        return free_text_for(getattr(self, "_viewer", None), obj.evidence[:120])

    def changelist_view(self, request, extra_context=None):
        self._viewer = request.user
        return super().changelist_view(request, extra_context)

    def add_view(self, request, form_url="", extra_context=None):
        """The recording screen: a form through `consent_record`, not a model form."""
        from django.contrib import messages
        from django.http import HttpResponseRedirect
        from django.shortcuts import render
        from django.urls import reverse

        if not self.has_add_permission(request):
            raise PermissionDenied
        visible = players_visible_to(request.user)
        player = None
        contact_id = request.GET.get("contact", "")
        player_id = request.POST.get("player") or request.GET.get("player", "")
        initial = {}
        if contact_id.isdigit():
            contact = ContactLog.objects.filter(pk=contact_id, player__in=visible).first()
            if contact is not None:
                player_id = str(contact.player_id)
                initial.update(contact=contact.pk, channel=contact.channel if contact.channel else None)
        if str(player_id).isdigit():
            player = visible.filter(pk=player_id).first()
        if player is None:
            self.message_user(request, gettext("Open the player first, then record their consent."), messages.ERROR)
            return HttpResponseRedirect(reverse("admin:players_player_changelist"))
        initial["player"] = player.pk
        form = ConsentRecordForm(
            request.POST if request.method == "POST" else None, user=request.user, player=player, initial=initial
        )
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            evidence = data["evidence"].strip()
            contact = data.get("contact")
            via = f"contact:{contact.pk}" if contact is not None else ""
            try:
                consent_record(
                    player=data["player"],
                    channel=data["channel"],
                    purpose=data["purpose"],
                    status=data["status"],
                    source=ConsentSource.STAFF,
                    evidence=evidence,
                    occurred_at=data.get("occurred_at"),
                    actor=request.user,
                    via=via,
                )
            except ValidationError as exc:
                for name, errors in exc.message_dict.items():
                    form.add_error(name if name in form.fields else None, errors)
            else:
                self.message_user(request, gettext("Consent recorded."), messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:players_player_change", args=[data["player"].pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Record consent: %(player)s") % {"player": player},
            "opts": self.model._meta,
            "form": form,
            "player": player,
            "media": self.media + form.media,
        }
        return render(request, self.add_form_template, context)
