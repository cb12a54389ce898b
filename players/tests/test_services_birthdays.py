from datetime import date

from django.urls import reverse

from players.models import Player
from players.services import player_update, player_upsert
from players.services.birthdays import birthdays_refresh


def test_player_upsert_keeps_the_birthday_key_current(db):
    player, _ = player_upsert(account_id="b-1", data={"birthday": date(1990, 3, 7)})
    assert player.birthday_md == 307

    player, _ = player_upsert(account_id="b-1", data={"birthday": date(1991, 12, 24)})
    assert Player.objects.get(pk=player.pk).birthday_md == 1224

    player, _ = player_upsert(account_id="b-1", data={"birthday": None})
    assert Player.objects.get(pk=player.pk).birthday_md is None


def test_player_update_uses_the_lunar_date_when_lunar(make_player, manager):
    player = make_player(birthday=date(1990, 3, 7))

    player_update(player=player, data={"birthday_is_lunar": True}, actor=manager)

    assert Player.objects.get(pk=player.pk).birthday_md == 211  # lunar 2/11


def test_birthdays_refresh_is_set_based_and_fixes_stale_keys(make_player, django_assert_max_num_queries):
    # given players written in bulk, with no or wrong keys
    solar = make_player(birthday=date(2000, 2, 29))
    lunar = make_player(birthday=date(1990, 3, 7), birthday_is_lunar=True)
    cleared = make_player()
    Player.objects.filter(pk=cleared.pk).update(birthday_md=101)
    untouched = make_player(birthday=date(1990, 1, 1))

    # when refreshed for some of them: a fixed number of queries, whatever their number
    with django_assert_max_num_queries(6):
        birthdays_refresh(player_ids=[solar.pk, lunar.pk, cleared.pk])

    keys = dict(Player.objects.values_list("pk", "birthday_md"))
    assert keys[solar.pk] == 229 and keys[lunar.pk] == 211 and keys[cleared.pk] is None
    assert keys[untouched.pk] is None  # not asked for

    # and the stale-only pass catches the rest
    birthdays_refresh(only_stale=True)
    assert Player.objects.get(pk=untouched.pk).birthday_md == 101


def test_admin_save_keeps_the_birthday_key_current(client, superuser, make_player):
    player = make_player(birthday=date(1990, 3, 7))
    client.force_login(superuser)
    url = reverse("admin:players_player_change", args=[player.pk])
    form = client.get(url).context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and k != "tags"}
    data.update({"birthday": "1990-05-20", "birthday_is_lunar": "", "level": 0, "account_id": player.account_id})

    response = client.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Player.objects.get(pk=player.pk).birthday_md == 520
