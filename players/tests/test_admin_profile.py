"""The player admin: finding players, masking, scoping everywhere, actions, bad input."""

import logging
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from players.models import ContactLog, Player
from players.services import player_update
from vip.models import ManagerAssignment, TierChange

CHANGELIST = "/admin/players/player/"


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def no_personal_data_manager(make_staff):
    """A VIP manager without players.view_personal_data (not the default role)."""
    user = make_staff("masked_manager")
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_player", "change_player", "view_contactlog", "add_contactlog"])
    )
    return user


# --- finding players -----------------------------------------------------------------


def test_manager_finds_own_player_by_account_id_nickname_prefix_and_phone(manager, make_player):
    player = make_player(account_id="88001234", nickname="龙傲天丶", phone="+8613812345678", manager=manager)
    make_player(account_id="88009999", nickname="别人", manager=manager)
    client = client_for(manager)

    for term in ["88001234", "龙傲", "13812345678", "138 1234 5678", "+86 138-1234-5678"]:
        page = client.get(CHANGELIST, {"q": term}).content.decode()
        assert "88001234" in page, term
        assert "88009999" not in page, term
    assert player.pk


def test_search_by_phone_works_while_the_phone_is_shown_masked(no_personal_data_manager, make_player):
    make_player(account_id="p-1", phone="+8613812345678", manager=no_personal_data_manager, real_name="张三丰")
    client = client_for(no_personal_data_manager)

    page = client.get(CHANGELIST, {"q": "13812345678"}).content.decode()

    results = page[page.index("<tbody>", page.index('id="result_list"')) : page.index("</tbody>")]
    assert "p-1" in results
    assert "138****5678" in results
    results = results.replace("q%3D13812345678", "")  # the typed term, echoed in links
    assert "13812345678" not in results and "+8613812345678" not in page


def _found(client, term) -> set[str]:
    """The account ids in the search results, as listed."""
    from html.parser import HTMLParser

    page = client.get(CHANGELIST, {"q": term}).content.decode()
    rows = page[page.index('id="result_list"') :] if 'id="result_list"' in page else ""

    class Accounts(HTMLParser):
        found, here = set(), False

        def handle_starttag(self, tag, attrs):
            self.here = tag == "th" and ("class", "field-account_id") in attrs or (self.here and tag == "a")

        def handle_data(self, data):
            if self.here and data.strip():
                self.found.add(data.strip())
                self.here = False

    parser = Accounts()
    parser.feed(rows)
    return parser.found


def test_search_finds_a_player_by_the_last_four_digits_of_the_phone(manager, make_player):
    make_player(account_id="tail-1", phone="+8613812345678", manager=manager)
    make_player(account_id="tail-2", phone="+8613912345679", manager=manager)
    make_player(account_id="tail-3", phone="+8613856781234", manager=manager)  # 5678 in the middle
    client = client_for(manager)

    assert _found(client, "5678") == {"tail-1"}
    assert _found(client, " ５６７８ ") == {"tail-1"}  # full-width digits from a Chinese IME
    assert _found(client, "678") == set()  # three digits are not a 尾号


def test_search_by_the_last_four_digits_works_for_a_masked_user_who_sees_them(no_personal_data_manager, make_player):
    make_player(account_id="tail-m", phone="+8613812345678", manager=no_personal_data_manager)
    client = client_for(no_personal_data_manager)

    assert _found(client, "5678") == {"tail-m"}  # the list shows 138****5678 to this user


def test_search_finds_a_player_by_real_name_only_for_users_who_may_see_it(
    manager, no_personal_data_manager, make_player
):
    make_player(account_id="name-1", real_name="欧阳娜娜", manager=manager)
    make_player(account_id="name-2", real_name="欧阳娜", manager=no_personal_data_manager)

    assert _found(client_for(manager), "欧阳娜娜") == {"name-1"}
    # A masked user sees 欧** and must not be able to confirm a guessed name by searching.
    assert _found(client_for(no_personal_data_manager), "欧阳娜") == set()
    page = client_for(no_personal_data_manager).get(CHANGELIST).content.decode()
    assert "real name" not in page  # the search box's help does not offer it either


