"""Admin for service records: the contact log (with follow-ups), cases with their
workflow and timeline, SLA policies, feedback for the product team. The daily work
report on the cases' list is the workplace's (crm/workplace/reports_admin.py)."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext, pgettext_lazy

from crm.admin_columns import player_column, short_time, truncated
from crm.cells import csv_writer
from crm.formatting import money, when
from crm.privacy import can_view_personal_data, free_text_for, mask_free_text, viewer_attach
from crm.sources import source_text
from players.admin.scoping import PlayerScopedAdminMixin

from ..case_events import case_event_text
from ..models import (
    CASE_CHECKLISTS,
    ERASED_CLOSE_REASON,
    Case,
    CaseStatus,
    CompensationApprovalRule,
    CompensationProposal,
    ContactLog,
    FeedbackReport,
    FeedbackStatus,
    FeedbackTopic,
    ProposalStatus,
    SlaPolicy,
)
from ..selectors import is_scoped, players_visible_to
from ..selectors.service_records import (
    case_scope_q,
    feedback_reports_visible_to,
    feedback_topic_scope_q,
    follow_ups_due,
)
from ..services.cases import (
    case_add_note,
    case_assign,
    case_checklist_set,
    case_open,
    case_record_satisfaction,
    case_reply,
    case_resolve,
    case_transition,
    case_update,
    compensation_approve,
    compensation_may_approve,
    compensation_propose,
    compensation_refuse,
)
from ..services.feedback import (
    FEEDBACK_TOPIC_EDITABLE_FIELDS,
    feedback_record,
    feedback_topic_set_status,
    feedback_topic_update,
    feedback_topics_merge,
)
from ..services.service_records import (
    CHANGE_REASON_ERASED,
    CONTACT_EDITABLE_FIELDS,
    contact_log_check,
    contact_log_create,
    contact_log_update,
)
from .scripts import ScriptInsertTextarea

LIST_TEXT_LENGTH = 60
RECENT_CHANGES = 20
# Why the CRM changed a contact by itself (a change's "reason"), in the reader's language.
CHANGE_REASONS = {CHANGE_REASON_ERASED: ERASED_CLOSE_REASON}


def _short(text: str, length: int = LIST_TEXT_LENGTH) -> str:
    text = " ".join(str(text or "").split())
    return text if len(text) <= length else text[: length - 1] + "…"


def _duration(delta: timedelta) -> str:
    minutes = int(abs(delta.total_seconds()) // 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return _("%(days)dd %(hours)dh") % {"days": days, "hours": hours}
    return _("%(hours)dh %(minutes)02dm") % {"hours": hours, "minutes": minutes}


def masked_text_column(attr, description, user, *, length=LIST_TEXT_LENGTH, fallback=None):
    """A changelist column showing free text with phone/ID-like numbers masked for a
    user without players.view_personal_data (built per request: no state on the admin)."""

    def column(obj):
        text = getattr(obj, attr) or (getattr(obj, fallback) if fallback else "")
        return truncated(_short(free_text_for(user, text), length))

    column.short_description = description
    column.admin_order_field = attr
    column.__name__ = f"masked_{attr}"
    return column


class ViewerMixin:
    """Change pages: remember who looks, so read-only displays and the page's title can
    mask free text (crm.privacy.viewer_attach)."""

    def get_object(self, request, object_id, from_field=None):
        return viewer_attach(super().get_object(request, object_id, from_field), request.user)


def _viewer(obj):
    return getattr(obj, "_viewer", None)


# --- contact log ---------------------------------------------------------------------------------
class FollowUpFilter(admin.SimpleListFilter):
    """The manager's worklist of follow-ups (players.selectors.service_records.follow_ups_due)."""

    title = _("follow-up")
    parameter_name = "follow_up"

    def lookups(self, request, model_admin):
        return [
            ("mine_today", _("my follow-ups today")),
            ("mine_overdue", _("my follow-ups due or overdue")),
            ("today", _("everyone's follow-ups today")),
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "mine_today":
            due = follow_ups_due(user=request.user)
        elif value == "mine_overdue":
            due = follow_ups_due(user=request.user, include_overdue=True)
        elif value == "today":
            due = follow_ups_due()
        else:
            return queryset
        return queryset.filter(pk__in=due.values("pk"))


class ContactLogAdminForm(forms.ModelForm):
    """The contact rules are the service's (contact_log_check): shown here on the form."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "summary" in self.fields:  # a script from the library, filled in for the player
            self.fields["summary"].widget = ScriptInsertTextarea(attrs={"rows": 8, "cols": 80})

    def clean(self):
        data = super().clean()
        values = {
            name: data.get(name, getattr(self.instance, name))
            for name in ("topic", "summary", "outcome", "next_follow_up", "contacted_at")
        }
        try:
            contact_log_check(values=values, changed=set(self.changed_data) if self.instance.pk else None)
        except ValidationError as exc:
            for name, errors in exc.message_dict.items():
                self.add_error(name if name in self.fields else None, errors)
        return data


class ContactLogAdmin(PlayerScopedAdminMixin, admin.ModelAdmin):
    """Quick to add from the player page (“Log a contact” fills in the player, now,
    the player's preferred channel and the user); follow-ups in the “follow-up” filter.
    Adds and edits go through the contact service; an edit leaves a row in the
    contact's change history, shown on its page."""

    form = ContactLogAdminForm

    list_display = [
        player_column(),
        "channel",
        "direction",
        "staff",
        "contacted",
        "topic_display",
        "outcome",
        "next_follow_up",
    ]
    list_filter = [FollowUpFilter, "channel", "direction", "outcome"]
    list_select_related = ["player", "staff"]
    search_fields = ["=player__account_id", "topic"]
    autocomplete_fields = ["player"]
    show_full_result_count = False
    date_hierarchy = None
    fields = list(CONTACT_EDITABLE_FIELDS)

    @admin.display(description=_("contacted at"), ordering="contacted_at")
    def contacted(self, obj):
        return short_time(obj.contacted_at)

    def get_list_display(self, request):
        return [
            masked_text_column("topic", _("topic"), request.user, fallback="summary") if c == "topic_display" else c
            for c in super().get_list_display(request)
        ]

    @admin.display(description=_("topic"))
    def topic_display(self, obj):  # replaced per request by get_list_display
        return _short(free_text_for(None, obj.topic or obj.summary))

    @admin.display(description=_("source"))
    def source_display(self, obj):
        return source_text(obj.source)

    def get_readonly_fields(self, request, obj=None):
        return ["staff", "source_display", "created_at", "change_history"] if obj else []

    def get_fields(self, request, obj=None):
        return [*self.fields, "staff", "source_display", "created_at", "change_history"] if obj else self.fields

    @admin.display(description=_("change history"))
    def change_history(self, obj):
        """Who changed what on this contact, when (free text masked as in the list)."""
        user = _viewer(obj)
        fields = {name: ContactLog._meta.get_field(name) for name in self.fields}

        def shown(name, value):  # a choice by its label, in the reader's language
            if name == "reason":  # why the CRM changed it, read from its code
                return CHANGE_REASONS.get(value, "")
            choices = dict(fields[name].flatchoices) if name in fields and fields[name].choices else {}
            return free_text_for(user, str(choices.get(value, "" if value is None else value)))

        rows = [
            (
                when(change.changed_at),
                change.actor or _("system"),
                fields[name].verbose_name if name in fields else _("reason") if name == "reason" else name,
                shown(name, old),
                shown(name, new),
            )
            for change in obj.changes.select_related("actor").order_by("-changed_at", "-id")[:RECENT_CHANGES]
            for name, (old, new) in change.changes.items()
        ]
        if not rows:
            return format_html('<span class="crm-empty">{}</span>', _("None yet."))
        return format_html(
            '<table class="crm-mini"><tbody>{}</tbody></table>',
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{} → {}</td></tr>",
                rows,
            ),
        )

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        initial.setdefault("contacted_at", timezone.now())
        player_id = request.GET.get("player")
        if player_id and "channel" not in initial:
            preferred = (
                players_visible_to(request.user)
                .filter(pk=player_id)
                .values_list("preferred_channel", flat=True)
                .first()
                if str(player_id).isdigit()
                else None
            )
            if preferred:
                initial["channel"] = preferred
        return initial

    def save_model(self, request, obj, form, change):
        if change:
            edits = {name: form.cleaned_data[name] for name in form.changed_data if name in form.cleaned_data}
            contact_log_update(contact=obj, data=edits, actor=request.user)
            return
        data = {name: form.cleaned_data.get(name) for name in self.fields if name != "player"}
        data = {k: v for k, v in data.items() if v not in (None, "")}
        contact = contact_log_create(player=form.cleaned_data["player"], staff=request.user, **data)
        obj.pk = contact.pk
        obj.staff = contact.staff

    def response_add(self, request, obj, post_url_continue=None):
        if request.GET.get("player") and "_addanother" not in request.POST and "_continue" not in request.POST:
            self.message_user(request, _("Contact logged."), messages.SUCCESS)
            return HttpResponseRedirect(reverse("admin:players_player_change", args=[obj.player_id]))
        return super().response_add(request, obj, post_url_continue)


# --- cases ------------------------------------------------------------------------------------------
class CaseDueFilter(admin.SimpleListFilter):
    title = _("SLA")
    parameter_name = "sla"

    def lookups(self, request, model_admin):
        return [
            ("overdue", pgettext_lazy("case deadline", "overdue")),
            ("24h", _("due within 24 hours")),
            ("paused", _("clock paused")),
            ("missed", _("resolved late")),
            ("unanswered", _("first answer overdue")),
            ("answered_late", _("first answer late")),
        ]

    def queryset(self, request, queryset):
        now = timezone.now()
        running = [CaseStatus.NEW, CaseStatus.IN_PROGRESS]
        value = self.value()
        if value == "overdue":
            return queryset.filter(status__in=running, sla_due_at__lt=now)
        if value == "24h":
            return queryset.filter(status__in=running, sla_due_at__gte=now, sla_due_at__lt=now + timedelta(hours=24))
        if value == "paused":
            return queryset.filter(status=CaseStatus.WAITING)
        if value == "missed":
            return queryset.filter(sla_met=False)
        if value == "unanswered":
            return queryset.filter(status__in=running, first_responded_at__isnull=True, first_response_due_at__lt=now)
        if value == "answered_late":
            return queryset.filter(first_response_met=False)
        return queryset


class CaseEscalatedFilter(admin.SimpleListFilter):
    """“Escalated, still open” is the supervisors' list."""

    title = _("escalated")
    parameter_name = "escalated"

    def lookups(self, request, model_admin):
        return [("yes", _("escalated, still open")), ("ever", _("ever escalated"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(
                escalated_at__isnull=False, status__in=[CaseStatus.NEW, CaseStatus.IN_PROGRESS, CaseStatus.WAITING]
            )
        if self.value() == "ever":
            return queryset.filter(escalation_count__gt=0)
        return queryset


class CaseMineFilter(admin.SimpleListFilter):
    title = _("owner")
    parameter_name = "mine"

    def lookups(self, request, model_admin):
        return [("yes", _("my cases")), ("none", _("nobody's"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(owner=request.user)
        if self.value() == "none":
            return queryset.filter(owner__isnull=True)
        return queryset


class CaseNoteForm(forms.Form):
    note = forms.CharField(label=_("note"), required=False, widget=forms.Textarea(attrs={"rows": 3}))


class CaseResolveForm(forms.Form):
    resolution = forms.CharField(label=_("resolution"), widget=forms.Textarea(attrs={"rows": 4}))
    compensation_item = forms.CharField(label=_("compensation"), required=False, max_length=200)
    compensation_value = forms.DecimalField(
        label=_("compensation value"), required=False, min_value=0, max_digits=12, decimal_places=2
    )
    note = forms.CharField(label=_("note"), required=False, widget=forms.Textarea(attrs={"rows": 2}))


class CaseReopenForm(forms.Form):
    note = forms.CharField(label=_("why reopen"), widget=forms.Textarea(attrs={"rows": 3}))


class CaseSatisfactionForm(forms.Form):
    score = forms.TypedChoiceField(
        label=_("satisfaction"), coerce=int, choices=[(i, str(i)) for i in range(5, 0, -1)], widget=forms.RadioSelect
    )
    note = forms.CharField(label=_("note"), required=False, max_length=500)


class CaseCompensateForm(forms.Form):
    item = forms.CharField(label=_("compensation"), max_length=200, help_text=_("What to give, e.g. 300 diamonds."))
    value = forms.DecimalField(label=_("value"), required=False, min_value=0, max_digits=12, decimal_places=2)
    reason = forms.CharField(
        label=_("why"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Above the tier's threshold the proposal waits for a supervisor's approval."),
    )


class CaseCommentForm(forms.Form):
    text = forms.CharField(label=_("note"), widget=forms.Textarea(attrs={"rows": 4}))


class CaseReplyForm(forms.Form):
    text = forms.CharField(
        label=_("what the player was told"),
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_("Kept on the case; the first reply stops the first-answer clock."),
    )


class CaseChecklistForm(forms.Form):
    """The steps of the case's category (CASE_CHECKLISTS), ticked as they are done."""

    per_case = True
    done = forms.MultipleChoiceField(label=_("done"), required=False, widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, case, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["done"].choices = CASE_CHECKLISTS.get(case.category, [])
        if not self.is_bound:
            self.fields["done"].initial = list(case.checklist or {})


# action name -> (label, form, status it moves to or None, statuses it is offered in)
CASE_ACTIONS = {
    "start": (_("Start work"), CaseNoteForm, CaseStatus.IN_PROGRESS, [CaseStatus.NEW]),
    "wait": (
        _("Wait on the player"),
        CaseNoteForm,
        CaseStatus.WAITING,
        [CaseStatus.NEW, CaseStatus.IN_PROGRESS],
    ),
    "resume": (_("Player answered"), CaseNoteForm, CaseStatus.IN_PROGRESS, [CaseStatus.WAITING]),
    "resolve": (
        _("Resolve"),
        CaseResolveForm,
        CaseStatus.RESOLVED,
        [CaseStatus.NEW, CaseStatus.IN_PROGRESS, CaseStatus.WAITING],
    ),
    "close": (_("Close"), CaseNoteForm, CaseStatus.CLOSED, [CaseStatus.RESOLVED]),
    "reopen": (_("Reopen"), CaseReopenForm, CaseStatus.IN_PROGRESS, [CaseStatus.RESOLVED, CaseStatus.CLOSED]),
    "satisfaction": (
        _("Record satisfaction"),
        CaseSatisfactionForm,
        None,
        [CaseStatus.RESOLVED, CaseStatus.CLOSED],
    ),
    "compensate": (_("Propose compensation"), CaseCompensateForm, None, list(CaseStatus)),
    "note": (_("Add a note"), CaseCommentForm, None, list(CaseStatus)),
    "reply": (
        _("Reply to the player"),
        CaseReplyForm,
        None,
        [CaseStatus.NEW, CaseStatus.IN_PROGRESS, CaseStatus.WAITING],
    ),
    # Only for categories with a checklist (a minor's refund: the guardian's verification).
    "checklist": (
        _("Checklist"),
        CaseChecklistForm,
        None,
        [CaseStatus.NEW, CaseStatus.IN_PROGRESS, CaseStatus.WAITING],
    ),
}


class CaseAdminForm(forms.ModelForm):
    class Meta:
        model = Case
        fields = ["player", "category", "severity", "channel", "subject", "description", "owner"]


class CaseAdmin(ViewerMixin, PlayerScopedAdminMixin, admin.ModelAdmin):
    form = CaseAdminForm
    list_display = [
        "number",
        "subject_display",
        player_column(),
        "category",
        "severity",
        "status_display",
        "owner",
        "opened",
        "due_display",
        "escalated",
    ]
    list_display_links = ["number"]
    list_filter = ["status", CaseDueFilter, CaseEscalatedFilter, CaseMineFilter, "category", "severity"]
    list_select_related = ["player", "owner"]
    search_fields = ["=id", "=player__account_id", "subject"]
    search_help_text = _("Case number, account id or words of the subject.")
    autocomplete_fields = ["player"]
    show_full_result_count = False
    list_per_page = 50
    actions = ["start_work", "close_cases"]
    readonly_fields = [
        "status_display",
        "workflow",
        "sla_display",
        "opened_by",
        "opened_at",
        "resolution_display",
        "compensation_display",
        "satisfaction_display",
        "timeline",
        "checklist_display",
    ]

    def get_queryset(self, request):
        # Not only the players they manage: also the cases they own.
        return admin.ModelAdmin.get_queryset(self, request).filter(case_scope_q(request.user))

    def get_fieldsets(self, request, obj=None):
        case = [(None, {"fields": ["player", "category", "severity", "channel", "subject", "description", "owner"]})]
        if obj is None:
            return case
        case[0][1]["fields"].remove("player")
        return [
            (None, {"fields": ["player", "status_display", "workflow", "sla_display", "opened_at", "opened_by"]}),
            (_("Case"), {"fields": case[0][1]["fields"]}),
            *([(_("Checklist"), {"fields": ["checklist_display"]})] if obj.category in CASE_CHECKLISTS else []),
            (
                _("Outcome"),
                {"fields": ["resolution_display", "compensation_display", "satisfaction_display"]},
            ),
            (_("Timeline"), {"fields": ["timeline"]}),
        ]

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "player"] if obj else []

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        player_id = request.GET.get("player")
        if player_id and str(player_id).isdigit() and "owner" not in initial:
            manager = players_visible_to(request.user).filter(pk=player_id).values_list("manager_id", flat=True).first()
            initial["owner"] = manager or request.user.pk
        initial.setdefault("owner", request.user.pk)
        return initial

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "owner":
            from .profile import manager_choices

            kwargs["queryset"] = manager_choices()
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if not change:
            case = case_open(
                player=data["player"],
                category=data["category"],
                severity=data["severity"],
                channel=data["channel"],
                subject=data["subject"],
                description=data["description"],
                owner=data["owner"],
                actor=request.user,
            )
            obj.pk = case.pk
            return
        current = Case.objects.get(pk=obj.pk)
        edits = {name: data[name] for name in ("category", "severity", "channel", "subject", "description")}
        case_update(case=current, data=edits, actor=request.user)
        if current.owner_id != (data["owner"].pk if data["owner"] else None):
            case_assign(case=current, owner=data["owner"], actor=request.user)

    # --- columns ----------------------------------------------------------------------
    def get_list_display(self, request):
        return [
            masked_text_column("subject", _("subject"), request.user) if c == "subject_display" else c
            for c in super().get_list_display(request)
        ]

    @admin.display(description=_("subject"))
    def subject_display(self, obj):  # replaced per request by get_list_display
        return _short(free_text_for(None, obj.subject))

    @admin.display(description=_("case"), ordering="pk")
    def number(self, obj):
        return f"#{obj.pk}"

    @admin.display(description=_("status"), ordering="status")
    def status_display(self, obj):
        return format_html('<span class="case-status case-{}">{}</span>', obj.status, obj.get_status_display())

    @admin.display(description=_("opened"), ordering="opened_at")
    def opened(self, obj):
        return short_time(obj.opened_at)

    @admin.display(description=pgettext_lazy("case deadline", "due"), ordering="sla_due_at")
    def due_display(self, obj):
        now = timezone.now()
        if obj.status in (CaseStatus.RESOLVED, CaseStatus.CLOSED):
            if obj.sla_met is None:
                return "-"
            return _("in time") if obj.sla_met else format_html('<span style="color:#ba2121">{}</span>', _("late"))
        left = obj.time_left(now)
        if obj.status == CaseStatus.WAITING:
            return _("paused, %(left)s left") % {"left": _duration(left)}
        if left.total_seconds() < 0:
            return format_html(
                '<strong style="color:#ba2121">{}</strong>', _("overdue by %(late)s") % {"late": _duration(left)}
            )
        return _("%(left)s left") % {"left": _duration(left)}

    @admin.display(description=_("escalated"), boolean=True, ordering="escalated_at")
    def escalated(self, obj):
        return obj.escalated_at is not None

    @admin.display(description=_("SLA"))
    def sla_display(self, obj):
        return format_html(
            '{}<br><span class="case-due">{}: {}</span> · {}: {} h ({}) · {}: {}<br>{}<br>{}',
            self.due_display(obj),
            pgettext_lazy("case deadline", "due"),
            when(obj.sla_due_at),
            _("allowance"),
            obj.sla_hours,
            obj.get_sla_clock_display(),
            _("paused so far"),
            _duration(timedelta(seconds=obj.sla_paused_seconds)),
            self._first_answer(obj),
            self._ladder(obj),
        )

    @staticmethod
    def _first_answer(obj):
        if obj.first_responded_at:
            verdict = _("in time") if obj.first_response_met is not False else _("late")
            return format_html(
                '<span class="case-first-answer">{}: {} ({})</span>',
                _("first answer"),
                when(obj.first_responded_at),
                verdict,
            )
        if obj.first_response_due_at is None:
            return "-"
        return format_html(
            '<span class="case-first-answer">{}: {}</span>', _("first answer due"), when(obj.first_response_due_at)
        )

    @staticmethod
    def _ladder(obj):
        text = obj.get_escalation_level_display()
        if obj.escalation_level == 1 and obj.head_escalation_at and obj.is_open:
            text = _("%(level)s; the head of service is told %(at)s") % {
                "level": text,
                "at": when(obj.head_escalation_at),
            }
        return format_html('<span class="case-ladder">{}</span>', text)

    @admin.display(description=_("do"))
    def workflow(self, obj):
        links = [
            (reverse("admin:players_case_action", args=[obj.pk, name]), label)
            for name, (label, _form, _to, offered) in CASE_ACTIONS.items()
            if obj.status in offered and (name != "checklist" or obj.category in CASE_CHECKLISTS)
        ]
        return format_html_join(" ", '<a class="button" href="{}">{}</a>', links)

    @admin.display(description=_("checklist"))
    def checklist_display(self, obj):
        done = obj.checklist or {}
        rows = []
        for step, label in CASE_CHECKLISTS.get(obj.category, []):
            entry = done.get(step)
            if entry:
                by = (entry.get("by") or {}).get("name", "")
                at = parse_datetime(entry.get("at") or "")
                rows.append(("☑", label, f"{by} · {when(at)}" if at else by))
            else:
                rows.append(("☐", label, "-"))
        return format_html(
            '<table class="crm-mini case-checklist"><tbody>{}</tbody></table>',
            format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td></tr>", rows),
        )

    @admin.display(description=_("resolution"))
    def resolution_display(self, obj):
        return obj.resolution or "-"

    @admin.display(description=_("compensation"))
    def compensation_display(self, obj):
        given = "-"
        if obj.compensation_item:
            value = money(obj.compensation_value) if obj.compensation_value is not None else ""
            given = f"{obj.compensation_item} {value}".strip()
        proposals = list(obj.proposals.exclude(status=ProposalStatus.GIVEN).select_related("decided_by"))
        if not proposals:
            return given
        user = _viewer(obj)
        return format_html(
            '{}<table class="crm-mini case-proposals"><tbody>{}</tbody></table>',
            given,
            format_html_join(
                "",
                '<tr><td>{}</td><td>{}</td><td><span class="proposal-{}">{}</span></td><td>{}</td></tr>',
                (
                    (
                        free_text_for(user, p.item),
                        money(p.value) if p.value is not None else "-",
                        p.status,
                        p.get_status_display(),
                        " ".join(x for x in (str(p.decided_by or ""), free_text_for(user, p.decision_note)) if x),
                    )
                    for p in proposals
                ),
            ),
        )

    @admin.display(description=_("satisfaction"))
    def satisfaction_display(self, obj):
        if obj.satisfaction is None:
            return "-"
        return f"{'★' * obj.satisfaction}{'☆' * (5 - obj.satisfaction)} {obj.satisfaction_note}".strip()

    @admin.display(description=_("timeline"))
    def timeline(self, obj):
        rows = obj.events.select_related("actor").order_by("at", "id")
        user = _viewer(obj)
        return format_html(
            '<table class="crm-mini"><tbody>{}</tbody></table>',
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                ((when(e.at), e.get_type_display(), self._event_text(e, user), e.actor or _("system")) for e in rows),
            ),
        )

    @staticmethod
    def _event_text(event, user) -> str:
        return free_text_for(user, case_event_text(event))

    # --- bulk actions --------------------------------------------------------------------
    def _bulk_transition(self, request, queryset, to_status, done_message):
        moved, refused = 0, []
        for case in queryset:
            try:
                case_transition(case=case, to_status=to_status, actor=request.user)
                moved += 1
            except (ValidationError, PermissionDenied) as exc:
                reason = "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
                refused.append(f"#{case.pk}: {reason}")
        if moved:
            self.message_user(request, done_message(moved), messages.SUCCESS)
        if refused:
            self.message_user(
                request,
                ngettext("%(count)d case refused: %(why)s", "%(count)d cases refused: %(why)s", len(refused))
                % {"count": len(refused), "why": " | ".join(refused[:10])},
                messages.ERROR,
            )

    @admin.action(description=_("Start work on the selected cases"), permissions=["change"])
    def start_work(self, request, queryset):
        self._bulk_transition(
            request,
            queryset,
            CaseStatus.IN_PROGRESS,
            lambda n: ngettext("%(count)d case in progress.", "%(count)d cases in progress.", n) % {"count": n},
        )

    @admin.action(description=_("Close the selected resolved cases"), permissions=["change"])
    def close_cases(self, request, queryset):
        self._bulk_transition(
            request,
            queryset,
            CaseStatus.CLOSED,
            lambda n: ngettext("%(count)d case closed.", "%(count)d cases closed.", n) % {"count": n},
        )

    # --- extra views ---------------------------------------------------------------------
    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<int:pk>/do/<str:action>/", wrap(self.action_view), name="players_case_action"),
            *super().get_urls(),
        ]

    def action_view(self, request, pk, action):
        if action not in CASE_ACTIONS:
            raise PermissionDenied
        case = get_object_or_404(self.get_queryset(request), pk=pk)
        if not self.has_change_permission(request, case):
            raise PermissionDenied
        label, form_class, to_status, offered = CASE_ACTIONS[action]
        if case.status not in offered:  # refused before any form is shown, with the reason
            self.message_user(
                request,
                _("“%(action)s” is not possible while the case is “%(status)s”.")
                % {"action": label, "status": case.get_status_display()},
                messages.ERROR,
            )
            return HttpResponseRedirect(reverse("admin:players_case_change", args=[case.pk]))
        if action == "checklist" and case.category not in CASE_CHECKLISTS:
            raise PermissionDenied
        extra = {"case": case} if getattr(form_class, "per_case", False) else {}
        form = form_class(request.POST if request.method == "POST" else None, **extra)
        if action == "reply":  # a script from the library, filled in for the case's player
            form.fields["text"].widget = ScriptInsertTextarea(attrs={"rows": 8, "cols": 80}, player_id=case.player_id)
        if form.is_valid():
            try:
                self._apply(action, case, to_status, form.cleaned_data, request.user)
            except ValidationError as exc:
                for name, errors in exc.message_dict.items():
                    field = (
                        name
                        if name in form.fields
                        else {"satisfaction": "score", "compensation_item": "item", "compensation_value": "value"}.get(
                            name, name
                        )
                    )
                    form.add_error(field if field in form.fields else None, errors)
            except PermissionDenied as exc:
                form.add_error(None, str(exc))
            else:
                self.message_user(request, _("%(action)s: done.") % {"action": label}, messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:players_case_change", args=[case.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": f"{label} — #{case.pk}",
            "opts": self.model._meta,
            "original": case,
            "form": form,
        }
        return render(request, "admin/players/case/case_action.html", context)

    @staticmethod
    def _apply(action, case, to_status, data, actor):
        if action == "resolve":  # one transaction: a refused compensation leaves the case unresolved
            case_resolve(
                case=case,
                actor=actor,
                resolution=data["resolution"],
                compensation_item=data.get("compensation_item", ""),
                compensation_value=data.get("compensation_value"),
                note=data.get("note", ""),
            )
        elif action == "checklist":
            case_checklist_set(case=case, done=data["done"], actor=actor)
        elif to_status is not None:
            case_transition(case=case, to_status=to_status, actor=actor, note=data.get("note", ""))
        elif action == "satisfaction":
            case_record_satisfaction(case=case, score=data["score"], note=data["note"], actor=actor)
        elif action == "compensate":
            compensation_propose(case=case, item=data["item"], value=data["value"], reason=data["reason"], actor=actor)
        elif action == "note":
            case_add_note(case=case, text=data["text"], actor=actor)
        elif action == "reply":
            case_reply(case=case, text=data["text"], actor=actor)


class CompensationApprovalRuleAdmin(admin.ModelAdmin):
    list_display = ["__str__", "tier", "above"]
    list_editable = ["above"]
    list_select_related = ["tier"]
    fields = ["tier", "above"]


class ProposalStatusFilter(admin.SimpleListFilter):
    """The queue opens on what waits; the decided ones are a click away."""

    title = _("status")
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [*ProposalStatus.choices, ("all", _("All"))]

    def choices(self, changelist):
        for lookup, title in self.lookup_choices:
            yield {
                "selected": (self.value() or ProposalStatus.PENDING) == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request, queryset):
        value = self.value() or ProposalStatus.PENDING
        if value == "all":
            return queryset
        if value not in ProposalStatus.values:
            return queryset.none()
        return queryset.filter(status=value)


class ProposalDecisionForm(forms.Form):
    note = forms.CharField(label=_("note"), required=False, max_length=500, widget=forms.Textarea(attrs={"rows": 3}))


class CompensationProposalAdmin(ViewerMixin, PlayerScopedAdminMixin, admin.ModelAdmin):
    """The approvals queue: proposals waiting for a supervisor, oldest first, with the
    case, the player, what and how much, why, and Approve / Refuse."""

    player_path = "case__player"
    list_display = [
        "case_link",
        "player_display",
        "item_display",
        "value_display",
        "reason_display",
        "proposed_by",
        "proposed",
        "status_display",
        "decide",
    ]
    list_display_links = None
    list_filter = [ProposalStatusFilter]
    list_select_related = ["case", "case__player", "proposed_by", "decided_by"]
    search_fields = ["=case__id", "=case__player__account_id"]
    search_help_text = _("Case number or account id.")
    ordering = ["proposed_at"]
    list_per_page = 50
    actions = None

    def has_add_permission(self, request):
        return False  # proposed on a case

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("case"), ordering="case_id")
    def case_link(self, obj):
        return format_html(
            '<a href="{}">#{}</a>', reverse("admin:players_case_change", args=[obj.case_id]), obj.case_id
        )

    @admin.display(description=_("player"))
    def player_display(self, obj):
        return obj.case.player.nickname or obj.case.player.account_id

    def get_list_display(self, request):
        user = request.user
        may_decide = compensation_may_approve(user)

        @admin.display(description=_("decide"))
        def decide(obj):
            if obj.status != ProposalStatus.PENDING or not may_decide:
                return ""
            return format_html(
                '<span style="white-space:nowrap"><a class="button proposal-approve" href="{}">{}</a> '
                '<a class="button proposal-refuse" href="{}">{}</a></span>',
                reverse("admin:players_compensationproposal_decide", args=[obj.pk, "approve"]),
                _("Approve"),
                reverse("admin:players_compensationproposal_decide", args=[obj.pk, "refuse"]),
                _("Refuse"),
            )

        columns = {
            "item_display": masked_text_column("item", _("compensation"), user),
            "reason_display": masked_text_column("reason", _("why"), user),
            "decide": decide,
        }
        return [columns.get(c, c) for c in super().get_list_display(request)]

    @admin.display(description=_("compensation"))
    def item_display(self, obj):  # replaced per request by get_list_display
        return ""

    @admin.display(description=_("value"), ordering="value")
    def value_display(self, obj):
        value = money(obj.value) if obj.value is not None else "-"
        if obj.threshold is None:
            return value
        return format_html(
            '{}<br><span class="help" title="{}">&gt; {}</span>',
            value,
            _("approval needed above"),
            money(obj.threshold),
        )

    @admin.display(description=_("why"))
    def reason_display(self, obj):  # replaced per request by get_list_display
        return ""

    @admin.display(description=_("proposed at"), ordering="proposed_at")
    def proposed(self, obj):
        return short_time(obj.proposed_at)

    @admin.display(description=_("status"), ordering="status")
    def status_display(self, obj):
        text = obj.get_status_display()
        if obj.decided_by:
            text = f"{text} · {obj.decided_by} {short_time(obj.decided_at)}"
        return format_html('<span class="proposal-{}">{}</span>', obj.status, text)

    @admin.display(description=_("decide"))
    def decide(self, obj):  # replaced per request by get_list_display
        return ""

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<int:pk>/decide/<str:decision>/", wrap(self.decide_view), name="players_compensationproposal_decide"),
            *super().get_urls(),
        ]

    def decide_view(self, request, pk, decision):
        if decision not in ("approve", "refuse") or not compensation_may_approve(request.user):
            raise PermissionDenied
        proposal = get_object_or_404(self.get_queryset(request).select_related("case", "case__player"), pk=pk)
        viewer_attach(proposal, request.user)
        form = ProposalDecisionForm(request.POST if request.method == "POST" else None)
        if form.is_valid():
            try:
                if decision == "approve":
                    compensation_approve(proposal=proposal, actor=request.user, note=form.cleaned_data["note"])
                else:
                    compensation_refuse(proposal=proposal, actor=request.user, note=form.cleaned_data["note"])
            except ValidationError as exc:
                for name, errors in exc.message_dict.items():
                    form.add_error("note" if name == "note" else None, errors)
            except PermissionDenied as exc:
                form.add_error(None, str(exc))
            else:
                self.message_user(
                    request,
                    (_("Approved and given: %(item)s.") if decision == "approve" else _("Refused: %(item)s."))
                    % {"item": free_text_for(request.user, proposal.item)},
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse("admin:players_compensationproposal_changelist"))
        label = _("Approve") if decision == "approve" else _("Refuse")
        context = {
            **self.admin_site.each_context(request),
            "title": f"{label} — #{proposal.case_id} {free_text_for(request.user, proposal.item)}",
            "opts": self.model._meta,
            "proposal": proposal,
            "decision": decision,
            "label": label,
            "form": form,
            "player": proposal.case.player.nickname or proposal.case.player.account_id,
            "value": money(proposal.value) if proposal.value is not None else "-",
            "reason": free_text_for(request.user, proposal.reason),
            "item": free_text_for(request.user, proposal.item),
        }
        return render(request, "admin/players/compensationproposal/decide.html", context)


class SlaPolicyAdmin(admin.ModelAdmin):
    list_display = ["__str__", "category", "severity", "clock", "first_response_hours", "hours", "head_after_hours"]
    list_editable = ["clock", "first_response_hours", "hours", "head_after_hours"]
    list_filter = ["category", "severity", "clock"]
    fields = ["category", "severity", "clock", "first_response_hours", "hours", "head_after_hours"]


# --- feedback -----------------------------------------------------------------------------------
class MergedTopicFilter(admin.SimpleListFilter):
    title = _("merged")
    parameter_name = "merged"

    def lookups(self, request, model_admin):
        return [("show", _("include merged topics"))]

    def queryset(self, request, queryset):
        if self.value() == "show":
            return queryset
        return queryset.exclude(status=FeedbackStatus.MERGED)


class MergeTopicsForm(forms.Form):
    target = forms.ModelChoiceField(queryset=FeedbackTopic.objects.none(), label=_("same as"), empty_label=None)

    def __init__(self, *args, topics=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["target"].queryset = topics


class FeedbackTopicAdmin(ViewerMixin, PlayerScopedAdminMixin, admin.ModelAdmin):
    """The product team's list: one row per problem, with how many players reported it.

    A VIP manager sees the topics their players reported, with only their players'
    reports; the title (the first reporter's words) with its numbers masked, since the
    first reporter may be someone else's player."""

    list_display = ["title_display", "kind", "status", "report_count", "first_reported", "last_reported"]
    list_filter = [MergedTopicFilter, "status", "kind"]
    search_fields = ["title"]
    show_full_result_count = False
    list_per_page = 50
    actions = ["merge_topics", "export_csv", "mark_acknowledged", "mark_planned", "mark_done", "mark_declined"]
    fields = ["title", "kind", "status", "product_note", "merged_into", "report_count", "recent_reports"]
    readonly_fields = ["merged_into", "report_count", "recent_reports"]

    def has_add_permission(self, request):
        return False

    def get_queryset(self, request):
        return admin.ModelAdmin.get_queryset(self, request).filter(feedback_topic_scope_q(request.user))

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is not None and is_scoped(request.user):
            obj.title = mask_free_text(obj.title)  # page title, breadcrumbs; read-only for them
        return obj

    def get_search_results(self, request, queryset, search_term):
        if not is_scoped(request.user) or not search_term.strip():
            return super().get_search_results(request, queryset, search_term)
        # not the title: its numbers may be another book's; their own players' words instead
        mine = feedback_reports_visible_to(request.user).filter(text__icontains=search_term.strip())
        return queryset.filter(pk__in=mine.values("topic")), False

    def get_list_display(self, request):
        scoped = is_scoped(request.user)
        return [
            (self._scoped_title_column if scoped else masked_text_column("title", _("title"), request.user, length=100))
            if c == "title_display"
            else c
            for c in super().get_list_display(request)
        ]

    @admin.display(description=_("title"), ordering="title")
    def _scoped_title_column(self, obj):
        return _short(mask_free_text(obj.title), 100)

    def get_fields(self, request, obj=None):
        fields = list(super().get_fields(request, obj))
        if not can_view_personal_data(request.user) or is_scoped(request.user):
            fields[fields.index("title")] = "title_display"
        return fields

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if not can_view_personal_data(request.user) or is_scoped(request.user):
            fields.append("title_display")
        return fields

    @admin.display(description=_("title"), ordering="title")
    def title_display(self, obj):
        return free_text_for(_viewer(obj), obj.title)

    @admin.display(description=_("first reported"), ordering="first_reported_at")
    def first_reported(self, obj):
        return when(obj.first_reported_at)

    @admin.display(description=_("last reported"), ordering="last_reported_at")
    def last_reported(self, obj):
        return when(obj.last_reported_at)

    @admin.display(description=_("recent reports"))
    def recent_reports(self, obj):
        user = _viewer(obj)
        rows = feedback_reports_visible_to(user).filter(topic=obj).order_by("-reported_at")[:50]
        link = reverse("admin:players_feedbackreport_changelist") + f"?topic__id__exact={obj.pk}"
        return format_html(
            '<table class="crm-mini"><tbody>{}</tbody></table><a href="{}">{}</a>',
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                ((when(r.reported_at), r.player.account_id, free_text_for(user, r.text)) for r in rows),
            ),
            link,
            _("All reports"),
        )

    def save_model(self, request, obj, form, change):
        if "status" in form.changed_data and obj.status == FeedbackStatus.MERGED:
            raise PermissionDenied  # merging is the "same as" action's, which moves the reports
        edits = {name: form.cleaned_data[name] for name in form.changed_data if name in FEEDBACK_TOPIC_EDITABLE_FIELDS}
        feedback_topic_update(topic=obj, data=edits, actor=request.user)

    # --- actions ----------------------------------------------------------------------------
    @admin.action(description=_("Same as…: merge the selected topics"), permissions=["merge"])
    def merge_topics(self, request, queryset):
        topics = queryset.order_by("-report_count", "pk")
        if topics.count() < 2:
            self.message_user(request, _("Select at least two topics to merge."), messages.WARNING)
            return None
        form = MergeTopicsForm(request.POST if "apply" in request.POST else None, topics=topics)
        if form.is_valid():
            merged = feedback_topics_merge(target=form.cleaned_data["target"], topics=list(topics), actor=request.user)
            self.message_user(
                request,
                ngettext("%(count)d topic merged.", "%(count)d topics merged.", merged) % {"count": merged},
                messages.SUCCESS,
            )
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": _("Same as…: merge feedback topics"),
            "form": form,
            "topics": topics,
            "opts": self.model._meta,
            "selected": request.POST.getlist(ACTION_CHECKBOX_NAME),
            "select_across": request.POST.get("select_across", "0"),
            "action": "merge_topics",
        }
        return render(request, "admin/players/feedbacktopic/merge.html", context)

    def has_merge_permission(self, request):
        return request.user.has_perm("players.merge_feedbacktopic")

    def has_export_permission(self, request):
        return request.user.has_perm("players.export_feedback")

    @admin.action(description=_("Export the selected topics as CSV"), permissions=["export"])
    def export_csv(self, request, queryset):
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="feedback-topics.csv"'
        response.write("\ufeff")
        writer = csv_writer(response)
        writer.writerow(
            [
                str(c)
                for c in (
                    _("topic"),
                    _("kind"),
                    _("status"),
                    _("reports"),
                    _("first reported"),
                    _("last reported"),
                    _("title"),
                    _("product team's note"),
                )
            ]
        )
        for topic in queryset.order_by("-report_count", "pk"):
            writer.writerow(
                [
                    topic.pk,
                    topic.get_kind_display(),
                    topic.get_status_display(),
                    topic.report_count,
                    when(topic.first_reported_at),
                    when(topic.last_reported_at),
                    free_text_for(request.user, topic.title),
                    topic.product_note,
                ]
            )
        return response

    def _set_status(self, request, queryset, status):
        for topic in queryset:
            feedback_topic_set_status(topic=topic, status=status, actor=request.user)
        count = len(queryset)
        self.message_user(
            request,
            ngettext("%(count)d topic updated.", "%(count)d topics updated.", count) % {"count": count},
            messages.SUCCESS,
        )

    @admin.action(description=_("Mark as acknowledged"), permissions=["change"])
    def mark_acknowledged(self, request, queryset):
        self._set_status(request, queryset, FeedbackStatus.ACKNOWLEDGED)

    @admin.action(description=_("Mark as planned"), permissions=["change"])
    def mark_planned(self, request, queryset):
        self._set_status(request, queryset, FeedbackStatus.PLANNED)

    @admin.action(description=_("Mark as fixed or done"), permissions=["change"])
    def mark_done(self, request, queryset):
        self._set_status(request, queryset, FeedbackStatus.DONE)

    @admin.action(description=_("Mark as declined"), permissions=["change"])
    def mark_declined(self, request, queryset):
        self._set_status(request, queryset, FeedbackStatus.DECLINED)


class FeedbackReportForm(forms.ModelForm):
    same_as = forms.ModelChoiceField(
        queryset=FeedbackTopic.objects.exclude(status=FeedbackStatus.MERGED),
        required=False,
        label=_("same as"),
        help_text=_("Leave empty: reports with the same wording are grouped automatically."),
    )

    class Meta:
        model = FeedbackReport
        fields = ["player", "kind", "channel", "text", "case"]


class FeedbackReportAdmin(ViewerMixin, PlayerScopedAdminMixin, admin.ModelAdmin):
    form = FeedbackReportForm

    list_display = ["reported", "player", "kind", "channel", "text_display", "topic"]
    list_filter = ["kind", "channel"]
    list_select_related = ["player", "topic"]
    search_fields = ["=player__account_id"]
    autocomplete_fields = ["player"]
    raw_id_fields = ["case"]
    show_full_result_count = False

    def has_change_permission(self, request, obj=None):
        return False

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        topics = self.admin_site._registry[FeedbackTopic].get_queryset(request).exclude(status=FeedbackStatus.MERGED)

        class ScopedFeedbackReportForm(form):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                if "same_as" in self.fields:  # "same as" offers only topics the user may see
                    self.fields["same_as"].queryset = topics

        return ScopedFeedbackReportForm

    @admin.display(description=_("topic"), ordering="topic")
    def topic_masked(self, obj):
        return mask_free_text(str(obj.topic)) if obj.topic_id else "-"

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["player", "kind", "channel", "text", "case", "same_as"]
        return ["player", "kind", "channel", "text_display", "topic", "case", "reported_at", "recorded_by"]

    def get_list_display(self, request):
        columns = [
            masked_text_column("text", _("text"), request.user, length=80) if c == "text_display" else c
            for c in super().get_list_display(request)
        ]
        if is_scoped(request.user):  # a topic's title may be another book's player's words
            columns = ["topic_masked" if c == "topic" else c for c in columns]
        return columns

    @admin.display(description=_("reported at"), ordering="reported_at")
    def reported(self, obj):
        return when(obj.reported_at)

    @admin.display(description=_("text"))
    def text_display(self, obj):
        return free_text_for(_viewer(obj), obj.text)

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        report = feedback_record(
            player=data["player"],
            kind=data["kind"],
            channel=data["channel"],
            text=data["text"],
            case=data.get("case"),
            same_as=data.get("same_as"),
            actor=request.user,
        )
        obj.pk = report.pk


admin.site.register(ContactLog, ContactLogAdmin)
admin.site.register(Case, CaseAdmin)
admin.site.register(SlaPolicy, SlaPolicyAdmin)
admin.site.register(CompensationApprovalRule, CompensationApprovalRuleAdmin)
admin.site.register(CompensationProposal, CompensationProposalAdmin)
admin.site.register(FeedbackTopic, FeedbackTopicAdmin)
admin.site.register(FeedbackReport, FeedbackReportAdmin)
