"""The admin's import pages: upload -> preview -> confirm -> result, through the real stack."""

import csv
import io
from pathlib import Path

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from players.models import ImportJob, ImportStatus, Player

FILES = Path(__file__).parent / "files"


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def upload(client, name, **fields):
    with (FILES / name).open("rb") as handle:
        return client.post(
            reverse("admin:players_importjob_add"),
            {"kind": "players", "file": handle, "encoding": "", "invalid_rows": "skip", **fields},
        )


def test_upload_preview_confirm_and_result(client, operations, django_capture_on_commit_callbacks):
    client.force_login(operations)

    # when the messy GBK file is uploaded
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(client, "messy_players_gbk.csv")
    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:players_importjob_change", args=[job.pk])

    # then the preview shows the counts and each invalid row, and nothing is written yet
    page = client.get(response["Location"]).content.decode()
    job.refresh_from_db()
    assert job.status == ImportStatus.PREVIEWED
    assert (job.new_count, job.updated_count, job.unchanged_count, job.invalid_count) == (5, 0, 1, 7)
    assert "138-bad is not a valid phone number." in page
    assert "手机号" in page and "GBK / GB18030" in page
    assert not Player.objects.exists()

    # when the user confirms
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("admin:players_importjob_apply", args=[job.pk]))

    # then the valid rows are stored and the record keeps who, counts and the report
    job.refresh_from_db()
    assert job.status == ImportStatus.DONE
    assert (job.created_by, job.new_count, job.invalid_count) == (operations, 5, 7)
    assert Player.objects.count() == 5
    report = client.get(reverse("admin:players_importjob_report", args=[job.pk]))
    rows = list(csv.reader(io.StringIO(b"".join(report.streaming_content).decode("utf-8-sig"))))
    assert rows[1] == ["4", "10002", "手机号", "138-bad is not a valid phone number.", "invalid, not imported"]
    assert client.get(reverse("admin:players_importjob_progress", args=[job.pk])).json() == {
        "status": "done",
        "processed": 13,
        "total": 13,
    }


def test_reject_policy_refuses_to_apply_a_file_with_invalid_rows(
    client, operations, django_capture_on_commit_callbacks
):
    client.force_login(operations)
    with django_capture_on_commit_callbacks(execute=True):
        upload(client, "messy_players_utf8_bom.csv", invalid_rows="reject")
    job = ImportJob.objects.get()

    page = client.get(reverse("admin:players_importjob_change", args=[job.pk])).content.decode()
    client.post(reverse("admin:players_importjob_apply", args=[job.pk]))

    assert "reject the whole file" in page
    job.refresh_from_db()
    assert job.status == ImportStatus.PREVIEWED
    assert not Player.objects.exists()


def test_import_needs_the_import_permission(client, manager):
    client.force_login(manager)

    assert client.get(reverse("admin:players_importjob_add")).status_code == 403


def test_bad_file_type_is_refused_on_the_form(client, operations):
    client.force_login(operations)
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = client.post(
        reverse("admin:players_importjob_add"),
        {"kind": "players", "file": SimpleUploadedFile("old.xls", b"x"), "invalid_rows": "skip"},
    )

    assert response.status_code == 200
    assert "save the file as .xlsx or CSV" in response.content.decode()
    assert not ImportJob.objects.exists()


@pytest.mark.parametrize(("language", "first"), [("en", "account_id"), ("zh", "账号")])
def test_templates_in_both_languages_import_cleanly(client, operations, language, first, tmp_path):
    client.force_login(operations)

    csv_template = client.get(reverse("admin:players_import_template", args=["players", language, "csv"]))
    xlsx_template = client.get(reverse("admin:players_import_template", args=["players", language, "xlsx"]))

    assert csv_template.content.decode("utf-8-sig").splitlines()[0].split(",")[0] == first
    path = tmp_path / "t.xlsx"
    path.write_bytes(xlsx_template.content)
    assert load_workbook(path).active["A1"].value == first
    from players.models import ImportKind
    from players.services.imports import ImportRun, import_file_run

    run = import_file_run(ImportRun(kind=ImportKind.PLAYERS, path=path, name="t.xlsx", dry_run=True))
    assert (run.counts.new, run.counts.invalid, run.columns["ignored"]) == (1, 0, [])


def test_without_a_broker_the_import_task_runs_when_the_request_commits(transactional_db, client, operations):
    # given no broker (tasks run eagerly) and real commits
    client.force_login(operations)

    # when a file is uploaded, then confirmed
    upload(client, "players.xlsx")
    job = ImportJob.objects.get()
    state = client.get(reverse("admin:players_importjob_progress", args=[job.pk])).json()
    assert state == {"status": "previewed", "processed": 3, "total": 3}
    client.post(reverse("admin:players_importjob_apply", args=[job.pk]))

    # then the import task has run to its end
    state = client.get(reverse("admin:players_importjob_progress", args=[job.pk])).json()
    assert state == {"status": "done", "processed": 3, "total": 3}
    assert sorted(Player.objects.values_list("account_id", flat=True)) == ["x1", "x3"]
