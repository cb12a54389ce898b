"""The weekly and monthly work reports by e-mail to the supervisors (the team's figures of
the last complete week or month), through Django's mail backend. Run by the beat schedule
(crm.tasks.work_report_mail_task: Mondays and the 1st at 08:00 in TIME_ZONE) and by
`manage.py send_work_reports`."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from crm.cells import csv_writer

from .reports import TEAM_REPORT_PERMISSION, period_last_complete, service_work_report

SUBJECTS = {
    "week": gettext_noop("Weekly work report %(start)s – %(end)s"),
    "month": gettext_noop("Monthly work report %(start)s – %(end)s"),
}


@dataclass
class ReportMail:
    period: str
    start: date
    end: date
    recipients: list[str]


def report_recipients() -> list[str]:
    """Active staff who see the whole team's report (supervisors), with an e-mail address."""
    users = get_user_model().objects.with_perm(
        TEAM_REPORT_PERMISSION, include_superusers=False, backend="django.contrib.auth.backends.ModelBackend"
    )
    return sorted(set(users.filter(is_active=True).exclude(email="").values_list("email", flat=True)))


def work_report_mail(*, period: str, today: date | None = None, dry_run: bool = False) -> ReportMail:
    """Send the team's report of the last complete `period` ("week" or "month") before
    `today`: the table in the body, CSV and XLSX attached, in LANGUAGE_CODE."""
    from .reports_admin import report_table, report_xlsx_file

    if period not in SUBJECTS:
        raise ValueError(period)
    start, end = period_last_complete(period, today or timezone.localdate())
    recipients = report_recipients()
    result = ReportMail(period=period, start=start, end=end, recipients=recipients)
    if dry_run or not recipients:
        return result
    with translation.override(settings.LANGUAGE_CODE):
        report = service_work_report(start=start, end=end)
        header, rows = report_table(report)
        subject = _(SUBJECTS[period]) % {"start": start.isoformat(), "end": end.isoformat()}
        link = settings.CRM_SITE_URL.rstrip("/") + reverse("admin:players_case_report_period", args=[period])
        link += f"?day={start.isoformat()}"
        # the body's table leaves out the day column (the whole period is one row per person)
        lines = [" | ".join(header[1:]), *(" | ".join(str(cell) for cell in row[1:]) for row in rows)]
        body = "\n".join([subject, "", *lines, "", _("The report with its chart: %(link)s") % {"link": link}])
        message = EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, to=recipients)
        text = io.StringIO()
        text.write("\ufeff")  # Excel reads UTF-8 with a BOM
        writer = csv_writer(text)
        for line in [header, *rows]:
            writer.writerow(line)
        message.attach(f"work-report-{start}-{end}.csv", text.getvalue(), "text/csv")
        handle = report_xlsx_file(report)
        message.attach(
            f"work-report-{start}-{end}.xlsx",
            handle.read(),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
        handle.close()
    message.send()
    return result