def test_search_finds_an_account_id_without_its_prefix(manager, make_player):
    make_player(account_id="demo-100123", manager=manager)
    make_player(account_id="s1_100123", manager=manager)
    make_player(account_id="demo-1001234", manager=manager)
    client = client_for(manager)

    assert _found(client, "100123") == {"demo-100123", "s1_100123"}
    assert _found(client, "demo-100123") == {"demo-100123"}


def test_search_treats_wildcards_and_quotes_as_text(manager, make_player):
    make_player(account_id="wild-1", nickname="100%_player", phone="+8613812345678", manager=manager)
    make_player(account_id="wild-2", nickname="plain", manager=manager)
    client = client_for(manager)

    for term in ["%%%%", "____", "%", "_", "' OR 1=1 --", "\\%"]:
        assert _found(client, term) == set(), term
    assert _found(client, "100%_") == {"wild-1"}


def test_list_filters_narrow_the_list(supervisor, manager, make_player):
    cache.clear()  # the server and channel choices are cached
    now = timezone.now()
    make_player(account_id="rich-s2", server="s2", channel="huawei", total_spend=20000, payer_status="active")
    make_player(account_id="poor-s1", server="s1", channel="oppo", last_login_at=now - timedelta(days=90))
    make_player(account_id="mine", server="s1", manager=manager, last_login_at=now)
    client = client_for(supervisor)

    def shown(**params):
        page = client.get(CHANGELIST, params).content.decode()
        return {a for a in ("rich-s2", "poor-s1", "mine") if f">{a}<" in page}

    assert shown(server="s2") == {"rich-s2"}
    assert shown(channel="oppo") == {"poor-s1"}
    assert shown(spend="10000+") == {"rich-s2"}
    assert shown(payer_status__exact="active") == {"rich-s2"}
    assert shown(manager=str(manager.pk)) == {"mine"}
    assert shown(manager="none") == {"rich-s2", "poor-s1"}
    assert shown(login="30+") == {"poor-s1"}
    assert shown(login="7") == {"mine"}


# --- masking ---------------------------------------------------------------------------


def test_personal_data_is_masked_in_list_and_page_without_the_permission(no_personal_data_manager, make_player):
    player = make_player(
        phone="+8613812345678",
        real_name="张三丰",
        qq="123456789",
        wechat="wx_zhang",
        email="zhang@example.com",
        birthday=timezone.localdate().replace(year=1990),
        manager=no_personal_data_manager,
    )
    client = client_for(no_personal_data_manager)

    listing = client.get(CHANGELIST).content.decode()
    page = client.get(reverse("admin:players_player_change", args=[player.pk])).content.decode()

    assert "138****5678" in listing and "13812345678" not in listing
    for secret in ["13812345678", "张三丰", "123456789", "wx_zhang", "zhang@example.com", "1990-"]:
        assert secret not in page, secret
    assert "138****5678" in page and "张**" in page


def test_personal_data_is_shown_with_the_permission(manager, make_player):
    player = make_player(phone="+8613812345678", real_name="张三丰", manager=manager)
    page = client_for(manager).get(reverse("admin:players_player_change", args=[player.pk])).content.decode()
    assert "张三丰" in page and "13812345678" in page.replace(" ", "")


def test_change_history_masks_personal_fields_without_the_permission(supervisor, no_personal_data_manager, make_player):
    player = make_player(phone="+8613812345678", manager=no_personal_data_manager)
    player_update(player=player, data={"phone": "+8613900001111", "nickname": "新名字"}, actor=supervisor)
    history_url = reverse("admin:players_player_history", args=[player.pk])

    masked_page = client_for(no_personal_data_manager).get(history_url).content.decode()
    full_page = client_for(supervisor).get(history_url).content.decode()

    assert "139****1111" in masked_page and "138****5678" in masked_page
    assert "13900001111" not in masked_page and "13812345678" not in masked_page
    assert "新名字" in masked_page
    assert "+8613900001111" in full_page


# --- scoping ---------------------------------------------------------------------------


