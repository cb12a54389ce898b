"""Exports from the player changelist: filters followed, personal data only with the
permission, managers' scope, the large-export permission, formula injection, the record."""

import csv
import io
from datetime import UTC, date, datetime

import pytest
import time_machine
from django.urls import reverse
from openpyxl import load_workbook

from players.models import ExportRecord

EXPORT = reverse("admin:players_player_export")


def read_csv(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff")
    return list(csv.reader(io.StringIO(body[1:])))


def read_xlsx(response, tmp_path) -> list[list]:
    path = tmp_path / "export.xlsx"
    path.write_bytes(b"".join(response.streaming_content))
    return [list(row) for row in load_workbook(path).active.iter_rows(values_only=True)]


@pytest.fixture
def book(make_player, manager, other_manager):
    return [
        make_player(account_id="a1", server="s1", phone="+8613812345678", real_name="张三", manager=manager),
        make_player(account_id="a2", server="s1", nickname='=HYPERLINK("http://x")', manager=other_manager),
        make_player(account_id="a3", server="s2", nickname="@SUM(1)", manager=manager),
    ]


def test_export_follows_the_changelist_filter_and_is_recorded(client, supervisor, book):
    client.force_login(supervisor)

    response = client.get(EXPORT, {"server": "s1", "_format": "csv"})

    rows = read_csv(response)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    header = rows[0]
    assert [r[0] for r in rows[1:]] == ["a1", "a2"]
    assert "phone" in header and "real_name" in header
    first = dict(zip(header, rows[1], strict=True))
    # a phone number in E.164 is a number to a spreadsheet, not a formula: left readable
    assert (first["phone"], first["real_name"], first["manager"]) == ("+8613812345678", "张三", "manager_a")
    record = ExportRecord.objects.get()
    assert (record.user, record.row_count, record.format, record.filters, record.personal_data) == (
        supervisor,
        2,
        "csv",
        "server: s1",  # the filter as the person chose it, not its query string
        True,
    )


def test_without_personal_data_permission_the_columns_are_left_out(client, operations, book):
    client.force_login(operations)

    rows = read_csv(client.get(EXPORT, {"_format": "csv"}))

    body = "\n".join(",".join(r) for r in rows)
    for column in ("phone", "real_name", "qq", "wechat", "email", "birthday"):
        assert column not in rows[0]
    assert "13812345678" not in body and "张三" not in body
    assert len(rows) == 4
    assert ExportRecord.objects.get().personal_data is False


def test_an_exporter_who_sees_only_their_own_players_exports_only_those(client, manager, book):
    from django.contrib.auth.models import Permission

    # a manager who was given the export permission by hand: still only their own players
    manager.user_permissions.add(Permission.objects.get(codename="export_players"))
    client.force_login(manager)

    rows = read_csv(client.get(EXPORT, {"_format": "csv"}))

    assert sorted(r[0] for r in rows[1:]) == ["a1", "a3"]
    assert ExportRecord.objects.get().row_count == 2


def test_a_vip_manager_does_not_take_their_book_out_in_a_file(client, manager, book):
    """README's role table: VIP managers may not export (phone, WeChat, real name and
    birthday stay in the CRM)."""
    client.force_login(manager)

    for fmt in ("csv", "xlsx"):
        response = client.get(EXPORT, {"_format": fmt}, follow=True)

        assert response["Content-Type"].startswith("text/html")
        assert [str(m) for m in response.context["messages"]] == ["You may not export player lists."]
    assert not ExportRecord.objects.exists()


def test_roles_sync_takes_export_away_from_managers_of_an_existing_install(manager):
    from django.contrib.auth.models import Group, Permission

    from crm.roles import roles_sync

    Group.objects.get(name="VIP manager").permissions.add(Permission.objects.get(codename="export_players"))

    roles_sync()

    manager = type(manager).objects.get(pk=manager.pk)  # fresh permission cache
    assert not manager.has_perm("players.export_players")
    assert manager.has_perm("players.view_personal_data")


def test_formula_cells_are_neutralised_in_csv_and_xlsx(client, supervisor, book, tmp_path):
    client.force_login(supervisor)

    rows = read_csv(client.get(EXPORT, {"_format": "csv"}))
    xlsx = client.get(EXPORT, {"_format": "xlsx"})

    nickname = rows[0].index("nickname")
    by_account = {r[0]: r for r in rows[1:]}
    assert by_account["a2"][nickname] == '\'=HYPERLINK("http://x")'
    assert by_account["a3"][nickname] == "'@SUM(1)"
    path = tmp_path / "export.xlsx"
    path.write_bytes(b"".join(xlsx.streaming_content))
    sheet = load_workbook(path).active
    values = {row[0]: row for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert values["a2"][nickname] == '\'=HYPERLINK("http://x")'
    assert ExportRecord.objects.filter(format="xlsx").count() == 1


def test_large_exports_need_the_extra_permission(client, operations, supervisor, book, settings):
    settings.CRM_EXPORT_LIMIT = 2

    client.force_login(operations)
    refused = client.get(EXPORT, {"_format": "csv"}, follow=True)
    assert "exports of more than 2 rows need" in refused.content.decode()
    assert not ExportRecord.objects.exists()

    client.force_login(supervisor)
    allowed = client.get(EXPORT, {"_format": "csv"})
    assert len(read_csv(allowed)) == 4
    assert ExportRecord.objects.get().user == supervisor


def test_export_needs_the_export_permission(client, make_staff, book):
    from django.contrib.auth.models import Permission

    viewer = make_staff("viewer")
    viewer.user_permissions.add(Permission.objects.get(codename="view_player"))
    client.force_login(viewer)

    response = client.get(EXPORT, {"_format": "csv"}, follow=True)

    assert "You may not export player lists." in response.content.decode()
    assert not ExportRecord.objects.exists()


def test_export_records_are_visible_to_supervisors_only(client, supervisor, manager, operations, book):
    client.force_login(operations)
    b"".join(client.get(EXPORT, {"_format": "csv"}).streaming_content)
    changelist = reverse("admin:players_exportrecord_changelist")

    client.force_login(manager)
    assert client.get(changelist).status_code == 403
    client.force_login(supervisor)
    page = client.get(changelist)
    assert page.status_code == 200
    assert "ops" in page.content.decode()


def test_changelist_offers_export_with_the_current_filter(client, supervisor, book):
    client.force_login(supervisor)

    page = client.get(reverse("admin:players_player_changelist"), {"server": "s2"}).content.decode()

    assert f"{EXPORT}?server=s2&amp;_format=csv" in page


def test_export_queries_do_not_grow_with_rows(client, supervisor, make_player):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(supervisor)

    def export_queries(players: int) -> int:
        for i in range(players):
            make_player(account_id=f"q{players}-{i}")
        with CaptureQueriesContext(connection) as queries:
            read_csv(client.get(EXPORT, {"_format": "csv"}))
        return len(queries)

    export_queries(1)  # warm the per-process caches (content types) whatever ran before
    assert export_queries(5) == export_queries(60)


def test_a_chinese_export_writes_yes_no_and_labels_in_chinese_and_reads_back(
    client, supervisor, make_player, tmp_path, consent
):
    """Issue 17, item 4: no false/true, no at_risk or wechat codes in a Chinese file; the
    import reads the words back (是/否 and labels are among what it accepts)."""
    from players.models import ContactChannel, PayerStatus
    from players.services.imports import _choice_parser
    from players.tabular import parse_bool, parse_consent

    player = make_player(
        account_id="z1",
        payer_status=PayerStatus.AT_RISK,
        preferred_channel=ContactChannel.WECHAT,
        birthday_is_lunar=False,
    )
    consent(player, "sms", status="refused")
    consent(player, "email")
    client.force_login(supervisor)

    for fmt in ("csv", "xlsx"):
        response = client.get(EXPORT, {"_format": fmt}, HTTP_ACCEPT_LANGUAGE="zh-hans")
        if fmt == "csv":
            header, row = read_csv(response)
        else:
            header, row = read_xlsx(response, tmp_path)
        cells = dict(zip(header, row, strict=True))
        assert (cells["付费状态"], cells["首选联系方式"], cells["短信营销"], cells["邮件营销"], cells["农历生日"]) == (
            "有流失风险",
            "微信",
            "拒绝",
            "同意",
            "否",
        ), fmt
        assert cells["电话营销"] in ("", None)  # no record
        assert not {"true", "false", "at_risk", "wechat", "True", "False", "refused"} & {str(c) for c in row}
        assert parse_bool(cells["农历生日"]) is False and _choice_parser()(cells["首选联系方式"]) == "wechat"
        assert parse_consent(cells["短信营销"]) == "refused" and parse_consent(cells["邮件营销"]) == "granted"


def test_an_english_export_writes_yes_no_and_english_labels(client, supervisor, make_player, consent):
    from players.models import PayerStatus

    consent(make_player(account_id="e1", payer_status=PayerStatus.AT_RISK), "in_game", status="withdrawn")
    client.force_login(supervisor)

    header, row = read_csv(client.get(EXPORT, {"_format": "csv"}))

    cells = dict(zip(header, row, strict=True))
    assert (cells["payer_status"], cells["consent_in_game"], cells["birthday_is_lunar"]) == (
        "At risk",
        "Withdrawn",
        "no",
    )


def test_the_export_record_reads_the_filters_as_labels_and_values_in_chinese(client, supervisor, make_player):
    from players.models import PayerStatus
    from vip.models import Tier

    v3 = Tier.objects.get(name="V3")
    make_player(account_id="f1", tier=v3, payer_status=PayerStatus.AT_RISK)
    client.force_login(supervisor)

    client.get(
        EXPORT,
        {"tier__id__exact": v3.pk, "payer_status__exact": "at_risk", "q": "f1", "_format": "csv"},
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    )

    record = ExportRecord.objects.get()
    assert record.row_count == 1
    assert record.filters == "付费状态: 有流失风险; VIP 等级: V3; 搜索: f1"


# Pinned at 01:00 on 15 June 2026 in Shanghai (still the 14th in UTC): the band is the CRM's day's.
BIRTHDAY_CLOCK = datetime(2026, 6, 14, 17, 0, tzinfo=UTC)
MINOR_WORDS = {
    "zh-hans": ("未成年人", "否（已满18周岁）", "未成年人（未满18周岁）", "未满14周岁：敏感个人信息"),
    "en": ("minor", "no (18 or over)", "minor (under 18)", "under 14: sensitive personal information"),
}


@pytest.fixture
def ages(make_player):
    """account id -> birthday, one of each band and each edge on the pinned day."""
    births = {
        "adult": date(1990, 5, 17),
        "eighteen-today": date(2008, 6, 15),  # 18 in Shanghai today, 17 by UTC's date
        "minor": date(2010, 1, 1),
        "fourteen-today": date(2012, 6, 15),  # no longer a child today
        "child": date(2014, 1, 1),
        "unknown": None,
    }
    for account_id, birthday in births.items():
        make_player(account_id=account_id, birthday=birthday)
    return births


@pytest.mark.parametrize("language", ["zh-hans", "en"])
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_the_minor_column_reads_the_band_by_the_date_of_birth(client, supervisor, ages, tmp_path, language, fmt):
    header_name, adult, minor, child = MINOR_WORDS[language]
    client.force_login(supervisor)

    with time_machine.travel(BIRTHDAY_CLOCK, tick=False):
        response = client.get(EXPORT, {"_format": fmt}, HTTP_ACCEPT_LANGUAGE=language)
        rows = read_csv(response) if fmt == "csv" else read_xlsx(response, tmp_path)

    header = rows[0]
    band = {row[0]: row[header.index(header_name)] for row in rows[1:]}
    assert band.pop("unknown") in ("", None)  # no date of birth: not known
    assert band == {
        "adult": adult,
        "eighteen-today": adult,
        "minor": minor,
        "fourteen-today": minor,
        "child": child,
    }


def test_without_personal_data_permission_the_band_is_there_and_the_birthday_not(client, operations, ages):
    # The band is what the team must know (no marketing to a minor), as on the customer card and
    # in the player list's filter; the birthday it is worked out from stays a personal column.
    client.force_login(operations)
    with time_machine.travel(BIRTHDAY_CLOCK, tick=False):
        rows = read_csv(client.get(EXPORT, {"_format": "csv"}))
    header = rows[0]
    assert "birthday" not in header and "birthday_md" not in header
    band = {row[0]: row[header.index("minor")] for row in rows[1:]}
    assert band == {
        "adult": "no (18 or over)",
        "eighteen-today": "no (18 or over)",
        "minor": "minor (under 18)",
        "fourteen-today": "minor (under 18)",
        "child": "under 14: sensitive personal information",
        "unknown": "",
    }
    cells = {cell for row in rows for cell in row}
    assert not {str(day) for day in ages.values() if day} & cells  # no date of birth in any form
    assert not {day.strftime("%Y/%m/%d") for day in ages.values() if day} & cells


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_an_edited_export_back_in_the_import_does_not_read_the_minor_column_and_names_it(
    client, supervisor, operations, ages, admin_import, language
):
    from players.models import Player

    header_name, adult, _minor, _child = MINOR_WORDS[language]
    client.force_login(supervisor)
    with time_machine.travel(BIRTHDAY_CLOCK, tick=False):
        rows = read_csv(client.get(EXPORT, {"_format": "csv"}, HTTP_ACCEPT_LANGUAGE=language))
    # someone marks the child an adult in the file (and changes a nickname the import may take)
    header = rows[0]
    for row in rows[1:]:
        if row[0] == "child":
            row[header.index(header_name)] = adult
            row[header.index("昵称" if language == "zh-hans" else "nickname")] = "改名"
    text = io.StringIO()
    csv.writer(text).writerows(rows)

    client.force_login(operations)
    with time_machine.travel(BIRTHDAY_CLOCK, tick=False):
        job, page = admin_import(text.getvalue(), language=language)

    # the column is named as one the CRM works out itself, never read
    assert header_name in job.columns["derived"] and header_name not in job.columns["ignored"]
    assert header_name not in job.columns["used"].values()
    notice = "以下列由系统自行计算" if language == "zh-hans" else "Columns the CRM works out itself"
    assert notice in page and header_name in page.split(notice, 1)[1].split("</p>", 1)[0]
    # the rest of the row is imported; the child's date of birth, and so its band, are as they were
    child = Player.objects.get(account_id="child")
    assert (job.updated_count, child.nickname, child.birthday) == (1, "改名", ages["child"])
    with time_machine.travel(BIRTHDAY_CLOCK, tick=False):
        assert child.is_child
