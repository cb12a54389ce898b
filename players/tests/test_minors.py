"""Minors by the date of birth: the NPPA caps checked by the ledger's writer (every door:
the API, imports, staff), the supervisors' queue, the customer card, the refund case."""

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse

from players.models import MinorSpendFlag, Player
from players.services.cases import case_checklist_set, case_resolve, case_start
from players.services.minors import minor_flag_review

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=SHANGHAI)
BATCH = "/api/v1/payments/batch/"


@pytest.fixture(autouse=True)
def _in_november():
    with time_machine.travel(NOW, tick=False):
        yield


def born(years: int, months: int = 0) -> date:
    """Someone `years` (and `months`) old on NOW."""
    return date(NOW.year - years, NOW.month, NOW.day) - timedelta(days=31 * months)


def flags(player):
    return sorted((f.rule, f.amount, f.month_total, f.cap, f.age) for f in MinorSpendFlag.objects.filter(player=player))


def test_each_band_against_its_caps_per_payment_and_per_month(make_player, pay):
    child = make_player(birthday=born(7))
    young = make_player(birthday=born(12))
    teen = make_player(birthday=born(17))
    adult = make_player(birthday=born(18))
    unknown = make_player()
    for player in (child, young, teen, adult, unknown):
        pay(player, "6.00", at=NOW - timedelta(hours=6))
    assert flags(child) == [("no_payment", Decimal("6.00"), Decimal("6.00"), Decimal("0"), 7)]
    assert flags(young) == flags(teen) == flags(adult) == flags(unknown) == []

    pay(young, "60.00", at=NOW - timedelta(hours=5))  # over ¥50 per payment
    assert flags(young) == [("per_payment", Decimal("60.00"), Decimal("66.00"), Decimal("50.00"), 12)]
    pay(teen, "98.00", at=NOW - timedelta(hours=5))  # within ¥100 at 16-18
    assert flags(teen) == []
    for i in range(3):
        pay(teen, "98.00", at=NOW - timedelta(hours=4 - i))
    # 6 + 98 * 4 = 398 (within ¥400), then a fifth takes the month over
    assert flags(teen) == []
    pay(teen, "30.00", at=NOW - timedelta(minutes=30))
    assert flags(teen) == [("per_month", Decimal("30.00"), Decimal("428.00"), Decimal("400.00"), 17)]


def test_the_month_is_the_calendar_month_in_the_crm_time_zone(make_player, pay):
    player = make_player(birthday=born(10))
    # 30 October 23:30 in Shanghai is October there (15:30 UTC)
    pay(player, "50.00", at=datetime(2026, 10, 31, 23, 30, tzinfo=SHANGHAI))
    pay(player, "50.00", at=datetime(2026, 11, 1, 0, 30, tzinfo=SHANGHAI))
    for day in (2, 3, 4):
        pay(player, "50.00", at=datetime(2026, 11, day, 10, tzinfo=SHANGHAI))
    assert flags(player) == []  # November: 200.00, the cap itself
    pay(player, "0.01", at=datetime(2026, 11, 5, 10, tzinfo=SHANGHAI))
    assert [f[0] for f in flags(player)] == ["per_month"]


def test_the_age_is_the_age_at_payment_and_caps_are_settings(make_player, pay, settings):
    # 16 today: the payment two days ago was a 15-year-old's (¥50 cap), today's a 16-year-old's
    player = make_player(birthday=born(16))
    pay(player, "80.00", at=NOW - timedelta(days=2))
    pay(player, "80.00", at=NOW - timedelta(hours=1))
    assert [(f[0], f[4]) for f in flags(player)] == [("per_payment", 15)]
    settings.CRM_MINOR_SPEND_CAPS = "8:30:100,16:60:300"
    pay(player, "70.00", at=NOW - timedelta(minutes=10))
    assert sorted((f[0], f[3]) for f in flags(player)) == [
        ("per_payment", Decimal("50")),
        ("per_payment", Decimal("60")),
    ]


def test_the_api_batch_flags_through_the_ledger_and_refunds_raise_nothing(api, make_player):
    make_player(account_id="kid", birthday=born(9))
    make_player(account_id="grown", birthday=born(30))
    at = (NOW - timedelta(hours=1)).isoformat()

    def event(event_id, account, amount, kind="purchase"):
        return {
            "event_id": event_id,
            "type": kind,
            "account_id": account,
            "amount": amount,
            "currency": "CNY",
            "occurred_at": at,
        }

    response = api.post(
        BATCH, {"events": [event("a", "kid", "68.00"), event("b", "grown", "648.00"), event("c", "kid", "6.00")]}
    )
    assert response.status_code == 200 and response.json()["created"] == 3
    kid = Player.objects.get(account_id="kid")
    assert [f[0] for f in flags(kid)] == ["per_payment"]
    assert flags(Player.objects.get(account_id="grown")) == []
    # the same events again: duplicates, no second flag
    api.post(BATCH, {"events": [event("a", "kid", "68.00")]})
    api.post(BATCH, {"events": [event("r", "kid", "68.00", kind="refund")]})
    assert MinorSpendFlag.objects.count() == 1


def test_an_imported_payment_is_checked_too(make_player, tmp_path, supervisor):
    from players.models import ImportKind
    from players.services.imports import ImportRun, import_file_run

    make_player(account_id="kid", birthday=born(11))
    path = tmp_path / "pay.csv"
    path.write_text(
        "账号,流水号,类型,金额,币种,支付时间\nkid,i1,purchase,120,CNY,2026-11-19 10:00:00+08:00\n", encoding="utf-8"
    )
    run = import_file_run(
        ImportRun(kind=ImportKind.PAYMENTS, path=path, name="pay.csv", dry_run=False, actor=supervisor)
    )
    assert run.counts.new == 1
    assert [f[0] for f in flags(Player.objects.get(account_id="kid"))] == ["per_payment"]


