from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone, translation

from campaigns.models import (
    Campaign,
    CampaignStatus,
    CampaignTarget,
    Message,
    MessageStatus,
    OutreachTask,
    TaskStatus,
)
from campaigns.services.campaigns import (
    campaign_launch,
    campaign_results,
    campaign_save,
    holdout_bucket,
    payments_by_group,
    targets_returns_mark,
    task_outcome_record,
    two_proportion_z_test,
)
from campaigns.services.messaging import messages_deliver_due
from players.models import ContactLog, Player

LAUNCH = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


def _players(n, **fields):
    start = Player.objects.count()
    return Player.objects.bulk_create(
        [Player(account_id=f"bulk-{start + i}", server="s1", nickname=f"p{start + i}", **fields) for i in range(n)]
    )


# --- Saving --------------------------------------------------------------------


def test_unknown_template_variable_is_refused_at_save(make_campaign):
    with pytest.raises(ValidationError) as info:
        make_campaign(channel="sms", template="Hi {nick_name}")
    assert "template" in info.value.message_dict and "{nick_name}" in info.value.message_dict["template"][0]


def test_bad_segment_and_dates_are_refused_at_save(make_campaign):
    with pytest.raises(ValidationError) as info:
        make_campaign(segment={"tier_min": "x"}, start_date=date(2026, 12, 1), due_date=date(2026, 11, 1))
    assert "segment" in info.value.message_dict
    assert "The due date cannot be before the start date." in str(info.value)


def test_segment_cannot_change_after_launch(make_campaign, supervisor):
    campaign = make_campaign()
    campaign_launch(campaign=campaign, actor=supervisor, now=LAUNCH)
    campaign.refresh_from_db()
    campaign.segment = {"tier_min": 3}
    with pytest.raises(ValidationError) as info:
        campaign_save(campaign=campaign, actor=supervisor)
    assert "segment" in info.value.message_dict


# --- Holdout -------------------------------------------------------------------


def test_holdout_is_reproducible_and_about_the_right_size(make_campaign, supervisor):
    # given 2,000 players and a 10 % holdout
    _players(2000)
    campaign = make_campaign(holdout_percent=10, holdout_seed=20261122)  # fixed: the test cannot flake
    # when launched
    result = campaign_launch(campaign=campaign, actor=supervisor, now=LAUNCH)
    # then about 10 % are held out, and exactly those the hash names
    held = set(CampaignTarget.objects.filter(campaign=campaign, is_holdout=True).values_list("player_id", flat=True))
    assert result["targets"] == 2000 and 170 <= len(held) <= 230
    expected = {
        pk
        for pk in Player.objects.values_list("pk", flat=True)
        if holdout_bucket(seed=campaign.holdout_seed, player_id=pk) < 1000
    }
    assert held == expected
    # and the holdout gets nothing
    assert not OutreachTask.objects.filter(campaign=campaign, player_id__in=held).exists()
    assert OutreachTask.objects.filter(campaign=campaign).count() == 2000 - len(held)


def test_another_campaign_holds_out_other_players(make_campaign, supervisor):
    _players(1000)
    first, second = make_campaign(holdout_percent=10, holdout_seed=1), make_campaign(holdout_percent=10, holdout_seed=2)
    for campaign in (first, second):
        campaign_launch(campaign=campaign, actor=supervisor, now=LAUNCH)
    held = [
        set(CampaignTarget.objects.filter(campaign=c, is_holdout=True).values_list("player_id", flat=True))
        for c in (first, second)
    ]
    assert first.holdout_seed != second.holdout_seed
    assert len(held[0] & held[1]) < len(held[0]) / 2


def test_holdout_bucket_is_uniform():
    buckets = [holdout_bucket(seed=12345, player_id=i) for i in range(1, 100001)]
    assert all(0 <= b < 10000 for b in buckets)
    share = sum(b < 1000 for b in buckets) / len(buckets)
    assert 0.099 < share < 0.101


# --- Launch --------------------------------------------------------------------


