"""The top-spender and year-end screens' doors: hostile input gets a clear error and no 500, a
VIP manager may not book the team's calls, a user without the export permission gets no file."""

import pytest
from django.urls import reverse

from campaigns.models import OutreachTask
from players.models import ExportRecord


@pytest.mark.parametrize(
    "query",
    [
        {"start": "zzz", "end": "2026-11-30", "top": "3", "per": "server"},
        {"start": "2026-11-16", "end": "2026-11-01", "top": "3", "per": "server"},
        {"start": "2026-11-16", "end": "2026-11-30", "top": "-1", "per": "server"},
        {"start": "2026-11-16", "end": "2026-11-30", "top": "3", "per": "planet'; DROP TABLE x"},
        {"start": "2016-11-16", "end": "2026-11-30", "top": "3", "per": "server"},
    ],
)
def test_top_spenders_refuses_hostile_input_naming_the_field(client, supervisor, query):
    client.force_login(supervisor)
    response = client.get(reverse("workplace:top_spenders"), query)
    assert response.status_code == 200
    assert response.context["rows"] is None and response.context["form"].errors


@pytest.mark.parametrize("query", [{"year": "abc"}, {"year": "1999"}, {"year": "2026", "min_spend": "-5"}])
def test_the_year_summary_refuses_hostile_input(client, supervisor, query):
    client.force_login(supervisor)
    response = client.get(reverse("workplace:year_spend"), {**query, "format": "csv"})
    assert response.status_code == 200 and response.context["form"].errors
    assert not ExportRecord.objects.exists()


def test_a_manager_may_not_book_the_teams_calls(client, manager):
    client.force_login(manager)
    assert client.post(reverse("workplace:top_spenders_book")).status_code == 403
    assert not OutreachTask.objects.exists()


def test_no_file_without_the_export_permission(client, manager):
    client.force_login(manager)  # VIP managers do not take personal data out in files
    response = client.get(reverse("workplace:year_spend"), {"year": "2026", "format": "csv"}, follow=True)
    assert [str(m) for m in response.context["messages"]] == ["You may not export player lists."]
    assert not ExportRecord.objects.exists()


def test_an_unknown_period_is_not_found(client, supervisor):
    client.force_login(supervisor)
    assert client.get("/admin/players/case/report/decade/").status_code == 404
    assert client.get("/admin/players/case/report/week/", {"day": "2026-13-45"}).context["form"].errors