def test_manager_sees_only_own_players_in_list_search_page_history_and_autocomplete(
    manager, other_manager, make_player
):
    mine = make_player(account_id="mine-1", nickname="甲", manager=manager)
    theirs = make_player(account_id="theirs-1", nickname="甲乙", manager=other_manager)
    client = client_for(manager)

    listing = client.get(CHANGELIST).content.decode()
    search = client.get(CHANGELIST, {"q": "theirs-1"}).content.decode()
    page = client.get(reverse("admin:players_player_change", args=[theirs.pk]))
    history = client.get(reverse("admin:players_player_history", args=[theirs.pk]))
    autocomplete = client.get(
        "/admin/autocomplete/",
        {"term": "甲", "app_label": "players", "model_name": "contactlog", "field_name": "player"},
    ).json()

    assert "mine-1" in listing and "theirs-1" not in listing
    assert ">theirs-1<" not in search and "0 results" in search
    assert page.status_code == 302 and page["Location"] == reverse("admin:index")  # "doesn't exist"
    assert history.status_code == 404
    assert [r["id"] for r in autocomplete["results"]] == [str(mine.pk)]


def test_foreign_key_choices_offer_only_own_players(manager, other_manager, make_player):
    theirs = make_player(account_id="theirs-2", manager=other_manager)
    client = client_for(manager)

    response = client.post(
        reverse("admin:players_contactlog_add"),
        {
            "player": theirs.pk,
            "channel": "phone",
            "direction": "outbound",
            "contacted_at_0": "2026-01-02",
            "contacted_at_1": "10:00",
        },
    )

    assert response.status_code == 200
    assert "player" in response.context["adminform"].form.errors
    assert not ContactLog.objects.exists()


def test_actions_with_select_across_touch_only_own_players(supervisor, manager, other_manager, make_player, tiers):
    mine = make_player(manager=manager)
    theirs = make_player(manager=other_manager)
    client = client_for(manager)

    client.post(
        CHANGELIST,
        {
            "action": "pin_tier",
            "select_across": "1",
            "index": "0",
            "_selected_action": [mine.pk],
            "apply": "1",
            "tier": tiers["V5"].pk,
            "expires_at": (timezone.localtime() + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M"),
            "reason": "大R 回归礼遇",
        },
    )

    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.tier == tiers["V5"] and mine.tier_pinned_until
    assert theirs.tier is None
    assert TierChange.objects.filter(player=mine, reason="manual", actor=manager).exists()


def test_bulk_assign_needs_the_permission_and_records_history(supervisor, manager, make_player):
    players = [make_player() for _ in range(3)]
    data = {
        "action": "assign_manager",
        "_selected_action": [p.pk for p in players],
        "apply": "1",
        "manager": manager.pk,
        "note": "新区交接",
    }

    response = client_for(supervisor).post(CHANGELIST, data, follow=True)

    assert "3 players assigned." in response.content.decode()
    assert Player.objects.filter(manager=manager).count() == 3
    assert ManagerAssignment.objects.filter(to_manager=manager, actor=supervisor, note="新区交接").count() == 3
    # a VIP manager may not assign
    actions = client_for(manager).get(CHANGELIST).context["action_form"].fields["action"].choices
    assert "assign_manager" not in dict(actions)


def test_changing_the_manager_on_the_page_records_an_assignment(supervisor, manager, other_manager, make_player):
    player = make_player(manager=manager)
    url = reverse("admin:players_player_change", args=[player.pk])
    client = client_for(supervisor)
    form = client.get(url).context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and k != "tags"}
    data["manager"] = other_manager.pk

    assert client.post(url, data).status_code == 302

    player.refresh_from_db()
    assert player.manager == other_manager
    row = ManagerAssignment.objects.get(player=player)
    assert (row.from_manager, row.to_manager, row.actor) == (manager, other_manager, supervisor)


def test_player_page_shows_tier_and_manager_history_and_recent_payments(supervisor, manager, make_player, pay):
    player = make_player(manager=manager)
    pay(player, "648.00", product="6480 钻石")
    pay(player, "30.00", kind="refund")

    page = client_for(supervisor).get(reverse("admin:players_player_change", args=[player.pk])).content.decode()

    assert "¥648.00" in page and "6480 钻石" in page and "¥30.00" in page
    assert "- → V4" in page  # the tier history
    assert "crm-mini" in page and "crm/admin.css" in page


