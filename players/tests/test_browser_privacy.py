"""A player's data on request and erasure on request, clicked through in Chromium in both
languages: a VIP manager hands over the data file (download) and asks for an erasure; a
supervisor, another person, confirms it in the request log. Screenshots in test-artifacts/."""

import io
import json
import zipfile
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from openpyxl import load_workbook

from crm.tests.browser import in_language, login, shot
from players.models import DataRequest, DataRequestStatus, Player
from players.services import payment_record

LANGUAGES = {
    "en": {
        "copy": "Player's data (PIPL)",
        "erase": "Erase personal data",
        "produce": "Produce and download the file",
        "ask": "Ask for the erasure",
        "confirm": "Confirm: erase the personal data",
        "payments": "Payments",
        "kind": "Type",
        "purchase": "Purchase",
        "required": "This field is required.",
        "requests": "Data requests",
    },
    "zh-hans": {
        "copy": "个人信息副本",
        "erase": "删除个人信息",
        "produce": "生成并下载文件",
        "ask": "提交删除申请",
        "confirm": "确认：删除个人信息",
        "payments": "付款",
        "kind": "类型",
        "purchase": "购买",
        "required": "此字段为必填项。",
        "requests": "个人信息请求",
    },
}


@pytest.fixture
def people(base_data):
    User = get_user_model()
    li = User.objects.create_user(
        username="li", password="browser-pw-5", first_name="娜", last_name="李", is_staff=True
    )
    li.groups.add(Group.objects.get(name="VIP manager"))
    wang = User.objects.create_user(
        username="wang", password="browser-pw-5", first_name="芳", last_name="王", is_staff=True
    )
    wang.groups.add(Group.objects.get(name="Supervisor"))
    player = Player.objects.create(
        account_id="acct-88001",
        server="s1",
        nickname="风清扬",
        real_name="令狐冲",
        phone="+8613955556666",
        qq="99887766",
        manager=li,
    )
    for n, amount in enumerate(["648.00", "98.00"]):
        payment_record(
            account_id=player.account_id,
            event_id=f"b-{n}",
            kind="purchase",
            amount=Decimal(amount),
            currency="CNY",
            occurred_at=player.created_at,
            source="manual",
        )
    return li, wang, player


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_a_manager_hands_over_the_players_data_file(page, live_server, people, language, tmp_path):
    words = LANGUAGES[language]
    li, _wang, player = people
    base = live_server.url
    in_language(page, base, language)
    login(page, base, "li", "browser-pw-5")

    page.goto(f"{base}/admin/players/player/{player.pk}/change/")
    page.get_by_role("link", name=words["copy"]).click()
    page.wait_for_selector("#data-copy-form")
    page.fill("#id_reason", "  \n ")  # only spaces: the browser sends it, the CRM refuses it
    page.click("#data-copy-form input[type=submit]")
    assert page.locator(".errorlist").first.inner_text() == words["required"]
    assert not DataRequest.objects.exists()
    page.fill("#id_reason", "Player called on 3 May; ID checked / 玩家 5 月 3 日来电，已核实身份")
    page.select_option("#id_delivered_via", "email")
    shot(page, f"privacy-copy-{language}")
    with page.expect_download() as download:
        page.get_by_role("button", name=words["produce"]).click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)

    archive = zipfile.ZipFile(saved)
    document = json.loads(archive.read("data.json"))
    assert document["tables"]["players.Player"][0]["real_name"] == "令狐冲"  # not masked: it is theirs
    workbook = load_workbook(io.BytesIO(archive.read("data.xlsx")), read_only=True)
    header, *rows = list(workbook[words["payments"]].iter_rows(values_only=True))
    assert {row[header.index(words["kind"])] for row in rows} == {words["purchase"]}
    request = DataRequest.objects.get()
    assert (request.requested_by, request.delivered_via, request.status) == (li, "email", DataRequestStatus.DONE)


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_a_manager_asks_and_a_supervisor_confirms_an_erasure(page, live_server, people, language):
    words = LANGUAGES[language]
    li, wang, player = people
    base = live_server.url
    in_language(page, base, language)
    login(page, base, "li", "browser-pw-5")

    page.goto(f"{base}/admin/players/player/{player.pk}/change/")
    page.get_by_role("link", name=words["erase"]).click()
    page.wait_for_selector("#erasure-request-form")
    page.fill("#id_reason", "   ")
    page.get_by_role("button", name=words["ask"]).click()
    assert page.locator(".errorlist").count() >= 1 and not DataRequest.objects.exists()
    page.fill("#id_reason", "Player asked by phone to delete the account data / 玩家来电要求删除")
    shot(page, f"privacy-erasure-ask-{language}")
    page.get_by_role("button", name=words["ask"]).click()
    page.wait_for_selector(".messagelist")
    request = DataRequest.objects.get(status=DataRequestStatus.PENDING)
    assert request.requested_by == li

    # the supervisor, another person, confirms it from the request log
    page.context.clear_cookies()
    in_language(page, base, language)
    login(page, base, "wang", "browser-pw-5")
    page.goto(f"{base}/admin/players/datarequest/")
    shot(page, f"privacy-request-log-{language}")
    page.locator("#result_list tbody tr a").first.click()
    page.wait_for_selector("#erasure-decision")
    shot(page, f"privacy-erasure-confirm-{language}")
    page.fill("#id_note", "Checked / 已核实")
    page.get_by_role("button", name=words["confirm"]).click()
    page.wait_for_selector(".messagelist")

    player.refresh_from_db()
    assert player.erased_at and (player.real_name, player.qq, player.nickname) == ("", "", "")
    assert DataRequest.objects.get(pk=request.pk).decided_by == wang
    page.goto(f"{base}/admin/players/player/{player.pk}/change/")
    page.wait_for_selector("#erased-note")
    assert page.locator("#erasure-link").count() == 0
    shot(page, f"privacy-erased-player-{language}")
