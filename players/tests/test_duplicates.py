"""The duplicate finder (players.services.duplicates) and its list (players.admin.duplicates):
each rule, the score, the group cap, reruns and reviews, erasure, scope and masking."""

from datetime import date

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm.nightly import nightly_run
from players.models import DuplicateCandidate, DuplicateStatus, Player
from players.services.duplicates import duplicates_dismiss, duplicates_find
from players.services.privacy import PLAYER_TABLES, player_erase

LIST = "/admin/players/duplicatecandidate/"


def pairs():
    return {
        (c.player_a.account_id, c.player_b.account_id): (c.score, sorted(r.code for r in c.rules))
        for c in DuplicateCandidate.objects.select_related("player_a", "player_b")
    }


def test_each_rule_finds_its_pairs_with_score_and_reason(make_player):
    make_player(account_id="p1", phone="+8613812345678", qq="12345678")
    make_player(account_id="p2", phone="+8613812345678", qq="12345678")  # phone and QQ: 60 + 50, at most 100
    make_player(account_id="w1", wechat="WX_Zhao")
    make_player(account_id="w2", wechat="wx_zhao")  # WeChat ids without case
    make_player(account_id="e1", email="Zhao@Example.com")
    make_player(account_id="e2", email="zhao@example.com")
    make_player(account_id="n1", real_name="赵云", birthday=date(1990, 5, 1))
    make_player(account_id="n2", real_name="赵云", birthday=date(1990, 5, 1))
    make_player(account_id="n3", real_name="赵云", birthday=date(1991, 5, 1))  # another birthday: someone else
    make_player(account_id="q1", qq="")  # empty values never match
    make_player(account_id="q2", qq="")

    found = duplicates_find()

    assert pairs() == {
        ("p1", "p2"): (100, ["phone", "qq"]),
        ("w1", "w2"): (60, ["wechat"]),
        ("e1", "e2"): (50, ["email"]),
        ("n1", "n2"): (40, ["name_birthday"]),
    }
    assert (found.pairs, found.new, found.removed) == (4, 4, 0)
    assert set(DuplicateCandidate.objects.values_list("status", flat=True)) == {DuplicateStatus.OPEN}


def test_three_accounts_on_one_phone_are_three_pairs_and_a_crowd_is_none(make_player, settings):
    settings.CRM_DUPLICATE_MAX_GROUP = 3
    for n in range(3):
        make_player(account_id=f"t{n}", phone="+8613900000001")
    for n in range(4):  # a studio's test phone: more accounts than the cap
        make_player(account_id=f"crowd{n}", phone="+8613900000002")

    duplicates_find()

    assert set(pairs()) == {("t0", "t1"), ("t0", "t2"), ("t1", "t2")}


def test_a_rerun_changes_nothing_a_review_stays_and_a_changed_value_drops_the_pair(make_player, manager):
    a = make_player(account_id="a", qq="5551234", manager=manager)
    b = make_player(account_id="b", qq="5551234", manager=manager)
    make_player(account_id="c", wechat="same", manager=manager)
    make_player(account_id="d", wechat="same", manager=manager)
    duplicates_find()
    duplicates_dismiss(candidates=DuplicateCandidate.objects.filter(player_a=a), actor=manager)
    first_found = dict(DuplicateCandidate.objects.values_list("pk", "found_at"))

    again = duplicates_find()
    assert (again.new, again.removed) == (0, 0)
    assert dict(DuplicateCandidate.objects.values_list("pk", "found_at")) == first_found
    assert DuplicateCandidate.objects.get(player_a=a).status == DuplicateStatus.DISMISSED

    Player.objects.filter(pk=b.pk).update(qq="999999")
    after = duplicates_find()
    assert after.removed == 1
    assert set(pairs()) == {("c", "d")}


def test_erased_players_are_never_candidates_and_an_erasure_drops_their_pairs(make_player):
    a = make_player(account_id="a", phone="+8613812345678")
    make_player(account_id="b", phone="+8613812345678")
    duplicates_find()
    assert PLAYER_TABLES["players.DuplicateCandidate"].rows(a.pk).count() == 1  # in the data file of either player
    assert PLAYER_TABLES["players.DuplicateCandidate"].rows(Player.objects.get(account_id="b").pk).count() == 1

    player_erase(player=a, values={"+8613812345678"})
    assert not DuplicateCandidate.objects.exists()
    Player.objects.filter(pk=a.pk).update(phone="+8613812345678")  # even if a value came back
    duplicates_find()
    assert not DuplicateCandidate.objects.exists()


