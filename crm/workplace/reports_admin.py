"""The daily work report on the cases' list (/admin/players/case/report/): the workplace
extends players' CaseAdmin with it (players <- workplace: the lower app's admin is extended,
as vip extends the player list), since the report counts campaigns' outreach tasks too.
Installed by CrmConfig.ready, after the apps' admins are registered."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from crm.cells import csv_writer
from crm.widgets import DatePicker
from players.admin.service_records import CaseAdmin
from players.models import Case

from .reports import report_users_for, service_work_report


class ReportForm(forms.Form):
    start = forms.DateField(label=pgettext_lazy("report period", "from"), widget=DatePicker())
    end = forms.DateField(label=pgettext_lazy("report period", "to"), widget=DatePicker())
    by_day = forms.BooleanField(label=_("one row per day"), required=False)

    MAX_DAYS = 366

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end:
            if end < start:
                self.add_error("end", _("The end comes before the start."))
            elif (end - start).days >= self.MAX_DAYS:
                self.add_error("end", _("At most a year at a time."))
        return data


admin.site.unregister(Case)


@admin.register(Case)
class WorkReportCaseAdmin(CaseAdmin):
    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [path("report/", wrap(self.report_view), name="players_case_report"), *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "report_url": reverse("admin:players_case_report")}
        return super().changelist_view(request, extra_context)

    def report_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        today = timezone.localdate()
        form = ReportForm(request.GET or {"start": today, "end": today})
        report = None
        if form.is_valid():
            report = service_work_report(
                start=form.cleaned_data["start"],
                end=form.cleaned_data["end"],
                users=report_users_for(request.user),
                by_day=form.cleaned_data["by_day"],
            )
            if request.GET.get("format") == "csv":
                return report_csv(report)
        query = request.GET.copy()
        query["format"] = "csv"
        context = {
            **self.admin_site.each_context(request),
            "title": _("Daily work report"),
            "opts": self.model._meta,
            "form": form,
            "report": report,
            "csv_query": query.urlencode(),
            "team": report_users_for(request.user) is None,
            "columns": REPORT_COLUMNS,
        }
        return render(request, "admin/players/case/report.html", context)


REPORT_COLUMNS = [
    _("day"),
    _("staff"),
    _("contacts"),
    _("contacts reached"),
    _("cases opened"),
    _("cases resolved"),
    _("SLA met %"),
    _("average satisfaction"),
    _("outreach done"),
]


def report_csv(report) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="work-report-{report.start}-{report.end}.csv"'
    response.write("\ufeff")  # Excel reads UTF-8 with a BOM
    writer = csv_writer(response)
    writer.writerow([str(c) for c in REPORT_COLUMNS] + [str(label) for _value, label in report.outcomes])
    for row in [*report.rows, report.total]:
        writer.writerow(
            [
                row.day.isoformat() if row.day else "",
                row.name if row is not report.total else str(_("team")),
                row.contacts,
                row.contacts_reached,
                row.cases_opened,
                row.cases_resolved,
                "" if row.sla_met_pct is None else row.sla_met_pct,
                "" if row.satisfaction_avg is None else row.satisfaction_avg,
                row.outreach_done,
                *[row.outreach.get(value, 0) for value, _label in report.outcomes],
            ]
        )
    return response
