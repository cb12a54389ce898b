"""A player's data on request (PIPL Art. 45) and erasure on request (Art. 47):
players.services.privacy, its registry of tables, and every door to it."""

import io
import json
import zipfile
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.apps import apps
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import connection, models
from django.utils import timezone, translation
from openpyxl import load_workbook

from players.models import (
    DataRequest,
    DataRequestKind,
    DataRequestStatus,
    ExportRecord,
    ImportJob,
    ImportStatus,
    Payment,
    Player,
)
from players.services import contact_log_create, player_update
from players.services.cases import case_add_note, case_open
from players.services.feedback import feedback_record
from players.services.privacy import (
    PLAYER_TABLES,
    PlayerErased,
    erasure_confirm,
    erasure_reject,
    erasure_request,
    player_data_file,
    text_fields,
)
from players.tests.fixtures import make_player, pay  # noqa: F401

NAME = "欧阳锋锋"
PHONE = "+8613912345678"
OLD_PHONE = "+8613800001111"
QQ = "77665544"
WECHAT = "wx_ouyang_feng"
EMAIL = "ouyang.feng@example.cn"
NICK = "西毒欧阳"
ACCOUNT = "acct-ouyang-0917"
BIRTHDAY = date(1990, 5, 17)
VALUES = [NAME, PHONE, "13912345678", "13800001111", QQ, WECHAT, EMAIL, NICK, ACCOUNT]


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def ouyang(db, media, pay, manager, supervisor):  # noqa: F811
    """A player with a history in every table that can hold one, each mentioning them."""
    from campaigns.models import GiftEntry, Message, OutreachTask
    from vip.services import players_assign_manager

    player = Player.objects.create(account_id=ACCOUNT, server="s1", nickname=NICK, phone=OLD_PHONE)
    player_update(
        player=player,
        data={
            "real_name": NAME,
            "phone": PHONE,
            "qq": QQ,
            "wechat": WECHAT,
            "email": EMAIL,
            "birthday": BIRTHDAY,
            "notes": f"{NAME} 喜欢晚上打电话",
        },
        actor=supervisor,
    )
    players_assign_manager(
        players=Player.objects.filter(pk=player.pk), manager=manager, actor=supervisor, note=f"{NICK} 大R"
    )
    for n, amount in enumerate(["648.00", "328.00", "30.00"]):
        pay(player, amount, event_id=f"ouyang-{n}", at=timezone.now() - timedelta(days=10 - n))
    player.refresh_from_db()
    contact_log_create(
        player=player, staff=manager, channel="phone", topic="回访", summary=f"{NAME} 说手机换成 13912345678"
    )
    case = case_open(
        player=player,
        category="payment",
        subject=f"{NICK} 充值未到账",
        description=f"联系 QQ {QQ}",
        actor=manager,
    )
    case_add_note(case=case, text=f"打给 {PHONE} 没人接", actor=manager)
    feedback_record(player=player, text=f"我是{NICK}，微信{WECHAT}，副本卡住了", actor=manager)
    OutreachTask.objects.create(player=player, assignee=manager, title=f"回访 {NICK}", due_date=timezone.localdate())
    Message.objects.create(
        player=player,
        channel="sms",
        body=f"{NAME}您好，生日快乐",
        scheduled_for=timezone.now(),
        status_params={"user": NICK},
    )
    GiftEntry.objects.create(
        player=player,
        kind="code",
        item="钻石",
        value=Decimal("10"),
        month=timezone.localdate().replace(day=1),
        given_on=timezone.localdate(),
        reason=f"给{NICK}的生日礼",
    )
    job = ImportJob.objects.create(file_name="名单.csv", status=ImportStatus.DONE, created_by=supervisor)
    job.file.save(
        "list.csv",
        ContentFile(f"账号,手机,昵称\n{ACCOUNT},13912345678,{NICK}\nacct-other,13700000000,路人\n".encode()),
    )
    job.errors_sample = [{"row": 2, "account_id": ACCOUNT, "column": "生日", "reason": "bad"}]
    job.save()
    ExportRecord.objects.create(user=supervisor, format="csv", filters=f"搜索: {PHONE}", row_count=1)
    LogEntry.objects.create(
        user=supervisor,
        content_type_id=ContentType.objects.get_for_model(Player).pk,
        object_id=player.pk,
        object_repr=str(player),
        action_flag=CHANGE,
        change_message="[]",
    )
    return player


