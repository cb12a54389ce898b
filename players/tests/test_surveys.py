"""Satisfaction surveys (players.services.surveys, the survey page and the game API):
sent on a resolution and after a return visit, one reminder, answered once, the case's
score in the existing store, a low score a follow-up task for a supervisor."""

import re
from datetime import timedelta

import pytest
from django.core import signing
from django.utils import timezone, translation

from campaigns.models import Message, OutreachTask
from players.models import Case, Player, SatisfactionSurvey, SurveyStatus
from players.services.cases import case_resolve
from players.services.service_records import contact_log_create
from players.services.surveys import (
    SALT,
    survey_answer,
    survey_from_token,
    survey_link,
    survey_token,
    surveys_remind,
)

ANSWER = "/api/v1/surveys/answer/"


@pytest.fixture
def resolved(make_player, make_case, manager, django_capture_on_commit_callbacks):
    player = make_player(nickname="星河", manager=manager, preferred_channel="sms")
    case = make_case(player, actor=manager)
    with django_capture_on_commit_callbacks(execute=True):
        case_resolve(case=case, actor=manager, resolution="已补发")
    return SatisfactionSurvey.objects.get(case=case)


def test_a_resolution_sends_a_survey_on_the_players_channel(resolved, manager):
    assert (resolved.kind, resolved.manager, resolved.category, resolved.channel) == (
        "case",
        manager,
        "complaint",
        "sms",
    )
    message = Message.objects.get(player=resolved.player, source=f"survey:{resolved.pk}:first")
    assert message.channel == "sms" and "星河" in message.body and "满意" in message.body  # in Chinese
    token = re.search(r"/survey/([^/]+)/", message.body).group(1)
    assert message.body.endswith(survey_link(resolved)[: -len(token) - 1] + token + "/")
    assert survey_from_token(token) == resolved


def test_a_return_visit_sends_one_and_other_contacts_do_not(
    make_player, manager, settings, django_capture_on_commit_callbacks
):
    player = make_player(manager=manager)
    with django_capture_on_commit_callbacks(execute=True):
        visit = contact_log_create(player=player, staff=manager, channel="phone", outcome="reached", topic="回访")
        contact_log_create(player=player, staff=manager, channel="phone", outcome="no_answer", topic="回访")
        contact_log_create(player=player, staff=manager, channel="phone", direction="inbound", topic="来电")
    assert list(SatisfactionSurvey.objects.values_list("contact", flat=True)) == [visit.pk]
    settings.CRM_SURVEY_AFTER_RETURN_VISIT = False
    contact_log_create(player=player, staff=manager, channel="phone", outcome="reached", topic="回访")
    assert SatisfactionSurvey.objects.count() == 1


def test_answered_once_and_the_score_lands_on_the_case(resolved):
    survey_answer(survey=resolved, score="4", reason="处理很快", via="link")
    case = Case.objects.get(pk=resolved.case_id)
    assert (case.satisfaction, case.satisfaction_note) == (4, "处理很快")
    with pytest.raises(Exception) as again:
        survey_answer(survey=resolved, score=1, reason="", via="in_game")
    assert "survey" in again.value.message_dict
    assert Case.objects.get(pk=resolved.case_id).satisfaction == 4


def test_a_low_score_opens_a_follow_up_task_for_a_supervisor(resolved, supervisor):
    survey_answer(survey=resolved, score=1, reason="根本没解决", via="link")
    task = OutreachTask.objects.get(source=f"survey:{resolved.pk}")
    assert task.assignee == supervisor and task.kind == "follow_up" and "1/5" in task.title
    assert task.note == "根本没解决"


@pytest.mark.parametrize(
    ("score", "reason", "field"),
    [("0", "", "score"), ("6", "", "score"), ("4.5", "", "score"), (True, "", "score"), (4, "x" * 501, "reason")],
)
def test_bad_answers_are_refused_naming_the_field(resolved, score, reason, field):
    with pytest.raises(Exception) as refused:
        survey_answer(survey=resolved, score=score, reason=reason, via="link")
    assert field in refused.value.message_dict
    assert SatisfactionSurvey.objects.get(pk=resolved.pk).status == SurveyStatus.SENT


