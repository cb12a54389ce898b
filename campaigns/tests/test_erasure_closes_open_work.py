"""An erasure on request (PIPL Art. 47) leaves nothing open for the player: in its own
transaction it cancels their open outreach tasks and queued messages (campaigns' writers,
through the erasure's hook), takes their open follow-ups off the worklists and expires their
unanswered surveys and closes their open cases (players' writers), each with the reason a
person reads."""

import html
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Message, MessageStatus, OutreachTask, TaskStatus
from campaigns.services.campaigns import campaign_launch, task_outcome_record
from campaigns.services.messaging import message_queue
from players.case_events import case_event_text
from players.models import OPEN_STATUSES, Case, CaseStatus, ContactLog, DataRequest, SatisfactionSurvey, SurveyStatus
from players.selectors.service_records import follow_ups_due
from players.services.service_records import contact_log_create

REASON = {
    "en": "Personal data erased on request (PIPL Art. 47).",
    "zh-hans": "个人信息已应玩家请求删除（个保法第四十七条）。",
}


@pytest.fixture
def open_work(make_campaign, make_player, make_case, manager, supervisor):
    """Two players of the manager, each with an open campaign task due today, a queued
    message, a contact with a follow-up due today, a survey waiting for its answer and an
    open complaint case."""
    today = timezone.localdate()
    players = [make_player(manager=manager, nickname=name, phone="+8613812345678") for name in ("龙王", "凤凰")]
    campaign = make_campaign(holdout_percent=0, template="{nickname}您好", start_date=today, due_date=today)
    campaign_launch(campaign=campaign, actor=supervisor)
    for player in players:
        message_queue(
            player=player, channel="in_game", body="您的工单已处理", source=f"t:{player.pk}", is_marketing=False
        )
        contact_log_create(
            player=player,
            staff=manager,
            channel="phone",
            contacted_at=timezone.now() - timedelta(days=1),
            topic="回访",
            outcome="reached",
            next_follow_up=today,
        )
        make_case(player)
    return players


def test_the_erasure_closes_the_players_open_work_with_the_reason(client, open_work, manager, erase):
    live, gone = open_work
    assert SatisfactionSurvey.objects.filter(player=gone, status=SurveyStatus.SENT).exists()

    erase(gone)

    task = OutreachTask.objects.get(player=gone)
    assert task.status == TaskStatus.CANCELLED and task.note_text == REASON["en"]
    message = Message.objects.get(player=gone)
    assert message.status == MessageStatus.CANCELLED and message.status_reason_text == REASON["en"]
    assert SatisfactionSurvey.objects.get(player=gone).status == SurveyStatus.EXPIRED
    assert [c.player_id for c in follow_ups_due(user=manager)] == [live.pk]
    # the other player's work is untouched
    assert OutreachTask.objects.get(player=live).status == TaskStatus.OPEN
    assert Message.objects.get(player=live).status in (MessageStatus.QUEUED, MessageStatus.POSTPONED)
    assert SatisfactionSurvey.objects.get(player=live).status == SurveyStatus.SENT
    counts = DataRequest.objects.get(player=gone, kind="erasure").row_counts
    assert counts["tasks cancelled"] == 1 and counts["messages cancelled"] == 1
    assert counts["follow-ups closed"] == 1 and counts["surveys expired"] == 1
    assert counts["cases closed"] == 1
    case = Case.objects.get(player=gone)
    assert case.status == CaseStatus.CLOSED and case.sla_met is None
    assert case_event_text(case.events.order_by("pk").last()).endswith(REASON["en"])
    assert Case.objects.get(player=live).status == CaseStatus.NEW
    # the open-case counts (the team's overdue figure) no longer count it
    assert not Case.objects.filter(player=gone, status__in=OPEN_STATUSES).exists()
    # an outcome on the cancelled task is refused as for any closed task
    with pytest.raises(ValidationError, match="no longer open"):
        task_outcome_record(task=task, outcome="reached", actor=manager)


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_worklists_no_longer_show_the_erased_player_and_the_pages_say_why(
    client, open_work, manager, erase, language
):
    live, gone = open_work
    erase(gone)
    client.force_login(manager)
    headers = {"HTTP_ACCEPT_LANGUAGE": language}

    worklist = client.get(reverse("admin:campaigns_worklisttask_changelist"), **headers).content.decode()
    assert f'id="task-{OutreachTask.objects.get(player=live).pk}"' in worklist
    assert f'id="task-{OutreachTask.objects.get(player=gone).pk}"' not in worklist

    follow_ups = client.get(reverse("admin:players_contactlog_changelist") + "?follow_up=mine_today", **headers)
    assert [c.player_id for c in follow_ups.context["cl"].result_list] == [live.pk]

    task_page = client.get(
        reverse("admin:campaigns_outreachtask_change", args=[OutreachTask.objects.get(player=gone).pk]), **headers
    )
    assert REASON[language] in html.unescape(task_page.content.decode())

    contact = ContactLog.objects.get(player=gone)
    contact_page = client.get(reverse("admin:players_contactlog_change", args=[contact.pk]), **headers)
    assert REASON[language] in html.unescape(contact_page.content.decode())

    case = Case.objects.get(player=gone)
    case_page = client.get(reverse("admin:players_case_change", args=[case.pk]), **headers)
    assert REASON[language] in html.unescape(case_page.content.decode())
