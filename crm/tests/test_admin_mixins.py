"""Lists of player data, as a VIP manager and as a supervisor: scoped to the manager's
players, and a fixed number of queries whether they show one row or many (no N+1)."""

import itertools
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from campaigns.models import Message, OutreachTask
from crm.paginator import EstimatedCountPaginator, planner_estimate
from players.models import ContactLog, Player
from vip.models import ManagerAssignment, Tier, TierChange

_n = itertools.count(1)


def _player(manager):
    return Player.objects.create(account_id=f"q-{next(_n)}", server="s1", nickname="玩家", manager=manager)


def _payment(manager, pay):
    return pay(_player(manager), "30.00")


def _tier_change(manager, actor):
    tiers = list(Tier.objects.order_by("level")[:2])
    return TierChange.objects.create(
        player=_player(manager), from_tier=tiers[0], to_tier=tiers[1], reason="manual", actor=actor,
        changed_at=timezone.now(),
    )  # fmt: skip


def _assignment(manager, actor):
    return ManagerAssignment.objects.create(
        player=_player(manager), from_manager=actor, to_manager=manager, actor=actor, assigned_at=timezone.now()
    )


def _contact(manager, actor):
    return ContactLog.objects.create(player=_player(manager), staff=actor, contacted_at=timezone.now(), topic="回访")


def _task(manager, actor):
    return OutreachTask.objects.create(
        player=_player(manager), assignee=manager, created_by=actor, title="回访", due_date=timezone.localdate()
    )


def _message(manager, actor):
    return Message.objects.create(
        player=_player(manager), channel="sms", body="生日快乐", scheduled_for=timezone.now() + timedelta(hours=1)
    )


# model url, row factory, queries as (manager, supervisor); None: only "same for 1 and many, at most 15".
CHANGELISTS = {
    "players/player": (lambda m, a, pay: _player(m), (8, 9)),
    "players/payment": (lambda m, a, pay: _payment(m, pay), (6, 6)),
    "players/contactlog": (lambda m, a, pay: _contact(m, a), (6, 6)),
    "vip/tierchange": (lambda m, a, pay: _tier_change(m, a), (7, 7)),
    "vip/managerassignment": (lambda m, a, pay: _assignment(m, a), (6, 6)),
    "campaigns/outreachtask": (lambda m, a, pay: _task(m, a), None),
    "campaigns/message": (lambda m, a, pay: _message(m, a), None),
}


def _queries(client, url):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return len(queries), response


@pytest.mark.parametrize("path", list(CHANGELISTS))
def test_changelist_is_scoped_and_its_queries_do_not_grow_with_rows(
    path, manager, other_manager, supervisor, pay, tiers
):
    cache.clear()  # filter choices are cached: start cold, the warm-up request fills them
    make, pinned = CHANGELISTS[path]
    url = f"/admin/{path}/"
    as_manager, as_supervisor = Client(), Client()
    as_manager.force_login(manager)
    as_supervisor.force_login(supervisor)
    theirs = make(other_manager, supervisor, pay)
    make(manager, supervisor, pay)
    as_manager.get(url), as_supervisor.get(url)  # warm sessions

    one = {"manager": _queries(as_manager, url), "supervisor": _queries(as_supervisor, url)}
    for _ in range(5):
        make(manager, supervisor, pay)
    many = {"manager": _queries(as_manager, url), "supervisor": _queries(as_supervisor, url)}

    for role in ("manager", "supervisor"):
        assert one[role][0] == many[role][0], f"{path} as {role}: {one[role][0]} queries for 1 row, {many[role][0]}"
    if pinned:
        assert (many["manager"][0], many["supervisor"][0]) == pinned
    else:
        assert many["manager"][0] <= 15 and many["supervisor"][0] <= 15
    # scoping: the manager sees their six rows, not the other manager's
    assert many["manager"][1].context["cl"].result_count == 6
    assert many["supervisor"][1].context["cl"].result_count == 7
    theirs_pk = getattr(theirs, "payment", theirs).pk
    assert theirs_pk not in [obj.pk for obj in many["manager"][1].context["cl"].result_list]


def test_paginator_counts_small_lists_exactly(make_player):
    for _ in range(3):
        make_player()
    paginator = EstimatedCountPaginator(Player.objects.all(), 50)
    assert paginator.count == 3 and not paginator.estimated


def test_paginator_estimates_big_lists_on_postgresql(requires_postgres, make_player):
    # given a table the planner believes is big
    Player.objects.bulk_create(Player(account_id=f"big-{i}", total_spend=Decimal(i % 7)) for i in range(5000))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE players_player")

    # when a changelist paginates it
    paginator = EstimatedCountPaginator(Player.objects.order_by("-id"), 50)

    # then the count is the planner's estimate (no COUNT(*)), and close to the truth
    with CaptureQueriesContext(connection) as queries:
        count = paginator.count
    assert paginator.estimated
    assert 4000 <= count <= 6000 and count == planner_estimate(Player.objects.all())
    counts = [q["sql"].upper() for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
    assert counts and all("LIMIT 1001" in sql for sql in counts)  # never an unbounded COUNT(*)
    # and a narrow filter is still counted exactly
    narrow = EstimatedCountPaginator(Player.objects.filter(account_id__in=["big-1", "big-2"]), 50)
    assert narrow.count == 2 and not narrow.estimated
