"""Admin for bulk imports (upload -> preview -> confirm -> result, in the background)
and exports (from the player changelist's current filter), and their records."""

import io

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import FieldDoesNotExist, PermissionDenied, ValidationError
from django.http import FileResponse, HttpResponse, HttpResponseRedirect, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from crm.admin_readonly import ReadOnlyAdminMixin
from crm.cells import cells_neutralise, csv_writer

from ..models import (
    ExportFormat,
    ExportRecord,
    ImportJob,
    ImportKind,
    ImportStatus,
    InvalidRowPolicy,
    Payment,
    Player,
)
from ..services.exports import export_record_create, players_export_csv, players_export_xlsx
from ..services.imports import import_job_create, import_job_progress
from ..tabular import (
    ENCODING_CHOICES,
    PAYMENT_TEMPLATE_FIELDS,
    PAYMENT_TEMPLATE_ZH,
    PLAYER_TEMPLATE_EXAMPLE,
    PLAYER_TEMPLATE_FIELDS,
    PLAYER_TEMPLATE_ZH,
    ImportFileError,
    file_format,
)
from ..tasks import import_job_start

IMPORT_PERMISSION = "players.import_players"
MAX_UPLOAD_BYTES = 200 * 1024 * 1024


class ImportUploadForm(forms.Form):
    kind = forms.ChoiceField(label=_("what the file holds"), choices=ImportKind.choices, initial=ImportKind.PLAYERS)
    file = forms.FileField(label=_("file"), help_text=_("CSV (UTF-8 or GBK) or XLSX, up to 200 MB."))
    encoding = forms.ChoiceField(
        label=_("encoding"),
        choices=[(value, label if value else _("detect")) for value, label in ENCODING_CHOICES],
        required=False,
        help_text=_("CSV only. Chinese Excel saves CSV as GBK; leave it on 'detect' unless the preview looks wrong."),
    )
    invalid_rows = forms.ChoiceField(
        label=_("invalid rows"),
        choices=InvalidRowPolicy.choices,
        initial=InvalidRowPolicy.SKIP,
        widget=forms.RadioSelect,
    )
    blank_clears = forms.BooleanField(
        label=_("empty cells clear stored values"),
        required=False,
        help_text=_("Without this, an empty cell leaves the stored value as it is."),
    )
    source_ref = forms.CharField(
        label=_("source reference"),
        required=False,
        max_length=64,
        help_text=_("Payment history only: where the events come from (event ids are unique per source)."),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        try:
            file_format(upload.name)
        except ImportFileError as exc:
            raise ValidationError(str(exc)) from None
        if upload.size > MAX_UPLOAD_BYTES:
            raise ValidationError(_("The file is larger than 200 MB: use the import_players command."))
        return upload


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "file_name",
        "created_by",
        "status",
        "total_rows",
        "new_count",
        "updated_count",
        "unchanged_count",
        "invalid_count",
        "report_link",
    ]
    list_filter = ["kind", "status"]
    list_select_related = ["created_by"]
    search_fields = ["file_name", "created_by__username"]
    date_hierarchy = "created_at"
    show_full_result_count = False

    def has_add_permission(self, request):
        return request.user.has_perm(IMPORT_PERMISSION)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) or request.user.has_perm(IMPORT_PERMISSION)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "template/<str:kind>/<str:language>.<str:fmt>", view(self.template_view), name="players_import_template"
            ),
            path("<int:pk>/apply/", view(self.apply_view), name="players_importjob_apply"),
            path("<int:pk>/progress/", view(self.progress_view), name="players_importjob_progress"),
            path("<int:pk>/report/", view(self.report_view), name="players_importjob_report"),
            *super().get_urls(),
        ]

    # --- upload ---------------------------------------------------------------------
    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = ImportUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            job = import_job_create(
                kind=data["kind"],
                upload=data["file"],
                actor=request.user,
                encoding=data["encoding"],
                invalid_rows=data["invalid_rows"],
                blank_clears=data["blank_clears"],
                source_ref=data["source_ref"],
            )
            import_job_start(job=job, step="preview")
            return HttpResponseRedirect(reverse("admin:players_importjob_change", args=[job.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": _("Import players or payment history"),
            "form": form,
            "opts": self.model._meta,
            "templates": [
                (kind, label, language, fmt)
                for kind, label in ((ImportKind.PLAYERS, _("player list")), (ImportKind.PAYMENTS, _("payment history")))
                for language in ("en", "zh")
                for fmt in ("csv", "xlsx")
            ],
        }
        return TemplateResponse(request, "admin/players/importjob/upload.html", context)

    # --- preview and result -------------------------------------------------------
    def change_view(self, request, object_id, form_url="", extra_context=None):
        job = get_object_or_404(ImportJob.objects.select_related("created_by"), pk=object_id)
        if not self.has_view_permission(request, job):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "title": str(job),
            "job": job,
            "opts": self.model._meta,
            "progress": import_job_progress(job),
            "can_apply": (
                job.status == ImportStatus.PREVIEWED
                and request.user.has_perm(IMPORT_PERMISSION)
                and not (job.invalid_rows == InvalidRowPolicy.REJECT and job.invalid_count)
            ),
            "can_resume": (
                job.status == ImportStatus.FAILED and job.resumable and request.user.has_perm(IMPORT_PERMISSION)
            ),
            "rejects_whole_file": job.invalid_rows == InvalidRowPolicy.REJECT and job.invalid_count,
            "columns_read": _columns_read(job),
            "encoding": ENCODING_LABELS.get(job.detected_encoding, job.detected_encoding.upper()),
        }
        return TemplateResponse(request, "admin/players/importjob/detail.html", context)

    @staticmethod
    def _job(request, pk):
        if not request.user.has_perm(IMPORT_PERMISSION):
            raise PermissionDenied
        return get_object_or_404(ImportJob, pk=pk)

    def apply_view(self, request, pk):
        job = self._job(request, pk)
        if request.method != "POST":
            return HttpResponseRedirect(reverse("admin:players_importjob_change", args=[pk]))
        return _apply(self, request, job)

    def progress_view(self, request, pk):
        job = get_object_or_404(ImportJob, pk=pk)
        if not self.has_view_permission(request, job):
            raise PermissionDenied
        return JsonResponse({"status": job.status, "processed": import_job_progress(job), "total": job.total_rows})

    def report_view(self, request, pk):
        job = get_object_or_404(ImportJob, pk=pk)
        if not self.has_view_permission(request, job) or not job.error_report:
            raise PermissionDenied
        return FileResponse(job.error_report.open("rb"), as_attachment=True, filename=f"import-{job.pk}-report.csv")

    def template_view(self, request, kind, language, fmt):
        if kind not in ImportKind.values or language not in ("en", "zh") or fmt not in ("csv", "xlsx"):
            raise PermissionDenied
        fields = PLAYER_TEMPLATE_FIELDS if kind == ImportKind.PLAYERS else PAYMENT_TEMPLATE_FIELDS
        names = PLAYER_TEMPLATE_ZH if kind == ImportKind.PLAYERS else PAYMENT_TEMPLATE_ZH
        headers = [names[f] if language == "zh" else f for f in fields]
        example = (
            PLAYER_TEMPLATE_EXAMPLE
            if kind == ImportKind.PLAYERS
            else [
                "10086",
                "ord-20261122-000123",
                "purchase",
                "648.00",
                "CNY",
                "2026-11-22T20:15:00+08:00",
                "s1",
                "",
                "月卡",
                "",
            ]
        )
        filename = f"{kind}-template-{language}.{fmt}"
        if fmt == "csv":
            buffer = io.StringIO()
            writer = csv_writer(buffer)
            writer.writerow(headers)
            writer.writerow(example)
            response = HttpResponse(
                ("\ufeff" + buffer.getvalue()).encode("utf-8"), content_type="text/csv; charset=utf-8"
            )
        else:
            from openpyxl import Workbook

            book = Workbook()
            book.active.append(cells_neutralise(headers))
            book.active.append(cells_neutralise(example))
            buffer = io.BytesIO()
            book.save(buffer)
            response = HttpResponse(
                buffer.getvalue(), content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            )
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

    @admin.display(description=_("error report"))
    def report_link(self, obj):
        if not obj.error_report:
            return "-"
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:players_importjob_report", args=[obj.pk]), _("download")
        )


