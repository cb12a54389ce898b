"""The record of every bulk import and export: who, when, which file, what came of it."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class ImportKind(models.TextChoices):
    PLAYERS = "players", _("Player list")
    PAYMENTS = "payments", _("Payment history")


class ImportStatus(models.TextChoices):
    PENDING = "pending", _("Waiting")
    PREVIEWING = "previewing", _("Checking")
    PREVIEWED = "previewed", _("Checked, waiting for confirmation")
    APPLYING = "applying", _("Importing")
    DONE = "done", _("Imported")
    REJECTED = "rejected", _("Rejected: the file has invalid rows")
    FAILED = "failed", _("Failed")


class InvalidRowPolicy(models.TextChoices):
    SKIP = "skip", _("Skip invalid rows, import the others")
    REJECT = "reject", _("Reject the whole file if any row is invalid")


class ImportJob(models.Model):
    """One uploaded file, its preview (dry run) and its application.

    Player lists are applied in chunks, each atomic and counted in `chunks_done`
    within its own transaction, so a crashed import resumes where it stopped;
    with the "reject" policy and for payment history the apply is one transaction.
    """

    kind = models.CharField(_("kind"), max_length=16, choices=ImportKind.choices, default=ImportKind.PLAYERS)
    status = models.CharField(_("status"), max_length=16, choices=ImportStatus.choices, default=ImportStatus.PENDING)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("imported by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    file = models.FileField(_("file"), upload_to="imports/%Y/%m/", max_length=255, blank=True)
    file_name = models.CharField(_("file name"), max_length=255)
    encoding = models.CharField(_("encoding"), max_length=20, blank=True, help_text=_("Empty: detected from the file."))
    detected_encoding = models.CharField(_("detected encoding"), max_length=20, blank=True)
    invalid_rows = models.CharField(
        _("invalid rows"), max_length=8, choices=InvalidRowPolicy.choices, default=InvalidRowPolicy.SKIP
    )
    blank_clears = models.BooleanField(
        _("empty cells clear values"),
        default=False,
        help_text=_("Without this, an empty cell leaves the stored value as it is."),
    )
    source_ref = models.CharField(
        _("source reference"),
        max_length=64,
        blank=True,
        help_text=_("Payment history: where the events come from. Event ids are unique per source reference."),
    )
    columns = models.JSONField(_("columns"), default=dict, blank=True)
    total_rows = models.PositiveIntegerField(_("rows"), default=0)
    processed_rows = models.PositiveIntegerField(_("rows processed"), default=0)
    new_count = models.PositiveIntegerField(_("new"), default=0)
    updated_count = models.PositiveIntegerField(pgettext_lazy("import count", "updated"), default=0)
    unchanged_count = models.PositiveIntegerField(_("unchanged"), default=0)
    invalid_count = models.PositiveIntegerField(_("invalid"), default=0)
    chunks_done = models.PositiveIntegerField(_("chunks applied"), default=0)
    chunk_size = models.PositiveIntegerField(_("rows per chunk"), default=0)
    errors_sample = models.JSONField(_("first errors"), default=list, blank=True)
    error_report = models.FileField(_("error report"), upload_to="imports/reports/%Y/%m/", max_length=255, blank=True)
    message = models.TextField(_("message"), blank=True)
    language = models.CharField(
        _("language"), max_length=16, blank=True, help_text=_("The language its reasons and report are written in.")
    )
    source_path = models.CharField(
        _("file on the server"), max_length=1000, blank=True, help_text=_("A command's import reads the file there.")
    )
    resumable = models.BooleanField(
        _("can be resumed"),
        default=False,
        help_text=_("It stopped on an unexpected error while importing; resuming imports the rest."),
    )

    class Meta:
        verbose_name = _("import")
        verbose_name_plural = _("imports")
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.get_kind_display()} {self.file_name} ({timezone.localtime(self.created_at):%Y-%m-%d %H:%M})"

    @property
    def is_running(self) -> bool:
        return self.status in (ImportStatus.PENDING, ImportStatus.PREVIEWING, ImportStatus.APPLYING)


class ExportFormat(models.TextChoices):
    CSV = "csv", "CSV"
    XLSX = "xlsx", "XLSX"


class ExportRecord(models.Model):
    """Every export of a player list: who, when, which filter, how many rows."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("exported by"), null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("exported at"), auto_now_add=True, db_index=True)
    format = models.CharField(_("format"), max_length=8, choices=ExportFormat.choices)
    filters = models.CharField(_("filter"), max_length=2000, blank=True)
    row_count = models.PositiveIntegerField(_("rows"))
    personal_data = models.BooleanField(_("with personal data"), default=False)

    class Meta:
        verbose_name = _("export")
        verbose_name_plural = _("exports")
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.user} {self.created_at:%Y-%m-%d %H:%M} ({self.row_count})"
