"""The work reports on the cases' list: daily (/admin/players/case/report/), weekly and
monthly (report/week/, report/month/, with a chart), CSV and XLSX. The workplace
extends players' CaseAdmin with it (players <- workplace: the lower app's admin is extended,
as vip extends the player list), since the report counts campaigns' outreach tasks too.
Installed by CrmConfig.ready, after the apps' admins are registered."""

from __future__ import annotations

import tempfile
from datetime import timedelta

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from crm.cells import cells_neutralise, csv_writer
from crm.widgets import DatePicker
from players.admin.service_records import CaseAdmin
from players.models import Case

from .reports import PERIODS, period_range, period_report, report_users_for, service_work_report


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


class PeriodForm(forms.Form):
    day = forms.DateField(label=_("a day in the period"), widget=DatePicker())


admin.site.unregister(Case)


@admin.register(Case)
class WorkReportCaseAdmin(CaseAdmin):
    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("report/", wrap(self.report_view), name="players_case_report"),
            path("report/<str:period>/", wrap(self.period_report_view), name="players_case_report_period"),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "report_url": reverse("admin:players_case_report"),
            "week_report_url": reverse("admin:players_case_report_period", args=["week"]),
            "month_report_url": reverse("admin:players_case_report_period", args=["month"]),
        }
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
            if request.GET.get("format") in REPORT_FORMATS:
                return report_download(report, request.GET["format"])
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

    def period_report_view(self, request, period):
        """The weekly or monthly report (周报、月报): the period holding the chosen day, per
        person and for the team, with a chart and downloads; a manager sees their own row."""
        if period not in PERIODS:
            raise Http404
        if not self.has_view_permission(request):
            raise PermissionDenied
        today = timezone.localdate()
        form = PeriodForm(request.GET or {"day": today})
        report = None
        users = report_users_for(request.user)
        if form.is_valid():
            report = period_report(period=period, day=form.cleaned_data["day"], users=users)
            if request.GET.get("format") in REPORT_FORMATS:
                return report_download(report, request.GET["format"])
        day = form.cleaned_data["day"] if form.is_valid() else today
        start, end = period_range(period, day)
        context = {
            **self.admin_site.each_context(request),
            "title": PERIOD_TITLES[period],
            "opts": self.model._meta,
            "form": form,
            "report": report,
            "period": period,
            "team": users is None,
            "columns": REPORT_COLUMNS[1:],
            "previous_day": start - timedelta(days=1),
            "next_day": end + timedelta(days=1),
            "chart": report_chart(report) if report else None,
            "day": day,
        }
        return render(request, "admin/players/case/period_report.html", context)


PERIOD_TITLES = {"week": _("Weekly work report"), "month": _("Monthly work report")}

REPORT_COLUMNS = [
    _("day"),
    _("staff"),
    _("contacts"),
    _("contacts reached"),
    _("cases opened"),
    _("cases resolved"),
    _("SLA met %"),
    _("average satisfaction"),
    _("surveys answered"),
    _("survey score"),
    _("low scores"),
    _("outreach done"),
]
GIFT_COLUMNS = [_("gifts given"), _("gift value")]
REPORT_FORMATS = ("csv", "xlsx")


def report_table(report) -> tuple[list[str], list[list]]:
    """The report as a header and rows (the team's total last), for CSV, XLSX and e-mail."""
    header = [str(c) for c in REPORT_COLUMNS]
    header += [str(label) for _value, label in report.outcomes] + [str(c) for c in GIFT_COLUMNS]
    rows = []
    for row in [*report.rows, report.total]:
        rows.append(
            [
                row.day.isoformat() if row.day else "",
                row.name if row is not report.total else str(_("team")),
                row.contacts,
                row.contacts_reached,
                row.cases_opened,
                row.cases_resolved,
                "" if row.sla_met_pct is None else row.sla_met_pct,
                "" if row.satisfaction_avg is None else row.satisfaction_avg,
                row.surveys_answered,
                "" if row.survey_avg is None else row.survey_avg,
                row.surveys_low,
                row.outreach_done,
                *[row.outreach.get(value, 0) for value, _label in report.outcomes],
                row.gifts,
                row.gifts_value,
            ]
        )
    return header, rows


def report_csv(report) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="work-report-{report.start}-{report.end}.csv"'
    response.write("\ufeff")  # Excel reads UTF-8 with a BOM
    writer = csv_writer(response)
    header, rows = report_table(report)
    writer.writerow(header)
    for row in rows:
        writer.writerow(row)
    return response


def report_xlsx_file(report):
    """The report as an XLSX workbook in a temporary file (opened at its start)."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet(str(_("Work report"))[:31])
    header, rows = report_table(report)
    sheet.append(header)
    for row in rows:
        sheet.append(cells_neutralise(row))  # a staff name that looks like a formula stays text
    handle = tempfile.TemporaryFile()  # noqa: SIM115 (FileResponse closes it)
    book.save(handle)
    handle.seek(0)
    return handle


def report_download(report, fmt: str):
    if fmt == "xlsx":
        return FileResponse(
            report_xlsx_file(report),
            as_attachment=True,
            filename=f"work-report-{report.start}-{report.end}.xlsx",
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    return report_csv(report)


def report_chart(report) -> dict:
    """What the chart shows: per person, contacts, cases resolved, outreach done and gifts."""
    people = [row for row in report.rows if row.user_id is not None]
    return {
        "labels": [row.name for row in people],
        "series": [
            {"label": str(_("contacts")), "data": [row.contacts for row in people], "colour": "#417690"},
            {"label": str(_("cases resolved")), "data": [row.cases_resolved for row in people], "colour": "#2e7d32"},
            {"label": str(_("outreach done")), "data": [row.outreach_done for row in people], "colour": "#ef6c00"},
            {"label": str(_("gifts given")), "data": [row.gifts for row in people], "colour": "#8e24aa"},
        ],
    }
