"""The doors to a player's data on request and erasure: the player list's actions, the
player's two pages, the request log's confirmation, the game API and imports."""

import io
import zipfile
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from players.models import DataRequest, DataRequestStatus, ImportKind, Payment, Player
from players.services.privacy import erased_account_key, erasure_confirm, erasure_request
from players.tests.fixtures import make_player, pay  # noqa: F401


@pytest.fixture
def zhang(make_player, manager):  # noqa: F811
    return make_player(
        account_id="acct-zhang", nickname="张三丰", real_name="张君宝", phone="+8613911112222", manager=manager
    )


def _copy_url(player):
    return reverse("admin:players_player_data_copy", args=[player.pk])


def _erasure_url(player):
    return reverse("admin:players_player_erasure", args=[player.pk])


def test_the_list_action_opens_the_copy_page_for_one_player(client, zhang, manager):
    client.force_login(manager)
    response = client.post(
        reverse("admin:players_player_changelist"), {"action": "hand_over_data", "_selected_action": [zhang.pk]}
    )
    assert response.status_code == 302 and response["Location"] == _copy_url(zhang)


def test_the_copy_page_downloads_the_zip_and_records_the_request(client, zhang, manager):
    client.force_login(manager)
    response = client.post(
        _copy_url(zhang), {"reason": "玩家 5 月 3 日来电，已核对身份证后四位", "delivered_via": "email"}
    )
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    assert "no-store" in response["Cache-Control"]
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert "data.json" in archive.namelist()
    request = DataRequest.objects.get()
    assert (request.requested_by, request.delivered_via, request.file_bytes) == (
        manager,
        "email",
        len(response.content),
    )


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"reason": "", "delivered_via": "email"}, "reason"),
        ({"reason": "   ", "delivered_via": "email"}, "reason"),
        ({"reason": "来电", "delivered_via": "carrier pigeon"}, "delivered_via"),
        ({"reason": "x" * 2001, "delivered_via": "email"}, "reason"),
    ],
)
def test_hostile_input_on_the_copy_page_names_the_field_and_produces_nothing(client, zhang, manager, data, field):
    client.force_login(manager)
    response = client.post(_copy_url(zhang), data)
    assert response.status_code == 200 and response["Content-Type"].startswith("text/html")
    assert field in response.context["form"].errors
    assert not DataRequest.objects.exists()


def test_a_scoped_manager_cannot_reach_another_managers_player(client, zhang, other_manager):
    client.force_login(other_manager)
    assert client.get(_copy_url(zhang)).status_code == 404
    assert client.post(_copy_url(zhang), {"reason": "x", "delivered_via": "email"}).status_code == 404
    assert client.post(_erasure_url(zhang), {"reason": "x"}).status_code == 404
    response = client.post(
        reverse("admin:players_player_changelist"), {"action": "hand_over_data", "_selected_action": [zhang.pk]}
    )
    assert response.status_code == 302 and response["Location"] != _copy_url(zhang)  # nothing selected they may see
    assert not DataRequest.objects.exists()


def test_users_without_the_permissions_are_refused(client, zhang, operations):
    client.force_login(operations)  # sees every player, may hand over nothing
    assert client.get(_copy_url(zhang)).status_code == 403
    assert client.post(_erasure_url(zhang), {"reason": "x"}).status_code == 403
    actions = client.get(reverse("admin:players_player_changelist")).context["action_form"].fields["action"].choices
    assert not {"hand_over_data", "request_erasure"} & {name for name, _label in actions}


def test_erasure_is_asked_by_one_and_confirmed_by_another_in_the_request_log(client, zhang, manager, supervisor):
    client.force_login(manager)
    assert client.post(_erasure_url(zhang), {"reason": ""}).context["form"].errors["reason"]
    response = client.post(_erasure_url(zhang), {"reason": "玩家来电要求注销"})
    assert response.status_code == 302
    request = DataRequest.objects.get(status=DataRequestStatus.PENDING)
    decide = reverse("admin:players_datarequest_decide", args=[request.pk])
    assert client.post(decide, {"confirm": "1"}).status_code == 403  # a manager may not confirm

    client.force_login(supervisor)
    assert client.get(reverse("admin:players_datarequest_changelist")).status_code == 200
    page = client.get(reverse("admin:players_datarequest_change", args=[request.pk]))
    assert page.context["decidable"] and not page.context["own_request"]
    client.post(decide, {"confirm": "1", "note": "已核实"})
    zhang.refresh_from_db()
    assert zhang.erased_at and zhang.real_name == "" and zhang.account_id == erased_account_key("acct-zhang")
    assert DataRequest.objects.get(pk=request.pk).decided_by == supervisor
    # the erased player's page: nothing personal can be typed back
    page = client.get(reverse("admin:players_player_change", args=[zhang.pk]))
    assert "real_name" not in page.context["adminform"].form.fields