def test_launch_assigns_managers_and_round_robins_the_rest(make_campaign, make_player, manager, make_staff, supervisor):
    # given two managed players and six without a manager, and a team of two
    mine = [make_player(manager=manager) for _ in range(2)]
    orphans = [make_player() for _ in range(6)]
    li, wang = make_staff("li", "VIP manager"), make_staff("wang", "VIP manager")
    campaign = make_campaign(holdout_percent=0, team=[li, wang], template="Call {nickname}")
    # when
    campaign_launch(campaign=campaign, actor=supervisor, now=LAUNCH)
    # then
    tasks = {t.player_id: t for t in OutreachTask.objects.filter(campaign=campaign)}
    assert all(tasks[p.pk].assignee == manager for p in mine)
    assigned = [tasks[p.pk].assignee for p in orphans]
    assert assigned.count(li) == 3 and assigned.count(wang) == 3
    task = tasks[mine[0].pk]
    assert task.source == campaign.source and task.due_date == campaign.due_date and task.status == TaskStatus.OPEN
    assert task.kind == "win_back" and task.title == campaign.name and task.created_by == supervisor
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.LAUNCHED and campaign.launched_at == LAUNCH


def test_launching_twice_or_resuming_creates_nothing_twice(make_campaign, supervisor):
    _players(300)
    campaign = make_campaign(holdout_percent=10)
    first = campaign_launch(campaign=campaign, actor=supervisor, now=LAUNCH, chunk_size=50)
    tasks = OutreachTask.objects.filter(campaign=campaign).count()
    assert first["created"] == tasks == first["targets"] - first["holdout"]
    # launching again creates nothing
    assert campaign_launch(campaign=campaign, actor=supervisor)["created"] == 0
    # a crash halfway: some tasks never made it, the campaign still says "launching"
    lost = list(OutreachTask.objects.filter(campaign=campaign).values_list("pk", flat=True)[:120])
    OutreachTask.objects.filter(pk__in=lost).delete()
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.LAUNCHING)
    # when resumed
    resumed = campaign_launch(campaign=campaign, actor=supervisor, chunk_size=50)
    # then exactly the missing ones are made, the groups unchanged
    assert resumed["created"] == 120
    assert OutreachTask.objects.filter(campaign=campaign).count() == tasks
    assert (resumed["targets"], resumed["holdout"]) == (first["targets"], first["holdout"])


def test_refusing_and_minor_players_get_a_cancelled_task_with_the_reason(
    make_campaign, make_player, supervisor, consent
):
    from datetime import date

    out = consent(make_player(), "phone", status="refused")
    minor = make_player(birthday=date(2012, 3, 1))  # 14: a minor by the date of birth
    unrecorded = make_player()  # phone calls: allowed unless refused (README, "Consent")
    campaign = make_campaign(holdout_percent=0)
    campaign_launch(campaign=campaign, actor=supervisor, now=LAUNCH)
    assert OutreachTask.objects.get(player=out).status == TaskStatus.CANCELLED
    assert "refused" in OutreachTask.objects.get(player=out).note_text
    assert "minor" in OutreachTask.objects.get(player=minor).note_text
    assert OutreachTask.objects.get(player=unrecorded).status == TaskStatus.OPEN
    # stored as the reason's code, read in the reader's language
    assert OutreachTask.objects.get(player=out).status_reason == "consent_refused"
    with translation.override("zh-hans"):
        assert OutreachTask.objects.get(player=minor).note_text == "该玩家是未成年人（按出生日期）：不得营销。"


def test_a_phone_refusal_cancels_open_campaign_calls(make_campaign, make_player, supervisor, consent):
    player = make_player()
    campaign = make_campaign(holdout_percent=0)
    campaign_launch(campaign=campaign, actor=supervisor, now=LAUNCH)
    consent(player, "phone", status="withdrawn", evidence="电话里说别再打了")
    task = OutreachTask.objects.get(player=player)
    assert (task.status, task.status_reason) == (TaskStatus.CANCELLED, "consent_withdrawn")


