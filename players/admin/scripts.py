"""Admin for the script library (话术库), and the "insert a script" control that contact,
case-reply and task forms put beside their text box."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import JsonResponse
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from crm.admin_columns import short_time

from ..models import SCRIPT_EXTRA_VARIABLES, CallScript, ScriptCategory
from ..selectors import players_visible_to
from ..services.scripts import script_insert, script_save
from ..templating import TEMPLATE_VARIABLES, USE_VARIABLES


def _variables_help() -> str:
    names = [*TEMPLATE_VARIABLES, *SCRIPT_EXTRA_VARIABLES]
    text = _("Variables: %(names)s ({me}: your own name). Checked when saved.") % {
        "names": ", ".join(f"{{{name}}}" for name in names)
    }
    greeting = USE_VARIABLES.get(ScriptCategory.GREETING_CALL)
    if greeting:
        text += " " + _("Greeting calls also: %(names)s.") % {"names": ", ".join(f"{{{name}}}" for name in greeting)}
    return text


class ScriptInsertTextarea(forms.Textarea):
    """A text box with a script picker above it: "Insert" fills in the chosen script for
    the player (`player_id`, or the form's player field) at the cursor."""

    def __init__(self, *args, player_id=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.player_id = player_id

    class Media:
        js = ["players/script_insert.js"]

    def render(self, name, value, attrs=None, renderer=None):
        area = super().render(name, value, attrs, renderer)
        groups = {}
        for script in CallScript.objects.filter(enabled=True).order_by("category", "-usage_count", "name"):
            groups.setdefault(script.get_category_display(), []).append((script.pk, script.name))
        if not groups:
            return area
        options = format_html_join(
            "",
            '<optgroup label="{}">{}</optgroup>',
            (
                (label, format_html_join("", '<option value="{}">{}</option>', scripts))
                for label, scripts in groups.items()
            ),
        )
        return format_html(
            '<div class="script-insert" data-insert-url="{}" data-player="{}">'
            '<p class="script-insert-bar"><select class="script-insert-choice" aria-label="{}">'
            '<option value="">{}</option>{}</select> '
            '<button type="button" class="button script-insert-button">{}</button> '
            '<span class="script-insert-error errornote" style="display:none"></span></p>{}</div>',
            reverse("admin:players_callscript_insert", args=[0]),
            self.player_id or "",
            _("call script"),
            _("— choose a script —"),
            options,
            _("Insert script"),
            area,
        )


class CallScriptForm(forms.ModelForm):
    class Meta:
        model = CallScript
        fields = [
            "name",
            "category",
            "question",
            "step_verify",
            "step_introduce",
            "step_convenient",
            "step_purpose",
            "step_close",
            "enabled",
        ]
        widgets = {
            name: forms.Textarea(attrs={"rows": 2, "cols": 80})
            for name in ("step_verify", "step_introduce", "step_convenient", "step_close")
        } | {"step_purpose": forms.Textarea(attrs={"rows": 5, "cols": 80})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "step_purpose" in self.fields:  # not on a read-only view
            self.fields["step_purpose"].help_text = _variables_help()


@admin.register(CallScript)
class CallScriptAdmin(admin.ModelAdmin):
    form = CallScriptForm
    list_display = ["name", "category", "question", "usage_count", "last_used", "enabled"]
    list_filter = ["category", "enabled"]
    search_fields = ["name", "question", "step_purpose"]
    ordering = ["category", "-usage_count"]
    readonly_fields = ["usage_count", "last_used"]

    @admin.display(description=_("last used"), ordering="last_used_at")
    def last_used(self, obj):
        return short_time(obj.last_used_at)

    def save_model(self, request, obj, form, change):
        script_save(script=obj, actor=request.user)

    def get_urls(self):
        return [
            path(
                "<int:pk>/insert/",
                self.admin_site.admin_view(self.insert_view),
                name="players_callscript_insert",
            ),
            *super().get_urls(),
        ]

    def insert_view(self, request, pk):
        """{"text": the script filled in for ?player=<id>} (a player the user may see);
        counts one use."""
        if not request.user.has_perm("players.view_callscript"):
            raise PermissionDenied
        script = get_object_or_404(CallScript, pk=pk)
        player_id = request.GET.get("player", "")
        if not player_id.isdigit():
            return JsonResponse({"error": str(_("Choose the player first."))}, status=400)
        player = get_object_or_404(players_visible_to(request.user), pk=int(player_id))
        try:
            text = script_insert(script=script, player=player, actor=request.user)
        except ValidationError as exc:
            return JsonResponse({"error": " ".join(exc.messages)}, status=400)
        return JsonResponse({"text": text})
