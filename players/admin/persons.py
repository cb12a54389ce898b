"""Merges of people in the admin: the record of every merge (scoped), "Merge two people"
(the add page: the two side by side, which one is kept and which values to take from the
other; a possible duplicate's pair opens it), and the action "Undo the merge". Every door
calls `players.services.persons`."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from crm.admin_columns import player_column, short_time
from crm.names import staff_name
from crm.privacy import can_view_personal_data, mask_date, masked

from ..models import PersonMerge, Player
from ..selectors import player_scope_q, players_visible_to
from ..services.persons import MERGE_PERMISSION, PERSON_FIELDS, person_merge_undo, persons_merge

FIELDS = (*PERSON_FIELDS, "manager")


def _shown(player: Player, name: str, user) -> str:
    """A value as the user may see it: personal data masked without the permission."""
    if name == "manager":
        return staff_name(player.manager) if player.manager_id else ""
    value = getattr(player, name)
    if value in (None, ""):
        return ""
    if name in Player.PERSONAL_FIELDS and not can_view_personal_data(user):
        return mask_date(value) if name == "birthday" else masked(name, value)
    if name == "preferred_channel":
        return str(player.get_preferred_channel_display())
    if name == "birthday":
        return value.isoformat() + (" " + str(_("lunar birthday")) if player.birthday_is_lunar else "")
    if name == "phone":
        return value.as_national
    return str(value)


class PersonMergeForm(forms.Form):
    a = forms.IntegerField(widget=forms.HiddenInput)
    b = forms.IntegerField(widget=forms.HiddenInput)
    keep = forms.ChoiceField(
        label=_("person kept"), choices=[("a", "a"), ("b", "b")], initial="a", widget=forms.RadioSelect
    )
    note = forms.CharField(label=_("note"), max_length=500, required=False)


@admin.register(PersonMerge)
class PersonMergeAdmin(admin.ModelAdmin):
    list_display = ["merged", "kind", "kept", "merged_in", "values_taken", "rows_moved", "merged_by_name", "undone"]
    list_display_links = ["merged"]
    list_filter = ["kind"]
    list_select_related = ["winner", "loser", "merged_by", "undone_by"]
    search_fields = ["=winner__account_id", "=loser__account_id"]
    actions = ["undo"]
    fields = ["kind", "kept", "merged_in", "values_taken", "rows_moved", "merged_by_name", "merged", "note", "undone"]
    readonly_fields = fields

    def get_queryset(self, request):
        # Both people must be visible: a merge names two.
        user = request.user
        return super().get_queryset(request).filter(player_scope_q(user, "winner") & player_scope_q(user, "loser"))

    def has_add_permission(self, request, obj=None):
        return request.user.has_perm(MERGE_PERMISSION)

    def has_merge_permission(self, request):
        return request.user.has_perm(MERGE_PERMISSION)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    # --- columns ------------------------------------------------------------------
    kept = staticmethod(player_column("winner", _("person kept"), link=True))
    merged_in = staticmethod(player_column("loser", _("person merged in"), link=True))

    @admin.display(description=_("merged at"), ordering="merged_at")
    def merged(self, obj):
        return short_time(obj.merged_at)

    @admin.display(description=_("values taken from the person merged in"))
    def values_taken(self, obj):
        return ", ".join(str(Player._meta.get_field(name).verbose_name) for name in obj.kept_from_loser) or "-"

    @admin.display(description=_("merged by"))
    def merged_by_name(self, obj):
        return staff_name(obj.merged_by) if obj.merged_by else "-"

    @admin.display(description=_("undone"))
    def undone(self, obj):
        if not obj.undone_at:
            return "-"
        return f"{short_time(obj.undone_at)} · {staff_name(obj.undone_by) if obj.undone_by else '-'}"

    # --- undo ---------------------------------------------------------------------
    @admin.action(description=_("Undo the merge"), permissions=["merge"])
    def undo(self, request, queryset):
        done = 0
        for merge in queryset.order_by("-pk"):  # the latest first: an earlier one may wait for it
            try:
                person_merge_undo(merge=merge, actor=request.user)
                done += 1
            except (ValidationError, PermissionDenied) as exc:
                reason = " ".join(exc.messages) if isinstance(exc, ValidationError) else _("You may not merge people.")
                self.message_user(request, f"{merge}: {reason}", messages.ERROR)
        if done:
            self.message_user(
                request,
                ngettext("%(count)d merge undone.", "%(count)d merges undone.", done) % {"count": done},
                messages.SUCCESS,
            )

    # --- the merge screen ---------------------------------------------------------
    def add_view(self, request, form_url="", extra_context=None):
        """Two people side by side (?a=<id>&b=<id>, both visible to the user): which person
        is kept, which values come from the other; then the merge."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        source = request.POST if request.method == "POST" else request.GET
        if "a" not in source and "b" not in source:
            # the list's "Add" button: a merge starts from a pair of possible duplicates
            self.message_user(request, _("Choose two people: open the merge from a possible duplicate."))
            return redirect("admin:players_duplicatecandidate_changelist")
        try:
            ids = [int(source.get("a", "")), int(source.get("b", ""))]
        except ValueError:
            ids = []
        visible = {p.pk: p for p in players_visible_to(request.user).filter(pk__in=ids).select_related("manager")}
        if len(ids) != 2 or ids[0] == ids[1] or len(visible) != 2:
            raise Http404(_("Choose two people you may see: open the merge from a possible duplicate."))
        a, b = visible[ids[0]], visible[ids[1]]
        form = PersonMergeForm(request.POST or None, initial={"a": a.pk, "b": b.pk})
        rows = [
            {
                "name": name,
                "label": Player._meta.get_field(name).verbose_name,
                "a": _shown(a, name, request.user),
                "b": _shown(b, name, request.user),
                "take": source.get(f"take_{name}", ""),
            }
            for name in FIELDS
        ]
        if request.method == "POST" and form.is_valid():
            keep_a = form.cleaned_data["keep"] == "a"
            winner, loser = (a, b) if keep_a else (b, a)
            other = "b" if keep_a else "a"
            take = [row["name"] for row in rows if row["take"] == other]
            try:
                merge = persons_merge(
                    winner=winner, loser=loser, actor=request.user, take_from_loser=take, note=form.cleaned_data["note"]
                )
            except ValidationError as exc:
                for message in exc.messages:
                    form.add_error(None, message)
            except PermissionDenied:
                form.add_error(None, _("You may not merge people."))
            else:
                self.message_user(
                    request,
                    ngettext(
                        "Merged: %(count)d record moved to the person kept.",
                        "Merged: %(count)d records moved to the person kept.",
                        merge.rows_moved,
                    )
                    % {"count": merge.rows_moved},
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse("admin:players_player_change", args=[merge.winner_id]))
        context = {
            **self.admin_site.each_context(request),
            "title": _("Merge two people"),
            "form": form,
            "a": a,
            "b": b,
            "rows": rows,
            "opts": self.model._meta,
        }
        return render(request, "admin/players/personmerge/merge.html", context)