# --- the registry: a new table or column is covered, or a test fails -----------------------


def _linked_models() -> set:
    """Every model whose rows belong to a player: a foreign key to Player, or to such a
    model (transitively); the change history of such a model too."""
    everything = apps.get_models(include_auto_created=True)
    linked = {Player}
    grew = True
    while grew:
        grew = False
        for model in everything:
            if model in linked or model._meta.proxy:  # a proxy shares its table
                continue
            targets = {f.related_model for f in model._meta.concrete_fields if f.is_relation}
            if targets & linked or getattr(model, "instance_type", None) in linked:
                linked.add(model)
                grew = True
    return linked


def test_every_model_linked_to_a_player_is_in_the_data_file_and_the_erasure():
    missing = sorted(m._meta.label for m in _linked_models() if m._meta.label not in PLAYER_TABLES)
    assert missing == [], f"add these to players.services.privacy's registry (player_table_register): {missing}"


def test_every_text_column_of_a_registered_table_is_erased_or_kept_on_purpose():
    undecided = []
    for table in PLAYER_TABLES.values():
        decided = {*table.erase, *table.scrub, *table.scrub_json, *table.keep}
        undecided += [f"{table.label}.{f.name}" for f in text_fields(table.model) if f.name not in decided]
    assert undecided == [], f"say in the registry whether these are erased or kept: {undecided}"


def test_the_registry_test_fails_for_a_new_table_linked_to_a_player():
    class ConsentLike(models.Model):  # noqa: DJ008  (a table a later change adds, unregistered)
        player = models.ForeignKey(Player, on_delete=models.CASCADE)

        class Meta:
            app_label = "players"

    try:
        assert "players.ConsentLike" not in PLAYER_TABLES
        assert ConsentLike in _linked_models()
    finally:
        apps.all_models["players"].pop("consentlike", None)
        apps.clear_cache()


# --- the copy -----------------------------------------------------------------------------


def _open(content: bytes):
    archive = zipfile.ZipFile(io.BytesIO(content))
    assert sorted(archive.namelist()) == ["data.json", "data.xlsx"]
    document = json.loads(archive.read("data.json"))
    workbook = load_workbook(io.BytesIO(archive.read("data.xlsx")), read_only=True)
    return document, {ws.title: [list(r) for r in ws.iter_rows(values_only=True)] for ws in workbook.worksheets}


def test_the_data_file_holds_every_table_complete_and_readable_in_chinese(ouyang, manager):
    with translation.override("zh-hans"):
        produced = player_data_file(player=ouyang, actor=manager, reason="玩家来电要求", delivered_via="email")
    document, sheets = _open(produced.content)

    for table in PLAYER_TABLES.values():  # complete: every row of every table (this request is recorded after)
        expected = table.rows(ouyang.pk).exclude(pk=produced.request.pk) if table.model is DataRequest else None
        expected = (expected if expected is not None else table.rows(ouyang.pk)).count()
        assert len(document["tables"][table.label]) == expected, table.label
    assert document["tables"]["players.Player"][0]["phone"] == PHONE  # unmasked: it is for the player
    assert len(document["tables"]["players.Payment"]) == 3
    assert [r["row"] for r in document["import_rows"]] == [2]

    payments = sheets["付款"]
    assert payments[0][:3] == ["来源", "事件ID", "类型"] or "类型" in payments[0]
    kinds = {row[payments[0].index("类型")] for row in payments[1:]}
    assert kinds == {"购买"}  # the label, not the code "purchase"
    assert all("id" not in str(h).lower() or "事件" in str(h) or "订单" in str(h) for h in payments[0])
    local = timezone.localtime(Payment.objects.filter(player=ouyang).earliest("occurred_at").occurred_at)
    assert local.strftime("%Y-%m-%d %H:%M:%S") in {row[payments[0].index("发生时间")] for row in payments[1:]}
    profile = sheets["玩家"]
    assert NAME in profile[1] and "否" in profile[1]
    assert any("导入" in title for title in sheets)

    request = DataRequest.objects.get()
    assert (request.kind, request.status, request.requested_by, request.delivered_via) == (
        DataRequestKind.COPY,
        DataRequestStatus.DONE,
        manager,
        "email",
    )
    assert request.file_bytes == len(produced.content) and len(request.file_sha256) == 64
    assert request.row_counts["players.Payment"] == 3