def test_automatic_campaign_queues_one_rendered_message_per_player(make_campaign, make_player, supervisor, consent):
    # given
    a = make_player(nickname="龙王")
    b = consent(make_player(nickname="凤凰"), "in_game", status="refused")
    campaign = make_campaign(channel="in_game", holdout_percent=0, template="{nickname}，回来领礼包！")
    # when launched twice
    campaign_launch(campaign=campaign, actor=supervisor, now=LAUNCH)
    campaign_launch(campaign=campaign, actor=supervisor, now=LAUNCH)
    # then
    assert Message.objects.filter(campaign=campaign).count() == 2
    sent = Message.objects.get(player=a)
    assert sent.body == "龙王，回来领礼包！" and sent.status == MessageStatus.QUEUED and sent.source == campaign.source
    cancelled = Message.objects.get(player=b)
    assert cancelled.status == MessageStatus.CANCELLED and "refused" in cancelled.status_reason_text
    # and delivery marks the target contacted and reached
    messages_deliver_due(now=LAUNCH)
    results = campaign_results(campaign=campaign)
    assert (results.treated.targeted, results.treated.contacted, results.treated.reached) == (2, 1, 1)


def test_sms_campaign_reaches_only_granted_adults_with_the_opt_out_suffix(
    make_campaign, make_player, supervisor, consent
):
    from datetime import date

    granted = consent(make_player(nickname="龙王"), "sms")
    silent = make_player(nickname="凤凰")
    minor = consent(make_player(nickname="小明", birthday=date(2010, 1, 1)), "sms")
    campaign = make_campaign(channel="sms", holdout_percent=0, template="{nickname}，回来领礼包！")
    campaign_launch(campaign=campaign, actor=supervisor, now=LAUNCH)
    rows = {m.player_id: m for m in Message.objects.filter(campaign=campaign)}
    assert (rows[granted.pk].status, rows[granted.pk].body) == (MessageStatus.QUEUED, "龙王，回来领礼包！ 拒收请回复R")
    assert (rows[silent.pk].status, rows[silent.pk].status_reason) == (MessageStatus.CANCELLED, "no_consent")
    assert (rows[minor.pk].status, rows[minor.pk].status_reason) == (MessageStatus.CANCELLED, "minor")


# --- Outcomes ------------------------------------------------------------------


def test_outcome_writes_the_contact_log_and_counts_as_contact(make_campaign, make_player, manager, supervisor):
    player = make_player(manager=manager)
    campaign = make_campaign(holdout_percent=0)
    campaign_launch(campaign=campaign, actor=supervisor, now=LAUNCH)
    task = OutreachTask.objects.get(player=player)
    # a first try: no answer, the task stays open
    task_outcome_record(task=task, outcome="no_answer", actor=manager, note="关机", now=LAUNCH + timedelta(hours=1))
    task.refresh_from_db()
    assert task.status == TaskStatus.OPEN and task.outcome == "no_answer"
    # the second: reached and promised to return
    later = LAUNCH + timedelta(days=1)
    task_outcome_record(task=task, outcome="promised_return", actor=manager, note="周末回来", now=later)
    task.refresh_from_db()
    assert task.status == TaskStatus.DONE and task.completed_at == later and "周末回来" in task.note
    contacts = list(ContactLog.objects.filter(player=player).order_by("contacted_at"))
    assert [c.outcome for c in contacts] == ["no_answer", "promised_return"]
    assert (
        contacts[1].staff == manager and contacts[1].source == f"task:{task.pk}" and contacts[1].summary == "周末回来"
    )
    target = CampaignTarget.objects.get(player=player)
    assert target.contacted_at == LAUNCH + timedelta(hours=1) and target.reached_at == later
    with pytest.raises(ValidationError):
        task_outcome_record(task=task, outcome="reached", actor=manager)


def test_unknown_outcome_is_refused(make_campaign, make_player, manager, supervisor):
    make_player(manager=manager)
    campaign = make_campaign(holdout_percent=0)
    campaign_launch(campaign=campaign, actor=supervisor, now=LAUNCH)
    with pytest.raises(ValidationError) as info:
        task_outcome_record(task=OutreachTask.objects.get(), outcome="message_sent", actor=manager)
    assert "outcome" in info.value.message_dict