ENCODING_LABELS = {"gb18030": "GBK / GB18030", "utf-8": "UTF-8", "utf-8-sig": "UTF-8 (BOM)", "utf-16": "UTF-16"}


def _columns_read(job) -> list[str]:
    """Each column read, as the file heads it and, where that differs, the field it fills
    in the reader's language (账号, or "account → 账号"), never a field's code."""
    model = Player if job.kind == ImportKind.PLAYERS else Payment
    read = []
    for name, label in (job.columns or {}).get("used", {}).items():
        try:
            field = str(model._meta.get_field(name).verbose_name)
        except FieldDoesNotExist:
            field = name
        read.append(label if label.lower() == field.lower() else f"{label} → {field}")
    return read


def _apply(model_admin, request, job):
    """Confirm a previewed file, or resume one an error stopped: one task per click
    (a second click finds the job no longer waiting)."""
    waiting = ImportJob.objects.filter(pk=job.pk)
    if job.invalid_rows == InvalidRowPolicy.REJECT and job.invalid_count and not job.resumable:
        waiting = waiting.none()
    started = waiting.filter(status=ImportStatus.PREVIEWED).update(status=ImportStatus.APPLYING) or waiting.filter(
        status=ImportStatus.FAILED, resumable=True
    ).update(status=ImportStatus.APPLYING)
    if not started:
        model_admin.message_user(request, _("This import cannot be applied."), messages.ERROR)
    else:
        import_job_start(job=job, step="apply")
        job.refresh_from_db()  # without a broker the task has already run
        if job.is_running:
            model_admin.message_user(request, _("The import is running; this page shows its progress."), messages.INFO)
    return HttpResponseRedirect(reverse("admin:players_importjob_change", args=[job.pk]))