def test_a_copy_needs_its_permission_a_visible_player_and_a_reason(ouyang, manager, other_manager, operations):
    with pytest.raises(PermissionDenied):  # not their player
        player_data_file(player=ouyang, actor=other_manager, reason="x", delivered_via="email")
    with pytest.raises(PermissionDenied):  # operations may not hand data over
        player_data_file(player=ouyang, actor=operations, reason="x", delivered_via="email")
    with pytest.raises(ValidationError) as raised:
        player_data_file(player=ouyang, actor=manager, reason="   ", delivered_via="email")
    assert "reason" in raised.value.message_dict
    with pytest.raises(ValidationError) as raised:
        player_data_file(player=ouyang, actor=manager, reason="来电", delivered_via="<script>")
    assert "delivered_via" in raised.value.message_dict
    assert not DataRequest.objects.exists()


# --- erasure --------------------------------------------------------------------------------


def _erase(player, requester, confirmer):
    request = erasure_request(player=player, actor=requester, reason=f"玩家{NAME}来电要求删除")
    return erasure_confirm(request=request, actor=confirmer, note=f"已核实 {PHONE}")


def _found_anywhere(values) -> list[str]:
    """Scan every text, char and JSON column of every table (every model, auto-created
    ones too; tables without a model by their columns) for any of the values."""
    hits = []
    known_tables = set()
    for model in apps.get_models(include_auto_created=True):
        known_tables.add(model._meta.db_table)
        names = [f.attname for f in model._meta.concrete_fields if not f.is_relation]
        for row in model._base_manager.values_list(*names):
            for name, value in zip(names, row, strict=True):
                if value is None or isinstance(value, int | float | Decimal | bool):
                    continue
                text = (
                    json.dumps(value, ensure_ascii=False, default=str) if isinstance(value, dict | list) else str(value)
                )
                hits += [f"{model._meta.db_table}.{name}: {v}" for v in values if v in text]
    with connection.cursor() as cursor:
        for table in set(connection.introspection.table_names()) - known_tables:
            for column in connection.introspection.get_table_description(cursor, table):
                cursor.execute(f"SELECT CAST({connection.ops.quote_name(column.name)} AS TEXT) FROM {table}")  # noqa: S608
                for (text,) in cursor.fetchall():
                    hits += [f"{table}.{column.name}: {v}" for v in values if text and v in text]
    return hits


def test_after_erasure_no_personal_value_of_the_player_is_in_any_table(ouyang, manager, supervisor, media):
    assert _found_anywhere(VALUES)  # the scan finds them before: it can fail
    _erase(ouyang, manager, supervisor)

    assert _found_anywhere([*VALUES, BIRTHDAY.isoformat()]) == []
    ouyang.refresh_from_db()
    assert ouyang.erased_at and ouyang.birthday is None
    # no processing but storage afterwards: every consent withdrawn, in the consent ledger
    from players.models import Consent

    assert set(Consent.objects.filter(player=ouyang).values_list("status", flat=True)) == {"withdrawn"}
    assert Consent.objects.filter(player=ouyang).count() == 10
    stored = b"".join(p.read_bytes() for p in media.rglob("*") if p.is_file())
    assert ACCOUNT.encode() not in stored and b"13912345678" not in stored
    assert b"acct-other" in stored  # the other rows of the import file stay