# --- the queue -----------------------------------------------------------------------------


def test_the_queue_is_scoped_and_a_review_needs_the_permission(
    client, manager, supervisor, make_player, make_staff, pay
):
    mine = make_player(manager=manager, birthday=born(10))
    theirs = make_player(manager=make_staff("other_mgr", "VIP manager"), birthday=born(10))
    pay(mine, "68.00", at=NOW - timedelta(hours=1))
    pay(theirs, "68.00", at=NOW - timedelta(hours=1))
    client.force_login(manager)
    listing = client.get(reverse("admin:players_minorspendflag_changelist"))
    assert {f.player_id for f in listing.context["cl"].result_list} == {mine.pk}
    flag = MinorSpendFlag.objects.get(player=mine)
    # a VIP manager sees the flag but does not close it
    assert client.post(reverse("admin:players_minorspendflag_review", args=[flag.pk]), {"note": "x"}).status_code == 403
    client.force_login(supervisor)
    response = client.post(reverse("admin:players_minorspendflag_review", args=[flag.pk]), {"note": "已联系监护人"})
    assert response.status_code == 302
    flag.refresh_from_db()
    assert (flag.reviewed_by, flag.review_note) == (supervisor, "已联系监护人")
    with pytest.raises(ValidationError):
        minor_flag_review(flag=flag, actor=supervisor, note="again")
    # reviewed ones leave the default view
    listing = client.get(reverse("admin:players_minorspendflag_changelist"))
    assert flag.pk not in {f.pk for f in listing.context["cl"].result_list}


def test_the_player_page_and_card_show_the_minor_and_the_open_flags(client, supervisor, make_player, pay):
    child = make_player(birthday=born(12), nickname="小明")
    pay(child, "68.00", at=NOW - timedelta(hours=1))
    client.force_login(supervisor)
    from crm.workplace.customer_card import customer_card

    card = customer_card(player=child, user=supervisor)
    assert card.minor_flags == 1 and "14" in card.minor and card.minor_flags_url
    assert all(not live for _channel, live, _state in card.consents)  # no marketing to a minor
    grown = customer_card(player=make_player(birthday=born(30)), user=supervisor)
    assert (grown.minor, grown.minor_flags) == ("", 0)


# --- the refund case --------------------------------------------------------------------


def test_a_minor_refund_cannot_be_resolved_before_the_guardian_checklist(make_player, make_case, supervisor):
    case = make_case(make_player(birthday=born(13)), actor=supervisor, category="minor_refund", subject="孩子充值退款")
    case_start(case=case, actor=supervisor)
    with pytest.raises(ValidationError) as error:
        case_resolve(case=case, actor=supervisor, resolution="已退款")
    assert "checklist" in error.value.message_dict
    steps = ["guardian_identity", "guardianship", "minor_identity", "payments", "no_consent"]
    case = case_checklist_set(case=case, done=steps, actor=supervisor)
    with pytest.raises(ValidationError):
        case_resolve(case=case, actor=supervisor, resolution="已退款")
    case = case_checklist_set(case=case, done=[*steps, "refund_route"], actor=supervisor)
    case = case_resolve(case=case, actor=supervisor, resolution="已原路退款")
    assert case.status == "resolved"
    assert case.events.filter(type="checklist").count() == 2
    with pytest.raises(ValidationError):
        case_checklist_set(case=case, done=["made_up_step"], actor=supervisor)


def test_the_checklist_action_through_the_admin(client, supervisor, make_player, make_case):
    case = make_case(make_player(birthday=born(13)), actor=supervisor, category="minor_refund")
    client.force_login(supervisor)
    url = reverse("admin:players_case_action", args=[case.pk, "checklist"])
    assert client.get(url).status_code == 200
    response = client.post(url, {"done": ["guardian_identity", "'; DROP TABLE x;--"]})
    assert response.status_code == 200  # an unknown step is refused by the form
    response = client.post(url, {"done": ["guardian_identity"]})
    assert response.status_code == 302
    case.refresh_from_db()
    assert list(case.checklist) == ["guardian_identity"]
    other = make_case(make_player(), actor=supervisor, category="complaint")
    assert client.get(reverse("admin:players_case_action", args=[other.pk, "checklist"])).status_code == 403


def test_staff_without_the_personal_data_permission_see_the_band_on_the_card_and_in_the_list(
    client, operations, make_player
):
    """The band (not the birthday) for everyone who may see the player (the export: test_admin_exports)."""
    from crm.workplace.customer_card import customer_card

    child = make_player(account_id="c-1", birthday=born(12), nickname="小明")
    make_player(account_id="t-1", birthday=born(16), nickname="小红")
    adult = make_player(account_id="a-1", birthday=born(30), nickname="老王")
    make_player(account_id="u-1", nickname="无名")
    assert not operations.has_perm("players.view_personal_data")

    card = customer_card(player=child, user=operations)
    assert "14" in card.minor and card.birthday != str(child.birthday)
    client.force_login(operations)
    listing = reverse("admin:players_player_changelist")
    found = {
        band: {p.account_id for p in client.get(listing, {"minor": band}).context["cl"].result_list}
        for band in ("minor", "child", "adult")
    }
    assert found == {"minor": {"c-1", "t-1"}, "child": {"c-1"}, "adult": {adult.account_id}}
    page = client.get(listing, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "未满14周岁：敏感个人信息" in page  # the filter reads in the user's language