def test_the_nightly_run_finds_duplicates(make_player):
    make_player(account_id="a", qq="5551234")
    make_player(account_id="b", qq="5551234")
    assert nightly_run()["duplicates"] == {"pairs": 1, "new": 1, "removed": 0}


# --- the list ----------------------------------------------------------------------------


@pytest.fixture
def book(make_player, manager, other_manager):
    """Two pairs of the manager's players, one pair across the two managers' books."""
    make_player(account_id="mine1", nickname="我的一号", phone="+8613812345678", manager=manager)
    make_player(account_id="mine2", nickname="我的二号", phone="+8613812345678", manager=manager)
    make_player(account_id="mine3", nickname="我的三号", real_name="赵云", birthday=date(1990, 5, 1), manager=manager)
    make_player(account_id="mine4", nickname="我的四号", real_name="赵云", birthday=date(1990, 5, 1), manager=manager)
    make_player(account_id="mixed1", nickname="混合", qq="3141592653", manager=manager)
    make_player(account_id="theirs1", nickname="别人的", qq="3141592653", manager=other_manager)
    duplicates_find()


def test_a_manager_sees_the_pairs_of_their_own_players_only(client, book, manager, other_manager):
    client.force_login(manager)
    page = client.get(LIST).content.decode()
    assert "mine1" in page and "mine3" in page
    assert "theirs1" not in page and "mixed1" not in page and "3141592653" not in page

    client.force_login(other_manager)
    page = client.get(LIST).content.decode()
    assert "mine1" not in page and "theirs1" not in page


def test_values_are_masked_without_the_permission(client, book, make_staff):
    viewer = make_staff("auditor")
    viewer.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_duplicatecandidate", "view_all_players"])
    )
    client.force_login(viewer)
    page = client.get(LIST).content.decode()
    assert "138****5678" in page and "赵*" in page
    assert "13812345678" not in page and "赵云" not in page and "1990" not in page
    # nor by filtering on a personal value, one digit at a time
    assert client.get(LIST, {"player_a__phone__startswith": "+86138"}).status_code == 400
    assert client.get(LIST, {"o": "player_a__phone"}).status_code in (200, 400)


def test_values_are_in_clear_with_it(client, book, supervisor):
    client.force_login(supervisor)
    page = client.get(LIST).content.decode()
    assert "+8613812345678" in page and "赵云" in page and "3141592653" in page


def test_who_may_not_see_the_list_cannot(client, book, operations):
    client.force_login(operations)
    assert client.get(LIST).status_code == 403


def test_hostile_queries_are_harmless(client, book, supervisor):
    client.force_login(supervisor)
    for params in (
        {"q": "' OR 1=1 --"},
        {"q": "\x00"},
        {"by_phone__exact": "maybe"},
        {"status__exact": "<script>"},
        {"score__gt": "x"},
        {"o": "99"},
        {"p": "-1"},
    ):
        assert client.get(LIST, params).status_code in (200, 302, 400), params


def test_review_through_the_list_only_touches_visible_pairs(client, book, manager):
    theirs = DuplicateCandidate.objects.get(player_b__account_id="theirs1")
    mine = DuplicateCandidate.objects.get(player_a__account_id="mine1")
    client.force_login(manager)
    client.post(LIST, {"action": "dismiss", "_selected_action": [mine.pk, theirs.pk]})
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert (mine.status, mine.reviewed_by) == (DuplicateStatus.DISMISSED, manager)
    assert theirs.status == DuplicateStatus.OPEN

    client.post(LIST, {"action": "reopen", "_selected_action": [mine.pk]})
    mine.refresh_from_db()
    assert mine.status == DuplicateStatus.OPEN


def test_the_list_pays_no_query_per_row(client, make_player, supervisor):
    client.force_login(supervisor)

    def queries(n):
        Player.objects.all().delete()
        for i in range(n):
            make_player(account_id=f"x{i}a", qq=f"9{i:07d}")
            make_player(account_id=f"x{i}b", qq=f"9{i:07d}")
        duplicates_find()
        with CaptureQueriesContext(connection) as captured:
            assert client.get(LIST).status_code == 200
        return len(captured)

    assert queries(2) == queries(12)