def test_erasure_keeps_the_ledger_totals_tiers_and_counts_so_reports_do_not_change(
    ouyang, manager, supervisor, fresh_dashboard_cache
):
    from crm.workplace.aggregates import dashboard_refresh

    now = timezone.now()

    def figures():
        # (the consents the erasure withdraws and the closing of open cases are new rows, on purpose)
        counts = {
            t.label: t.rows(ouyang.pk).count()
            for t in PLAYER_TABLES.values()
            if t.model is not DataRequest
            and t.label not in ("players.Consent", "players.ConsentEvent", "players.CaseEvent")
        }
        row = Player.objects.filter(pk=ouyang.pk).values(
            "total_spend", "purchase_count", "tier_id", "payer_status", "manager_id", "server", "channel"
        )[0]
        return counts, row, dashboard_refresh(now=now)["data"]

    before = figures()
    request = _erase(ouyang, manager, supervisor)
    after = figures()
    assert after[0] == before[0] and after[1] == before[1]
    assert json.dumps(after[2], sort_keys=True, default=str) == json.dumps(before[2], sort_keys=True, default=str)
    assert request.status == DataRequestStatus.DONE and request.decided_by == supervisor


def test_erasure_takes_two_people_a_reason_and_the_permissions(ouyang, manager, other_manager, supervisor, make_staff):
    with pytest.raises(PermissionDenied):
        erasure_request(player=ouyang, actor=other_manager, reason="来电")  # not their player
    with pytest.raises(ValidationError):
        erasure_request(player=ouyang, actor=manager, reason=" \n ")
    request = erasure_request(player=ouyang, actor=supervisor, reason="来电")
    with pytest.raises(ValidationError):  # one waiting at a time
        erasure_request(player=ouyang, actor=manager, reason="again")
    with pytest.raises(ValidationError, match="Another person"):
        erasure_confirm(request=request, actor=supervisor)
    with pytest.raises(PermissionDenied):  # a manager may ask, not confirm
        erasure_confirm(request=request, actor=manager)
    with pytest.raises(ValidationError):
        erasure_reject(request=request, actor=make_staff("boss2", "Supervisor"), note="")
    erasure_reject(request=request, actor=make_staff("boss3", "Supervisor"), note="身份未核实")
    ouyang.refresh_from_db()
    assert ouyang.erased_at is None and ouyang.real_name == NAME
    assert DataRequest.objects.get().status == DataRequestStatus.REJECTED


def test_the_game_after_erasure_payments_and_logins_recorded_profile_refused(ouyang, manager, supervisor):
    from players.services import payment_record, player_upsert
    from players.services.activity import logins_record_batch

    _erase(ouyang, manager, supervisor)
    ouyang.refresh_from_db()
    spend, players = ouyang.total_spend, Player.objects.count()

    payment_record(
        account_id=ACCOUNT,
        event_id="after-erasure",
        kind="purchase",
        amount=Decimal("6.00"),
        currency="CNY",
        occurred_at=timezone.now(),
        source="api",
    )
    logins_record_batch(events=[{"account_id": ACCOUNT, "server": "s1", "occurred_at": timezone.now().isoformat()}])
    ouyang.refresh_from_db()
    assert ouyang.total_spend == spend + Decimal("6.00") and Player.objects.count() == players
    assert ouyang.last_login_at is not None
    with pytest.raises(PlayerErased):
        player_upsert(account_id=ACCOUNT, data={"nickname": NICK})
    with pytest.raises(ValidationError) as raised:  # staff cannot type it back either
        player_update(player=ouyang, data={"phone": PHONE}, actor=supervisor)
    assert "phone" in raised.value.message_dict
    assert _found_anywhere(VALUES) == []
