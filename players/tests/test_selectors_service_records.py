from datetime import UTC, date, datetime, timedelta

from players.selectors.service_records import (
    cases_escalated,
    cases_overdue_for,
    follow_ups_due,
)
from players.services import contact_log_create
from players.services.cases import (
    case_wait_on_player,
    cases_escalate_overdue,
)
from players.tests.fixtures import local

DAY = date(2026, 11, 20)


def test_follow_ups_appear_in_the_managers_worklist_on_the_day(make_player, make_staff, time_machine):
    time_machine.move_to(local(DAY, 10), tick=False)
    li, wang = make_staff("li", "VIP manager"), make_staff("wang", "VIP manager")
    yesterday = local(DAY - timedelta(days=1), 15)

    def contact(player, follow_up=None, at=yesterday, staff=li):
        return contact_log_create(
            player=player, staff=staff, channel="qq", topic="回访", contacted_at=at, next_follow_up=follow_up
        )

    due = contact(make_player(manager=li), DAY)
    answered_player = make_player(manager=li)
    contact(answered_player, DAY)
    contact(answered_player, at=local(DAY, 9))  # already called back
    automatic_player = make_player(manager=li)
    still_due = contact(automatic_player, DAY)
    contact(automatic_player, at=local(DAY, 9), staff=None)  # a sent message is not a follow-up
    others = contact(make_player(manager=wang), DAY, staff=wang)
    overdue = contact(make_player(manager=li), DAY - timedelta(days=2), at=local(DAY - timedelta(days=3), 9))

    assert list(follow_ups_due(user=li)) == [due, still_due]
    assert list(follow_ups_due(user=li, include_overdue=True)) == [overdue, due, still_due]
    assert set(follow_ups_due()) == {due, still_due, others}


def test_overdue_and_escalated_case_lists(make_player, make_case, manager, other_manager, supervisor):
    now = datetime(2026, 11, 22, 2, tzinfo=UTC)
    mine = make_case(make_player(manager=manager), opened_at=now - timedelta(hours=80))
    theirs = make_case(make_player(manager=other_manager), opened_at=now - timedelta(hours=80))
    make_case(make_player(manager=manager), opened_at=now - timedelta(hours=10))  # not yet due
    paused = make_case(make_player(manager=manager), opened_at=now - timedelta(hours=90))
    case_wait_on_player(case=paused, actor=None, now=now - timedelta(hours=85))

    cases_escalate_overdue(now=now)

    assert list(cases_overdue_for(manager, now=now)) == [mine]
    assert list(cases_escalated(user=manager)) == [mine]
    assert set(cases_escalated(user=supervisor)) == {mine, theirs}