# --- Results -------------------------------------------------------------------


def test_two_proportion_z_test_known_answer():
    # 80/200 against 50/200: pooled 0.325, se 0.046837, z 3.2026, p 0.00136
    z, p = two_proportion_z_test(80, 200, 50, 200)
    assert z == pytest.approx(3.2026, abs=1e-4)
    assert p == pytest.approx(0.001362, abs=1e-5)
    assert two_proportion_z_test(5, 100, 5, 100) == (0.0, 1.0)
    assert two_proportion_z_test(0, 0, 5, 100) == (None, None)


@time_machine.travel(datetime(2027, 2, 1, tzinfo=UTC), tick=False)
def test_results_on_a_constructed_scenario(make_campaign, supervisor, pay, manager):
    # given a launched campaign with 200 treated and 200 held-out players, built by hand
    campaign = make_campaign(holdout_percent=50)
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.LAUNCHED, launched_at=LAUNCH)
    treated, holdout = _players(200), _players(200)
    CampaignTarget.objects.bulk_create(
        [CampaignTarget(campaign=campaign, player=p, is_holdout=False, reference_at=LAUNCH) for p in treated]
        + [CampaignTarget(campaign=campaign, player=p, is_holdout=True, reference_at=LAUNCH) for p in holdout]
    )
    tasks = OutreachTask.objects.bulk_create(
        [
            OutreachTask(player=p, campaign=campaign, title="t", due_date=date(2026, 11, 30), source=campaign.source)
            for p in treated[:150]
        ]
    )
    # 150 treated are called on day 1: 120 reached, 30 no answer
    day1 = LAUNCH + timedelta(days=1)
    for i, task in enumerate(tasks):
        task_outcome_record(task=task, outcome="reached" if i < 120 else "no_answer", actor=manager, now=day1)
    # 80 treated log in 3 days after their call; 5 more only after 20 days (too late)
    for p in treated[:80]:
        Player.objects.filter(pk=p.pk).update(last_login_at=day1 + timedelta(days=3))
    for p in treated[80:85]:
        Player.objects.filter(pk=p.pk).update(last_login_at=day1 + timedelta(days=20))
    # 50 held-out players log in within 14 days of launch; 3 logged in before the launch
    for p in holdout[:50]:
        Player.objects.filter(pk=p.pk).update(last_login_at=LAUNCH + timedelta(days=5))
    for p in holdout[50:53]:
        Player.objects.filter(pk=p.pk).update(last_login_at=LAUNCH - timedelta(days=1))
    # payments: 4 treated pay within 30 days (one twice, one refund), one after 40 days; 1 holdout pays
    for p, amount, days in [
        (treated[0], 648, 2),
        (treated[0], 98, 5),
        (treated[1], 328, 10),
        (treated[2], 30, 29),
        (treated[3], 6, 3),
    ]:
        pay(p, amount, at=day1 + timedelta(days=days))
    pay(treated[4], 1000, at=day1 + timedelta(days=40))
    pay(treated[3], 6, kind="refund", at=day1 + timedelta(days=4), refund_of="")
    pay(holdout[0], 98, at=LAUNCH + timedelta(days=1))
    # when
    results = campaign_results(campaign=campaign)
    # then
    t, h = results.treated, results.holdout
    assert (t.targeted, t.contacted, t.reached, t.returned, t.paid) == (200, 150, 120, 80, 4)
    assert t.revenue == Decimal("1104.00")  # 648 + 98 + 328 + 30 + 6 - 6
    assert (h.targeted, h.contacted, h.reached, h.returned, h.paid, h.revenue) == (200, 0, 0, 50, 1, Decimal("98.00"))
    returned = results.uplifts[0]
    assert returned.z == pytest.approx(3.2026, abs=1e-4) and returned.p_value == pytest.approx(0.001362, abs=1e-5)
    assert returned.difference == pytest.approx(15.0)
    assert returned.verdict.startswith("The campaign worked: 40.0 % returned against 25.0 %")
    assert results.uplifts[1].verdict.startswith("Too few")