def test_a_supervisor_cannot_confirm_their_own_request(client, zhang, supervisor):
    request = erasure_request(player=zhang, actor=supervisor, reason="来电")
    client.force_login(supervisor)
    page = client.get(reverse("admin:players_datarequest_change", args=[request.pk]))
    assert page.context["own_request"]
    client.post(reverse("admin:players_datarequest_decide", args=[request.pk]), {"confirm": "1"})
    zhang.refresh_from_db()
    assert zhang.erased_at is None and DataRequest.objects.get().status == DataRequestStatus.PENDING


def test_a_manager_cannot_read_the_request_log(client, zhang, manager):
    client.force_login(manager)
    assert client.get(reverse("admin:players_datarequest_changelist")).status_code == 403


# --- the game API and imports after an erasure ---------------------------------------------


@pytest.fixture
def erased(zhang, manager, supervisor, pay):  # noqa: F811
    pay(zhang, "648.00", event_id="before")
    erasure_confirm(request=erasure_request(player=zhang, actor=manager, reason="来电"), actor=supervisor)
    zhang.refresh_from_db()
    return zhang


def test_the_api_does_not_find_an_erased_player_but_records_its_payments_and_logins(api, erased):
    assert api.get("/api/v1/players/acct-zhang/").status_code == 404
    assert api.get(f"/api/v1/players/{erased.account_id}/").status_code == 404  # nor by its digest
    assert all(p["account_id"] != erased.account_id for p in api.get("/api/v1/players/").json()["results"])

    response = api.post(
        "/api/v1/payments/",
        {
            "event_id": "after",
            "type": "purchase",
            "account_id": "acct-zhang",
            "server": "s1",
            "amount": "30.00",
            "currency": "CNY",
            "occurred_at": timezone.now().isoformat(),
        },
    )
    assert response.status_code == 201
    refund = {
        "event_id": "refund-after",
        "type": "refund",
        "refund_of": "after",
        "account_id": "acct-zhang",
        "server": "s1",
        "amount": "10.00",
        "currency": "CNY",
        "occurred_at": timezone.now().isoformat(),
    }
    assert api.post("/api/v1/payments/", refund).status_code == 201
    login = {"account_id": "acct-zhang", "server": "s1", "occurred_at": timezone.now().isoformat()}
    assert api.post("/api/v1/logins/batch/", {"events": [login]}).status_code == 200
    erased.refresh_from_db()
    assert erased.total_spend == Decimal("668.00") and Payment.objects.filter(player=erased).count() == 3
    assert not Player.objects.filter(account_id="acct-zhang").exists()

    response = api.put("/api/v1/players/acct-zhang/", {"nickname": "张三丰", "server": "s1", "phone": "+8613911112222"})
    assert response.status_code == 410 and response.json()["error"] == "erased"
    response = api.put(f"/api/v1/players/{erased.account_id}/", {"nickname": "x", "server": "s1"})
    assert response.status_code == 400
    erased.refresh_from_db()
    assert (erased.nickname, erased.phone) == ("", "")


def test_an_import_row_for_an_erased_account_is_reported_not_imported(erased, settings, tmp_path):
    from players.services.imports import ImportRun, import_file_run

    settings.MEDIA_ROOT = tmp_path / "media"
    path = tmp_path / "list.csv"
    path.write_text("账号,昵称,手机\nacct-zhang,张三丰,13911112222\nacct-new,新人,13700001234\n", encoding="utf-8")
    run = import_file_run(ImportRun(kind=ImportKind.PLAYERS, path=path, name="list.csv", dry_run=False))

    assert [(p.row, p.account_id, p.outcome) for p in run.problems] == [(2, "", "invalid")]
    assert Player.objects.filter(account_id="acct-new").exists()
    assert not Player.objects.filter(account_id="acct-zhang").exists()
    erased.refresh_from_db()
    assert erased.nickname == ""
