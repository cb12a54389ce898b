import pytest
from django.core.exceptions import ValidationError

from players.models import FeedbackReport, FeedbackStatus, FeedbackTopic
from players.selectors.service_records import feedback_board
from players.services.feedback import feedback_fingerprint, feedback_record, feedback_topics_merge

WORDINGS = ["登录后闪退！", "登录后闪退", "登录后 闪退。", "登录后闪退!!", "登录后闪退～"]


def test_forty_players_with_the_same_problem_make_one_topic_with_forty_reports(make_player):
    players = [make_player() for _ in range(40)]

    for i, player in enumerate(players):
        feedback_record(player=player, text=WORDINGS[i % len(WORDINGS)], kind="bug")
    feedback_record(player=players[0], text="商城价格显示错误", kind="bug")

    board = list(feedback_board())
    assert [(t.report_count, t.title) for t in board] == [(40, "登录后闪退！"), (1, "商城价格显示错误")]
    assert FeedbackReport.objects.filter(topic=board[0]).values("player").distinct().count() == 40


def test_grouping_ignores_case_spaces_punctuation_and_numbers_but_not_the_kind():
    assert feedback_fingerprint(kind="bug", text="Crash at LEVEL 12!") == feedback_fingerprint(
        kind="bug", text="crash at level 3"
    )
    assert feedback_fingerprint(kind="bug", text="crash") != feedback_fingerprint(kind="suggestion", text="crash")


def test_same_as_merges_topics_and_later_reports_follow(make_player):
    player = make_player()
    a = feedback_record(player=player, text="登录闪退", kind="bug").topic
    b = feedback_record(player=player, text="一登录就闪退", kind="bug").topic
    feedback_record(player=make_player(), text="一登录就闪退", kind="bug")

    merged = feedback_topics_merge(target=a, topics=[a, b])
    later = feedback_record(player=make_player(), text="一登录就闪退！", kind="bug")

    a.refresh_from_db()
    b.refresh_from_db()
    assert merged == 1
    assert later.topic == a
    assert a.report_count == 4
    assert (b.status, b.merged_into, b.report_count) == (FeedbackStatus.MERGED, a, 0)
    assert list(feedback_board()) == [a]


def test_an_explicit_same_as_puts_the_report_on_that_topic(make_player):
    topic = feedback_record(player=make_player(), text="充值不到账", kind="bug").topic

    report = feedback_record(player=make_player(), text="钻石没收到", kind="bug", same_as=topic)

    assert report.topic == topic
    assert FeedbackTopic.objects.get(pk=topic.pk).report_count == 2
    assert FeedbackTopic.objects.count() == 1


def test_empty_feedback_is_refused_naming_the_field(make_player):
    with pytest.raises(ValidationError) as excinfo:
        feedback_record(player=make_player(), text=" ！！ ", kind="bug")

    assert "text" in excinfo.value.message_dict
    assert FeedbackTopic.objects.count() == 0


def test_a_topic_edit_goes_through_the_service_which_keeps_merging_to_same_as(make_player, supervisor):
    from players.services.feedback import feedback_topic_update

    topic = feedback_record(player=make_player(), kind="bug", channel="qq", text="闪退", actor=None).topic

    edited = feedback_topic_update(
        topic=topic, data={"status": FeedbackStatus.PLANNED, "product_note": "下个版本修复"}, actor=supervisor
    )
    with pytest.raises(ValidationError) as merged:
        feedback_topic_update(topic=topic, data={"status": FeedbackStatus.MERGED}, actor=supervisor)
    with pytest.raises(ValidationError):
        feedback_topic_update(topic=topic, data={"report_count": 0}, actor=supervisor)

    assert (edited.status, edited.product_note) == (FeedbackStatus.PLANNED, "下个版本修复")
    assert "status" in merged.value.message_dict
    topic.refresh_from_db()
    assert (topic.status, topic.report_count) == (FeedbackStatus.PLANNED, 1)
