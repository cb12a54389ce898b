"""Campaign admin (segment form, launch, results with chart and CSV) and the manager's
worklist (my tasks today and overdue, one-click outcomes)."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from crm.admin_readonly import ReadOnlyAdminMixin
from crm.calendar import festival_next
from crm.cells import csv_writer
from crm.names import staff_name
from crm.privacy import can_view_personal_data, masked
from crm.sources import source_text
from players.models import CallScript, ContactOutcome
from players.selectors import player_scope_q

from ..models import Campaign, CampaignStatus, OutreachTask, WorklistTask
from ..segments import SEGMENT_CRITERIA, segment_clean, segment_describe, segment_players
from ..services.campaigns import (
    TASK_OUTCOMES,
    campaign_launch,
    campaign_results,
    campaign_save,
    task_outcome_record,
)
from ..task_selectors import (
    WHEN_LATER,
    WHEN_OVERDUE,
    WHEN_TODAY,
    WHENS,
    task_counts,
    task_when,
    tasks_on_my_day,
    tasks_when,
)
from ..templating import TEMPLATE_VARIABLES, template_render

SEGMENT_PREFIX = "segment__"
WORKLIST_PAGE_SIZE = 50


class CampaignForm(forms.ModelForm):
    """The campaign, with one form field per segment criterion (segments.SEGMENT_CRITERIA)."""

    class Meta:
        model = Campaign
        fields = [
            "name",
            "goal",
            "channel",
            "call_script",
            "subject",
            "template",
            "festival",
            "start_date",
            "due_date",
            "priority",
            "holdout_percent",
            "team",
            "owner",
        ]
        widgets = {"template": forms.Textarea(attrs={"rows": 6, "cols": 80})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        launched = self.instance.pk and self.instance.status != CampaignStatus.DRAFT
        current = self.instance.segment or {}
        for criterion in SEGMENT_CRITERIA:
            field = criterion.field()
            field.label = criterion.label
            value = current.get(criterion.key)
            if value is not None:
                field.initial = (
                    ", ".join(value) if isinstance(value, list) and isinstance(field, forms.CharField) else value
                )
            field.disabled = bool(launched)
            self.fields[SEGMENT_PREFIX + criterion.key] = field
        if launched:
            for name in ("channel", "holdout_percent"):
                self.fields[name].disabled = True
        # Optional on the form: left empty, a campaign has the default priority; a festival
        # campaign's dates are the festival's next day.
        self.fields["priority"].required = False
        self.fields["start_date"].required = self.fields["due_date"].required = False
        variables = ", ".join(f"{{{name}}}" for name in TEMPLATE_VARIABLES)
        self.fields["template"].help_text = _(
            "For SMS, e-mail or in-game mail (a phone campaign's script comes from the script library). "
            "Variables: %(variables)s"
        ) % {"variables": variables}
        if "call_script" in self.fields:  # the library's scripts in use, the campaign's own kept
            scripts = CallScript.objects.filter(enabled=True)
            if self.instance.call_script_id:
                scripts = scripts | CallScript.objects.filter(pk=self.instance.call_script_id)
            self.fields["call_script"].queryset = scripts.order_by("category", "name")

    def clean_priority(self):
        value = self.cleaned_data.get("priority")
        return Campaign._meta.get_field("priority").default if value is None else value

    def clean(self):
        cleaned = super().clean()
        festival = cleaned.get("festival")
        if festival and not cleaned.get("start_date") and "start_date" not in self.errors:
            cleaned["start_date"] = self.instance.start_date = festival_next(festival, timezone.localdate())
        if not cleaned.get("start_date") and "start_date" not in self.errors:
            self.add_error("start_date", forms.Field.default_error_messages["required"])
        elif not cleaned.get("due_date") and "due_date" not in self.errors:
            if festival:
                cleaned["due_date"] = self.instance.due_date = cleaned["start_date"]
            else:
                self.add_error("due_date", forms.Field.default_error_messages["required"])
        raw = {key[len(SEGMENT_PREFIX) :]: value for key, value in cleaned.items() if key.startswith(SEGMENT_PREFIX)}
        raw = {k: (str(v) if hasattr(v, "as_tuple") else v) for k, v in raw.items()}
        try:
            self.instance.segment = segment_clean(raw)
        except ValidationError as exc:
            self.add_error(None, exc)
        return cleaned


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    form = CampaignForm
    list_display = [
        "name",
        "goal",
        "channel",
        "status",
        "festival",
        "start_date",
        "due_date",
        "holdout_percent",
        "owner",
        "links",
    ]
    list_filter = ["status", "goal", "channel"]
    list_select_related = ["owner"]
    search_fields = ["name"]
    filter_horizontal = ["team"]
    readonly_fields = ["status", "launched_at", "launched_by", "segment_summary"]
    show_full_result_count = False
    fieldsets = [
        (None, {"fields": ["name", "goal", "owner", "status", "launched_at", "launched_by"]}),
        (
            _("How"),
            {
                "fields": [
                    "channel",
                    "call_script",
                    "subject",
                    "template",
                    "festival",
                    "start_date",
                    "due_date",
                    "priority",
                ]
            },
        ),
        (_("Who"), {"fields": ["segment_summary", "holdout_percent", "team"]}),
    ]

    def get_fieldsets(self, request, obj=None):
        fieldsets = [list(fs) for fs in super().get_fieldsets(request, obj)]
        segment_fields = [SEGMENT_PREFIX + c.key for c in SEGMENT_CRITERIA]
        return [*fieldsets, (_("Segment"), {"fields": segment_fields})]

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["fields"] = CampaignForm.Meta.fields
        return super().get_form(request, obj, change=change, **kwargs)

    def save_model(self, request, obj, form, change):
        try:
            campaign_save(campaign=obj, actor=request.user)
        except ValidationError as exc:  # pragma: no cover - the form validated the same
            raise PermissionDenied(" ".join(exc.messages))

    @admin.display(description=_("segment"))
    def segment_summary(self, obj):
        if not obj or not obj.pk:
            return "-"
        described = "; ".join(f"{label}: {value}" for label, value in segment_describe(obj.segment)) or _(
            "every player"
        )
        if obj.status == CampaignStatus.DRAFT:
            count = segment_players(obj.segment).count()
            return format_html("{} — {}", described, _("%(count)s players now") % {"count": f"{count:,}"})
        return described

    @admin.display(description=_("actions"))
    def links(self, obj):
        if obj.status == CampaignStatus.DRAFT:
            return format_html(
                '<a href="{}">{}</a>', reverse("admin:campaigns_campaign_change", args=[obj.pk]), _("edit")
            )
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:campaigns_campaign_results", args=[obj.pk]), _("results")
        )

    def get_urls(self):
        return [
            path("<int:pk>/launch/", self.admin_site.admin_view(self.launch_view), name="campaigns_campaign_launch"),
            path("<int:pk>/results/", self.admin_site.admin_view(self.results_view), name="campaigns_campaign_results"),
            path(
                "<int:pk>/results.csv",
                self.admin_site.admin_view(self.results_csv_view),
                name="campaigns_campaign_results_csv",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        campaign = self.get_object(request, object_id)
        if campaign:
            extra_context["campaign"] = campaign
            extra_context["can_launch"] = request.user.has_perm("campaigns.launch_campaign")
        return super().change_view(request, object_id, form_url, extra_context)

    def launch_view(self, request, pk):
        if request.method != "POST":
            return HttpResponseRedirect(reverse("admin:campaigns_campaign_change", args=[pk]))
        if not request.user.has_perm("campaigns.launch_campaign"):
            raise PermissionDenied
        campaign = get_object_or_404(Campaign, pk=pk)
        try:
            counts = campaign_launch(campaign=campaign, actor=request.user)
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
            return HttpResponseRedirect(reverse("admin:campaigns_campaign_change", args=[pk]))
        self.message_user(
            request,
            _("Launched: %(targets)s players, %(holdout)s held out, %(created)s tasks or messages created.")
            % {k: f"{v:,}" for k, v in counts.items()},
        )
        return HttpResponseRedirect(reverse("admin:campaigns_campaign_results", args=[pk]))

    def _results(self, request, pk):
        if not (
            request.user.has_perm("campaigns.view_campaign_results") or request.user.has_perm("campaigns.view_campaign")
        ):
            raise PermissionDenied
        campaign = get_object_or_404(Campaign, pk=pk)
        return campaign, campaign_results(campaign=campaign)

    def results_view(self, request, pk):
        campaign, results = self._results(request, pk)
        measures = ["contacted", "reached", "returned", "paid"]
        labels = [str(_("contacted")), str(_("reached")), str(_("returned")), str(_("paid"))]

        def rates(group):
            return [round(100 * (group.rate(m) or 0), 1) for m in measures]

        chart = {
            "labels": labels,
            "datasets": [
                {"label": str(_("treated")), "data": rates(results.treated)},
                {"label": str(_("holdout")), "data": rates(results.holdout)},
            ],
        }
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Results: %(name)s") % {"name": campaign.name},
            "campaign": campaign,
            "results": results,
            "rows": results.rows(),
            "chart": chart,
            "segment": segment_describe(campaign.segment),
        }
        return TemplateResponse(request, "admin/campaigns/campaign/results.html", context)

    def results_csv_view(self, request, pk):
        campaign, results = self._results(request, pk)
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="campaign-{campaign.pk}-results.csv"'
        response.write("\ufeff")  # so that Excel reads UTF-8
        writer = csv_writer(response)
        for row in results.rows():
            writer.writerow([str(cell) for cell in row])
        writer.writerow([])
        writer.writerow(
            [_("measure"), _("treated rate %"), _("holdout rate %"), _("difference (points)"), "z", "p", _("verdict")]
        )
        for uplift in results.uplifts:
            writer.writerow(
                [
                    uplift.measure,
                    "" if uplift.treated_rate is None else f"{uplift.treated_rate * 100:.2f}",
                    "" if uplift.holdout_rate is None else f"{uplift.holdout_rate * 100:.2f}",
                    "" if uplift.difference is None else f"{uplift.difference:.2f}",
                    "" if uplift.z is None else f"{uplift.z:.4f}",
                    "" if uplift.p_value is None else f"{uplift.p_value:.5f}",
                    uplift.verdict,
                ]
            )
        return response


class OutcomeForm(forms.Form):
    outcome = forms.ChoiceField(choices=[(o.value, o.label) for o in TASK_OUTCOMES])
    note = forms.CharField(required=False, max_length=2000)


@admin.register(WorklistTask)
class WorklistAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """My open tasks that have started (task_selectors.tasks_on_my_day) in sections overdue,
    due today and later, each with one-click outcomes and a note."""

    # The title as the reader reads it (a title the CRM wrote is a code), the source in words.
    exclude = ["source", "title", "title_code", "title_params", "status_reason"]
    readonly_fields = ["title_display", "source_display"]

    @admin.display(description=_("title"))
    def title_display(self, obj):
        return obj.title_text

    @admin.display(description=_("source"))
    def source_display(self, obj):
        return source_text(obj.source)

    def get_fields(self, request, obj=None):
        fields = [f for f in super().get_fields(request, obj) if f != "title_display"]
        return ["title_display", *fields]

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("campaigns.view_outreachtask")

    def get_queryset(self, request):
        return super().get_queryset(request).filter(player_scope_q(request.user, "player"))

    def get_urls(self):
        return [
            path(
                "<int:pk>/outcome/",
                self.admin_site.admin_view(self.outcome_view),
                name="campaigns_worklisttask_outcome",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_permission(request):
            raise PermissionDenied
        today = timezone.localdate()
        mine = tasks_on_my_day(user=request.user, today=today).filter(player_scope_q(request.user, "player"))
        counts = task_counts(mine, today=today)
        when = request.GET.get("when")
        shown = tasks_when(mine, when=when, today=today) if when in WHENS else mine
        paginator = Paginator(
            shown.select_related("player", "player__tier", "player__manager", "campaign__call_script"),
            WORKLIST_PAGE_SIZE,
        )
        paginator.count = {WHEN_OVERDUE: counts.overdue, WHEN_TODAY: counts.today, WHEN_LATER: counts.later}.get(
            when, counts.total
        )  # counted already
        page = paginator.get_page(request.GET.get("p"))
        show_personal = can_view_personal_data(request.user)
        section_titles = {
            WHEN_OVERDUE: pgettext_lazy("tasks", "Overdue"),
            WHEN_TODAY: pgettext_lazy("tasks", "Due today"),
            WHEN_LATER: pgettext_lazy("tasks", "Later"),
        }
        sections = []
        for task in page.object_list:
            script = task.script
            if not script and task.campaign_id and task.campaign.call_script_id:
                # a campaign's call: its script from the library, filled in for the player and me
                text = task.campaign.call_script.text()
                try:
                    script = template_render(text, player=task.player, extra={"me": staff_name(request.user)})
                except ValidationError:
                    script = text
            phone = task.player.phone
            key = task_when(task, today)
            if not sections or sections[-1]["key"] != key:
                sections.append({"key": key, "title": section_titles[key], "rows": []})
            sections[-1]["rows"].append(
                {
                    "task": task,
                    "overdue": key == WHEN_OVERDUE,
                    "script": script,
                    "phone": (str(phone) if show_personal else masked("phone", phone)) if phone else "",
                }
            )
        filters = [
            (None, _("All open"), counts.total),
            (WHEN_OVERDUE, section_titles[WHEN_OVERDUE], counts.overdue),
            (WHEN_TODAY, section_titles[WHEN_TODAY], counts.today),
            (WHEN_LATER, section_titles[WHEN_LATER], counts.later),
        ]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("My worklist"),
            "sections": sections,
            "page": page,
            "when": when if when in WHENS else None,
            "filters": filters,
            "counts": counts,
            "today": today,
            "outcomes": [(o.value, o.label) for o in TASK_OUTCOMES],
            "can_record": request.user.has_perm("campaigns.record_outcome"),
        }
        return TemplateResponse(request, "admin/campaigns/worklist.html", context)

    def outcome_view(self, request, pk):
        if request.method != "POST":
            return HttpResponseRedirect(reverse("admin:campaigns_worklisttask_changelist"))
        if not request.user.has_perm("campaigns.record_outcome"):
            raise PermissionDenied
        task = get_object_or_404(OutreachTask.objects.filter(player_scope_q(request.user, "player")), pk=pk)
        if task.assignee_id != request.user.pk and not request.user.has_perm("players.view_all_players"):
            raise PermissionDenied
        form = OutcomeForm(request.POST)
        if not form.is_valid():
            self.message_user(request, _("Choose one of the listed outcomes."), messages.ERROR)
        else:
            try:
                task_outcome_record(
                    task=task, outcome=form.cleaned_data["outcome"], note=form.cleaned_data["note"], actor=request.user
                )
                label = ContactOutcome(form.cleaned_data["outcome"]).label
                self.message_user(request, _("%(player)s: %(outcome)s.") % {"player": task.player, "outcome": label})
            except ValidationError as exc:
                self.message_user(request, " ".join(exc.messages), messages.ERROR)
        back = request.POST.get("next", "")
        if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
            back = reverse("admin:campaigns_worklisttask_changelist")
        return HttpResponseRedirect(back)


__all__ = ["CampaignAdmin", "WorklistAdmin"]