# --- bad input -------------------------------------------------------------------------


def _add(client, **fields):
    data = {"account_id": "new-1", "server": "s1", "level": 0, "payer_status": "non_payer", **fields}
    return client.post(reverse("admin:players_player_add"), data)


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"phone": "12345"}, "phone", "Enter a valid phone number"),
        ({"birthday": "2999-01-01"}, "birthday", "future"),
        ({"account_id": "taken"}, "account_id", "already exists"),
    ],
)
def test_bad_input_in_the_admin_names_the_field(superuser, make_player, fields, field, message):
    make_player(account_id="taken")

    response = _add(client_for(superuser), **fields)

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert field in errors and message in " ".join(errors[field]), errors
    assert (
        not Player.objects.filter(account_id=fields.get("account_id", "new-1"), server="s1")
        .exclude(account_id="taken")
        .exists()
    )


def test_good_input_is_stored_in_e164(superuser):
    response = _add(client_for(superuser), phone="138 1234 5678")
    assert response.status_code == 302
    assert str(Player.objects.get(account_id="new-1").phone) == "+8613812345678"


# --- login lockout ---------------------------------------------------------------------


def test_admin_login_locks_after_five_failures_and_logs_it(make_staff, caplog):
    make_staff("li", "VIP manager")
    client = Client(REMOTE_ADDR="10.0.0.7")
    caplog.set_level(logging.INFO)

    for _n in range(5):
        response = client.post("/admin/login/?next=/admin/", {"username": "li", "password": "wrong"})
    locked = client.post("/admin/login/?next=/admin/", {"username": "li", "password": "pw"})

    assert response.status_code in (200, 403, 429)
    assert locked.status_code in (403, 429)
    assert "_auth_user_id" not in client.session
    messages = [r.getMessage() for r in caplog.records]
    assert any("login failed" in m.lower() for m in messages)
    assert any("locked out" in m.lower() or "locking out" in m.lower() for m in messages)


# --- indexes behind the searches (PostgreSQL) ------------------------------------------


def test_every_search_branch_can_use_an_index(requires_postgres, make_player):
    from django.db import connection

    from players.selectors import player_search_q

    make_player(account_id="idx-1", nickname="龙傲天", phone="+8613812345678")
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a tiny table: make the planner show its options
    plan = Player.objects.filter(player_search_q("13812345678", user=None)).explain()
    nickname_plan = Player.objects.filter(player_search_q("龙傲", user=None)).explain()

    assert "Seq Scan" not in plan and "Seq Scan" not in nickname_plan
    assert "player_nickname_prefix" in nickname_plan
    assert "account_id" in plan and "phone" in plan


def test_account_ids_have_one_index_and_every_lookup_uses_it(requires_postgres, make_player):
    # every players row written pays an entry in each index: the unique one answers equality
    from django.db import connection

    make_player(account_id="acct-1")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = %s AND indexdef LIKE '%%btree (account_id%%'",
            [Player._meta.db_table],
        )
        assert [name for (name,) in cursor.fetchall()] == ["players_player_account_id_key"]
        cursor.execute("SET LOCAL enable_seqscan = off")
    plans = [
        Player.objects.filter(account_id="acct-1").explain(),
        Player.objects.filter(account_id__in=["acct-1", "acct-2"]).explain(),
    ]
    assert all("players_player_account_id_key" in plan for plan in plans)


def test_the_tail_and_real_name_searches_use_their_indexes(requires_postgres, manager, make_player):
    from django.db import connection

    from players.selectors import player_search_q

    make_player(account_id="demo-100123", real_name="欧阳娜娜", phone="+8613812345678")
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
    plans = {
        term: Player.objects.filter(player_search_q(term, user=manager)).explain() for term in ("5678", "欧阳娜娜")
    }

    assert "Seq Scan" not in plans["5678"] and "Seq Scan" not in plans["欧阳娜娜"]
    assert "player_phone_last4" in plans["5678"] and "player_account_suffix" in plans["5678"]
    assert "player_real_name" in plans["欧阳娜娜"]