def test_one_reminder_at_most_then_expiry(resolved, django_capture_on_commit_callbacks):
    later = resolved.sent_at + timedelta(hours=49)
    with django_capture_on_commit_callbacks(execute=True):
        assert surveys_remind(now=resolved.sent_at + timedelta(hours=47)) == 0
        assert surveys_remind(now=later) == 1
        assert surveys_remind(now=later + timedelta(hours=49)) == 0
    assert Message.objects.filter(source=f"survey:{resolved.pk}:reminder").count() == 1
    surveys_remind(now=resolved.sent_at + timedelta(days=15))
    expired = SatisfactionSurvey.objects.get(pk=resolved.pk)
    assert expired.status == SurveyStatus.EXPIRED
    # it says why, and when its link stopped working (14 days after sending), in local time
    assert (expired.expiry_reason, expired.expired_at) == ("no_answer", resolved.sent_at + timedelta(days=14))
    at = timezone.localtime(expired.expired_at).strftime("%Y-%m-%d %H:%M")
    with translation.override("zh-hans"):
        assert expired.expiry_text == f"发出后 14 天内未作答：链接已于 {at} 失效。"
    with translation.override("en"):
        assert expired.expiry_text == f"Not answered within 14 days of sending: its link expired on {at}."


def test_a_survey_of_an_erased_player_expires_saying_so(resolved, erase):
    # when the player's personal data is erased on request
    erase(resolved.player)
    # then the survey waiting for an answer expired with the erasure, saying so
    expired = SatisfactionSurvey.objects.get(pk=resolved.pk)
    assert (expired.status, expired.expiry_reason) == (SurveyStatus.EXPIRED, "erased")
    assert expired.expired_at == Player.objects.get(pk=resolved.player_id).erased_at
    with translation.override("zh-hans"):
        assert expired.expiry_text.startswith("玩家的个人信息已于 ") and "应其请求删除" in expired.expiry_text
    # and a survey still waiting says nothing of expiry
    assert SatisfactionSurvey(status=SurveyStatus.SENT).expiry_text == ""


def test_forged_and_mangled_links_name_no_survey(resolved):
    token = survey_token(resolved)
    assert survey_from_token(token) == resolved
    assert survey_from_token(token[:-2] + "xx") is None
    assert survey_from_token(signing.dumps(resolved.pk, salt="another")) is None
    assert survey_from_token(signing.dumps("1 OR 1=1", salt=SALT)) is None
    assert survey_from_token("") is None


def test_the_game_answers_in_game_signed(api, resolved):
    token = survey_token(resolved)
    # another account cannot answer this player's survey
    other = api.post(ANSWER, {"token": token, "account_id": "acc-999", "score": 5})
    assert other.status_code == 404
    bad = api.post(ANSWER, {"token": token, "account_id": resolved.player.account_id, "score": 9})
    assert bad.status_code == 400 and "score" in bad.json()["fields"]
    unsigned = api.post(ANSWER, {"token": token, "account_id": resolved.player.account_id, "score": 5}, sign=False)
    assert unsigned.status_code == 401

    ok = api.post(ANSWER, {"token": token, "account_id": resolved.player.account_id, "score": 5, "reason": "好"})
    assert ok.status_code == 200 and ok.json() == {"status": "answered", "score": 5}
    survey = SatisfactionSurvey.objects.get(pk=resolved.pk)
    assert (survey.answered_via, survey.score) == ("in_game", 5)
    again = api.post(ANSWER, {"token": token, "account_id": resolved.player.account_id, "score": 1})
    assert again.status_code == 409


def test_a_server_bound_client_answers_only_for_its_server(client, resolved):
    from crm.api.authentication import client_cache
    from crm.services import api_client_create
    from crm.tests.fixtures import SignedApi

    client_cache.clear()
    other_server = SignedApi(client, api_client_create(name="s2-only", game="Legends", server="s2"))
    response = other_server.post(
        ANSWER, {"token": survey_token(resolved), "account_id": resolved.player.account_id, "score": 5}
    )
    assert response.status_code == 403
    assert SatisfactionSurvey.objects.get(pk=resolved.pk).status == SurveyStatus.SENT
    assert timezone.now()  # nothing answered


def test_surveys_expired_before_the_reasons_get_theirs(resolved, make_player, settings):
    from importlib import import_module

    from django.apps import apps

    migration = import_module("players.migrations.0033_survey_expiry_reason")
    # given surveys expired before expiry had reasons: one of an erased player, one unanswered
    erased_at = resolved.sent_at + timedelta(days=2)
    gone = make_player(nickname="gone")
    Player.objects.filter(pk=gone.pk).update(erased_at=erased_at)
    old_gone = SatisfactionSurvey.objects.create(
        player=gone, kind="case", channel="sms", sent_at=resolved.sent_at, status=SurveyStatus.EXPIRED
    )
    SatisfactionSurvey.objects.filter(pk=resolved.pk).update(status=SurveyStatus.EXPIRED)
    # when
    migration.expired_say_why(apps, None)
    # then each says why, and when
    old_gone.refresh_from_db(), resolved.refresh_from_db()
    assert (old_gone.expiry_reason, old_gone.expired_at) == ("erased", erased_at)
    assert (resolved.expiry_reason, resolved.expired_at) == (
        "no_answer",
        resolved.sent_at + timedelta(days=settings.CRM_SURVEY_VALID_DAYS),
    )