@time_machine.travel(datetime(2027, 2, 1, tzinfo=UTC), tick=False)
@pytest.mark.parametrize("statement", ["portable", "postgresql"])
def test_results_are_the_same_through_each_database_statement(make_campaign, pay, statement):
    """Returns and payments per group: PostgreSQL's own statements and the ORM's are one
    rule (on PostgreSQL both run over the same cases; on SQLite the ORM's)."""
    if statement == "postgresql" and connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's statements need PostgreSQL: run with DATABASE_URL=postgres://...")
    portable = statement == "portable"
    # given targets called at different times after the launch
    campaign = make_campaign(holdout_percent=50)
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.LAUNCHED, launched_at=LAUNCH)
    campaign.refresh_from_db()
    players = _players(7)
    called = [LAUNCH, LAUNCH + timedelta(days=2), LAUNCH, LAUNCH + timedelta(days=5), LAUNCH, LAUNCH, LAUNCH]
    CampaignTarget.objects.bulk_create(
        CampaignTarget(campaign=campaign, player=p, is_holdout=i >= 5, reference_at=called[i])
        for i, p in enumerate(players)
    )
    logins = [
        LAUNCH + timedelta(days=3),  # within 14 days: returned
        LAUNCH + timedelta(days=1),  # before its own reference time: not
        LAUNCH + timedelta(days=14),  # on the last moment of the window: returned
        LAUNCH + timedelta(days=19, seconds=1),  # a second after its window: not
        None,  # never logged in
        LAUNCH - timedelta(days=1),  # before the launch: not
        LAUNCH + timedelta(days=13),  # held out, returned
    ]
    for player, login in zip(players, logins, strict=True):
        Player.objects.filter(pk=player.pk).update(last_login_at=login)
    pay(players[0], "648.00", at=LAUNCH + timedelta(days=1))
    pay(players[0], "98.00", at=LAUNCH + timedelta(days=30))  # the window's last moment
    pay(players[0], "6.00", kind="refund", at=LAUNCH + timedelta(days=2), refund_of="")
    pay(players[1], "328.00", at=LAUNCH + timedelta(days=1))  # before its reference time
    pay(players[3], "30.00", at=LAUNCH + timedelta(days=34))  # within its own window
    pay(players[4], "6.00", at=LAUNCH - timedelta(days=9))
    pay(players[4], "1.00", kind="refund", at=LAUNCH + timedelta(days=3), refund_of="")  # only a refund within
    pay(players[2], "1000.00", at=LAUNCH + timedelta(days=31))  # too late
    pay(players[6], "68.00", at=LAUNCH - timedelta(hours=1))  # before the launch
    pay(players[5], "12.00", at=LAUNCH + timedelta(days=29))
    # when
    marked = targets_returns_mark(campaign=campaign, portable=portable)
    groups = sorted(payments_by_group(campaign=campaign, portable=portable))
    # then
    returned = dict(CampaignTarget.objects.filter(campaign=campaign).values_list("player_id", "returned_at"))
    assert marked == 3
    assert [returned[p.pk] for p in players] == [logins[0], None, logins[2], None, None, None, logins[6]]
    assert [(is_holdout, paid, Decimal(revenue)) for is_holdout, paid, revenue in groups] == [
        (False, 2, Decimal("769.00")),  # 648 + 98 - 6 + 30 - 1
        (True, 1, Decimal("12.00")),
    ]
    assert targets_returns_mark(campaign=campaign, portable=portable) == 0