@admin.register(ExportRecord)
class ExportRecordAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Who exported which players, when: readable by supervisors, written only by exports."""

    list_display = ["created_at", "user", "format", "row_count", "personal_data", "filters"]
    list_filter = ["format", "personal_data"]
    list_select_related = ["user"]
    search_fields = ["user__username", "filters"]
    date_hierarchy = "created_at"
    show_full_result_count = False


def changelist_filters_text(changelist) -> str:
    """The filters and search of a changelist as the person chose them, in their language:
    "VIP 等级: V3; 付费状态: 有流失风险; 搜索: 1234" (what an export record shows)."""
    parts, used = [], set()
    for spec in changelist.filter_specs:
        if not spec.used_parameters:
            continue
        used.update(spec.used_parameters)
        chosen = [str(choice["display"]) for choice in spec.choices(changelist) if choice.get("selected")]
        parts.append(f"{spec.title}: {', '.join(chosen)}")
    # a lookup typed into the address bar (no filter in the sidebar for it): as it was given
    parts += [f"{key}: {value}" for key, value in changelist.get_filters_params().items() if key not in used]
    if changelist.query:
        parts.append(f"{_('search')}: {changelist.query}")
    return "; ".join(parts)


class PlayerExportMixin:
    """For PlayerAdmin: export exactly the rows the changelist shows (its filters,
    search and row scoping), as CSV (streamed) or XLSX; buttons on the changelist."""

    change_list_template = "admin/players/player/change_list.html"

    def get_urls(self):
        return [
            path("export/", self.admin_site.admin_view(self.export_view), name="players_player_export"),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_export": request.user.has_perm("players.export_players"),
            "can_import": request.user.has_perm(IMPORT_PERMISSION),
        }
        return super().changelist_view(request, extra_context)

    def export_view(self, request):
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        fmt = request.GET.get("_format", ExportFormat.CSV)
        if fmt not in ExportFormat.values:
            fmt = ExportFormat.CSV
        query = request.GET.copy()
        query.pop("_format", None)
        request.GET = query
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters:  # as the list itself: back to it, flagged
            return HttpResponseRedirect(reverse("admin:players_player_changelist") + "?e=1")
        queryset = changelist.get_queryset(request)
        try:
            record, personal = export_record_create(
                user=request.user, queryset=queryset, fmt=fmt, filters=changelist_filters_text(changelist)
            )
        except PermissionDenied as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return HttpResponseRedirect(reverse("admin:players_player_changelist") + "?" + query.urlencode())
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        if fmt == ExportFormat.CSV:
            response = StreamingHttpResponse(
                players_export_csv(queryset, personal=personal), content_type="text/csv; charset=utf-8"
            )
            response["Content-Disposition"] = f'attachment; filename="players-{stamp}.csv"'
            return response
        return FileResponse(
            players_export_xlsx(queryset, personal=personal),
            as_attachment=True,
            filename=f"players-{stamp}.xlsx",
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
