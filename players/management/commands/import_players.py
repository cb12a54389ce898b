"""python manage.py import_players FILE [--dry-run] [--encoding gbk] [--payments] ...
python manage.py import_players --resume JOB"""

import time
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from players.models import ImportJob, ImportKind, InvalidRowPolicy
from players.services.imports import CHUNK_SIZE, import_file_command, import_job_resume
from players.tabular import ImportFileError


def _count_lines(path: Path) -> int | None:
    if path.suffix.lower() not in (".csv", ".txt", ".tsv"):
        return None
    lines = 0
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            lines += block.count(b"\n")
    return max(lines - 1, 0)


class Command(BaseCommand):
    help = (
        "Import a player list (or with --payments a payment history) from CSV or XLSX, streaming any size "
        "in constant memory. The per-row report is written next to the file as FILE.report.csv."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path, nargs="?")
        parser.add_argument(
            "--resume",
            type=int,
            metavar="JOB",
            help="Finish import #JOB, stopped by an error or a killed process, after its last saved chunk.",
        )
        parser.add_argument("--dry-run", action="store_true", help="Check and count only; write nothing.")
        parser.add_argument("--encoding", default="", help="CSV encoding: utf-8 or gbk/gb18030 (default: detect).")
        parser.add_argument("--payments", action="store_true", help="The file is a payment history.")
        parser.add_argument(
            "--reject-invalid", action="store_true", help="Import nothing if any row is invalid (default: skip them)."
        )
        parser.add_argument("--blank-clears", action="store_true", help="Empty cells clear stored values.")
        parser.add_argument("--source-ref", default="", help="Payment history: where the events come from.")
        parser.add_argument("--user", default="", help="Username recorded as the importer.")
        parser.add_argument("--report", type=Path, help="Where to write the report (default: FILE.report.csv).")
        parser.add_argument("--chunk-size", type=int, default=CHUNK_SIZE)
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, file: Path | None, **options):
        if options["resume"]:
            return self.resume(options["resume"], options)
        if file is None:
            raise CommandError("Name the FILE to import, or --resume JOB.")
        if not file.is_file():
            raise CommandError(f"No such file: {file}")
        actor = None
        if options["user"]:
            actor = get_user_model().objects.filter(username=options["user"]).first()
            if actor is None:
                raise CommandError(f"No user {options['user']!r}.")
        report = options["report"] or file.with_name(file.name + ".report.csv")
        bar = tqdm(
            total=_count_lines(file),
            unit=" rows",
            unit_scale=True,
            disable=options["no_progress"],
            file=self.stderr._out,
        )

        def progress(processed: int) -> None:
            bar.update(processed - bar.n)

        started = time.perf_counter()
        try:
            job, run = import_file_command(
                path=file,
                kind=ImportKind.PAYMENTS if options["payments"] else ImportKind.PLAYERS,
                dry_run=options["dry_run"],
                encoding=options["encoding"],
                invalid_rows=InvalidRowPolicy.REJECT if options["reject_invalid"] else InvalidRowPolicy.SKIP,
                blank_clears=options["blank_clears"],
                source_ref=options["source_ref"],
                report_path=report,
                actor=actor,
                chunk_size=options["chunk_size"],
                progress=progress,
            )
        except ImportFileError as exc:
            raise CommandError(str(exc)) from None
        except Exception as exc:
            # The job is marked failed (and resumable) with its reason; the traceback is in the log.
            raise CommandError(self._stopped(file, exc)) from None
        finally:
            bar.close()
        counts = run.counts
        seconds = time.perf_counter() - started
        verb = "Checked (dry run)" if options["dry_run"] else ("Rejected" if run.rejected else "Imported")
        self.stdout.write(
            f"{verb} {file.name} [{run.detected_encoding or run.columns.get('format', '')}]: {counts.total} rows — "
            f"{counts.new} new, {counts.updated} updated, {counts.unchanged} unchanged, {counts.invalid} invalid. "
            f"Import #{job.pk}. Report: {report}"
        )
        self.stdout.write(f"Took {seconds:.2f} s ({counts.total / max(seconds, 1e-9):,.0f} rows/s).")
        if run.columns.get("ignored"):
            self.stdout.write(f"Ignored columns: {', '.join(run.columns['ignored'])}")
        if run.columns.get("derived"):
            self.stdout.write(f"Columns the CRM works out itself, not read: {', '.join(run.columns['derived'])}")

    @staticmethod
    def _stopped(file, exc) -> str:
        job = ImportJob.objects.filter(source_path=str(Path(file).resolve())).order_by("-pk").first()
        reason = job.message if job is not None and job.message else ""
        return f"{reason} ({type(exc).__name__}: {exc})".strip()

    def resume(self, job_id: int, options) -> None:
        job = ImportJob.objects.filter(pk=job_id).first()
        if job is None:
            raise CommandError(f"No import #{job_id}.")
        path = Path(job.source_path or job.file.name)
        report = options["report"] or Path(
            job.source_path + ".report.csv" if job.source_path else f"import-{job.pk}.report.csv"
        )
        started = time.perf_counter()
        try:
            job = import_job_resume(job=job, report_path=report)
        except ValidationError as exc:
            raise CommandError(f"Import #{job.pk} ({job.get_status_display()}): {' '.join(exc.messages)}") from None
        except ImportFileError as exc:
            raise CommandError(str(exc)) from None
        except Exception as exc:
            job.refresh_from_db()
            raise CommandError(f"{job.message} ({type(exc).__name__}: {exc})") from None
        self.stdout.write(
            f"Resumed import #{job.pk} ({path.name}): {job.get_status_display()} — {job.total_rows} rows, "
            f"{job.new_count} new, {job.updated_count} updated, {job.unchanged_count} unchanged, "
            f"{job.invalid_count} invalid. Report: {report}. Took {time.perf_counter() - started:.2f} s."
        )