def test_results_of_a_campaign_with_no_effect(make_campaign, supervisor):
    campaign = make_campaign(holdout_percent=50)
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.LAUNCHED, launched_at=LAUNCH)
    treated, holdout = _players(100), _players(100)
    CampaignTarget.objects.bulk_create(
        [CampaignTarget(campaign=campaign, player=p, is_holdout=False, reference_at=LAUNCH) for p in treated]
        + [CampaignTarget(campaign=campaign, player=p, is_holdout=True, reference_at=LAUNCH) for p in holdout]
    )
    for group in (treated[:30], holdout[:28]):
        Player.objects.filter(pk__in=[p.pk for p in group]).update(last_login_at=LAUNCH + timedelta(days=2))
    verdict = campaign_results(campaign=campaign).uplifts[0]
    assert verdict.verdict.startswith("No clear effect yet") and verdict.p_value > 0.5


@time_machine.travel(datetime(2026, 11, 22, 17, 30, tzinfo=UTC), tick=False)  # 01:30 on the 23rd in Shanghai
def test_sql_and_python_rendering_agree(
    requires_postgres, make_campaign, make_player, manager, make_staff, tiers, supervisor, consent
):
    # given players with every kind of value, including a login on each side of local midnight
    from campaigns.services.campaigns import _messages_insert

    manager.first_name, manager.last_name = "Li", "Na"
    manager.save()
    bare = make_staff("bare", "VIP manager")
    now = timezone.now()
    players = [
        make_player(
            nickname="龙王",
            tier=tiers["V3"],
            manager=manager,
            total_spend=Decimal("1296.00"),
            level=80,
            last_login_at=datetime(2026, 11, 22, 15, 59, tzinfo=UTC),
            last_paid_at=now - timedelta(days=40),
        ),
        make_player(nickname="", manager=bare, last_login_at=datetime(2026, 11, 22, 16, 1, tzinfo=UTC)),
        consent(make_player(nickname="{{不是变量}}"), "sms", status="refused"),
        make_player(nickname="李的玩家", manager=make_staff("lina", "VIP manager", first_name="娜", last_name="李")),
    ]
    template = "{nickname}/{account_id}/{server}/{level}/{tier}/{manager}/{days_since_login}/{days_since_payment}/{total_spend} {{x}}"
    sql_campaign = make_campaign(channel="sms", holdout_percent=0, template=template)
    py_campaign = make_campaign(channel="sms", holdout_percent=0, template=template)
    for campaign in (sql_campaign, py_campaign):
        campaign_launch(campaign=campaign, actor=supervisor, now=now, chunk_size=1)  # targets only
        Message.objects.filter(campaign=campaign).delete()
    # when each path renders the same players
    assert _messages_insert(campaign=sql_campaign, low=0, high=10**9, now=now) == 4
    assert _messages_insert(campaign=py_campaign, low=0, high=10**9, now=now, sql_texts=False) == 4

    # then the messages are the same
    def bodies(campaign):
        return {
            m.player_id: (m.body, m.subject, m.status, m.status_reason)
            for m in Message.objects.filter(campaign=campaign)
        }

    assert bodies(sql_campaign) == bodies(py_campaign)
    assert (
        bodies(sql_campaign)[players[0].pk][0]
        == f"龙王/{players[0].account_id}/s1/80/V3/Li Na/1/40/1296.00 {{x}} 拒收请回复R"
    )
    assert bodies(sql_campaign)[players[1].pk][0].split("/")[5:7] == ["bare", "0"]
    assert bodies(sql_campaign)[players[3].pk][0].split("/")[5] == "李娜"  # family name first, no space


def test_refresh_task_and_command_update_running_campaigns(make_campaign, make_player, supervisor, capsys):
    from django.core.management import call_command

    from campaigns.tasks import refresh_campaign_results

    player = make_player()
    campaign = make_campaign(holdout_percent=0)
    launched_at = timezone.now() - timedelta(days=3)
    campaign_launch(campaign=campaign, actor=supervisor, now=launched_at)
    Player.objects.filter(pk=player.pk).update(last_login_at=launched_at + timedelta(days=1))
    assert refresh_campaign_results.delay().get() == 1
    assert CampaignTarget.objects.get(player=player).returned_at == launched_at + timedelta(days=1)
    call_command("refresh_campaign_results")
    assert "1 campaigns refreshed." in capsys.readouterr().out
