from django.core.cache import cache

from players.models import Player
from players.selectors import player_distinct_values, player_search_q


def test_distinct_values_lists_each_server_once_in_order(make_player):
    cache.clear()
    for server in ["s3", "s1", "s3", "", "s2", "s1"]:
        make_player(server=server)
    assert player_distinct_values("server") == ["s1", "s2", "s3"]


def test_search_matches_account_id_exactly_and_nickname_by_prefix(make_player):
    make_player(account_id="1001", nickname="小龙女")
    make_player(account_id="10011", nickname="龙女")
    found = set(Player.objects.filter(player_search_q("1001", user=None)).values_list("account_id", flat=True))
    assert found == {"1001"}
    assert set(Player.objects.filter(player_search_q("龙", user=None)).values_list("account_id", flat=True)) == {
        "10011"
    }


def test_visibility_is_the_selectors_rule_and_the_admin_applies_it(make_player, manager, other_manager, supervisor):
    from players.admin.scoping import PlayerScopedAdminMixin
    from players.models import ContactLog
    from players.selectors import is_scoped, player_scope_q, players_visible_to
    from players.services import contact_log_create

    mine, theirs = make_player(manager=manager), make_player(manager=other_manager)
    contact_log_create(player=mine, staff=manager, channel="phone", topic="回访")
    contact_log_create(player=theirs, staff=other_manager, channel="phone", topic="回访")

    assert list(players_visible_to(manager)) == [mine]
    assert set(players_visible_to(supervisor)) == {mine, theirs}
    assert [c.player for c in ContactLog.objects.filter(player_scope_q(manager, "player"))] == [mine]
    assert (is_scoped(manager), is_scoped(supervisor)) == (True, False)
    assert __import__("players.admin.scoping", fromlist=["x"]).player_scope_q is player_scope_q  # applied, not copied
    assert PlayerScopedAdminMixin.player_path == "player"
