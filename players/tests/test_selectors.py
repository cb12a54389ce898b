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
