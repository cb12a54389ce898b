"""Server merges (合服): the service, its doors (command, admin, the API after a merge),
and what must not change (the ledger, exactly-once event ids, spend and tiers)."""

import json
import threading
from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import DatabaseError, IntegrityError, connection, connections, transaction
from django.utils import timezone

from campaigns.models import GreetingRule
from players.models import Payment, Player, ServerMerge, Tag
from players.services import player_upsert
from players.services.servers import server_current, server_merge, server_merge_plan

PAYMENTS = "/api/v1/payments/"
RECENTLY = (timezone.now() - timedelta(hours=1)).isoformat(timespec="seconds")


def event(event_id, account_id, server, amount="648.00"):
    return {
        "event_id": event_id,
        "type": "purchase",
        "account_id": account_id,
        "server": server,
        "amount": amount,
        "currency": "CNY",
        "occurred_at": RECENTLY,
    }


@pytest.fixture
def three_servers(make_player, pay, tiers):
    a = make_player(account_id="a1", server="s1", nickname="赵云")
    b = make_player(account_id="b1", server="s2", nickname="赵云")  # the same role name: 合服's name clash
    c = make_player(account_id="c1", server="s3", nickname="关羽")
    vip = Tag.objects.create(name="鲸鱼")
    a.tags.add(vip)
    pay(a, "648.00", event_id="a-1", server="s1")
    pay(b, "98.00", event_id="b-1", server="s2")
    pay(c, "6.00", event_id="c-1", server="s3")
    return a, b, c


def _state(player):
    player.refresh_from_db()
    return (player.total_spend, player.tier_id, player.payer_status, player.purchase_count)


def test_a_merge_rekeys_the_accounts_and_keeps_ledger_spend_and_history(three_servers, operations):
    a, b, c = three_servers
    before = {p.pk: _state(p) for p in (a, b, c)}
    ledger = list(Payment.objects.order_by("pk").values())
    history_before = Player.history.count()

    merge = server_merge(game="三国", old_servers=["s1", "s2"], new_server="s9", actor=operations, note="第一次合服")

    assert {p.account_id: p.server for p in Player.objects.all()} == {"a1": "s9", "b1": "s9", "c1": "s3"}
    assert {p.pk: _state(p) for p in (a, b, c)} == before  # spend, tier, payer status unchanged
    assert list(Payment.objects.order_by("pk").values()) == ledger  # append-only: nothing rewritten
    # each moved account: one change-history row, by whom, with its tags as they were
    assert Player.history.count() == history_before + 2
    row = Player.history.filter(id=a.pk).order_by("-history_id").first()
    assert (row.server, row.history_type, row.history_user, row.history_date) == (
        "s9",
        "~",
        operations,
        merge.merged_at,
    )
    assert [t.tag.name for t in row.tags.all()] == ["鲸鱼"]
    assert row.prev_record.server == "s1"
    # the record of the merge
    assert (merge.accounts, merge.new_server, merge.game, merge.merged_by) == (2, "s9", "三国", operations)
    assert {s.server: s.accounts for s in merge.sources.all()} == {"s1": 1, "s2": 1}


def test_two_accounts_that_share_a_server_after_the_merge_stay_two(three_servers):
    a, b, _c = three_servers
    server_merge(old_servers=["s1", "s2"], new_server="s9")

    same = Player.objects.filter(server="s9", nickname="赵云").order_by("account_id")
    assert [(p.account_id, p.total_spend) for p in same] == [("a1", Decimal("648.00")), ("b1", Decimal("98.00"))]
    assert Payment.objects.filter(player=a).count() == Payment.objects.filter(player=b).count() == 1


def test_after_a_merge_the_game_may_still_name_an_old_server(three_servers, api):
    client = api.credentials.client
    client.server = "s1"
    client.save()
    server_merge(game="Legends", old_servers=["s1", "s2"], new_server="s9")
    client.refresh_from_db()
    assert client.server == "s9"  # the client of the old server writes for the merged one

    # a new account named on the old id lands on the merged server; the new id works too
    assert api.post(PAYMENTS, event("n-1", "new1", "s1")).status_code == 201
    assert api.post(PAYMENTS, event("n-2", "new2", "s9")).status_code == 201
    assert Player.objects.get(account_id="new1").server == Player.objects.get(account_id="new2").server == "s9"
    # another server is still another's
    assert api.post(PAYMENTS, event("n-3", "new3", "s3")).status_code == 403
    # the game's profile with the old id does not move the account back
    player_upsert(account_id="a1", data={"server": "s2", "level": 50})
    assert Player.objects.get(account_id="a1").server == "s9"


def test_retries_of_events_from_before_the_merge_are_duplicates(api):
    first = event("old-1", "r1", "s1")
    assert api.post(PAYMENTS, first).status_code == 201
    server_merge(old_servers=["s1"], new_server="s9")

    again = api.post(PAYMENTS, first)

    assert (again.status_code, again.json()["status"]) == (200, "duplicate")
    assert Player.objects.get(account_id="r1").total_spend == Decimal("648.00")


def test_merges_chain_and_rules_follow(three_servers):
    rule = GreetingRule.objects.create(name="s1 生日", occasion="birthday", server="s1")
    first = server_merge(old_servers=["s1"], new_server="s9")
    server_merge(old_servers=["s9", "s2"], new_server="s20")

    assert server_current("s1") == server_current("s9") == "s20"
    assert server_current("s3") == "s3"
    rule.refresh_from_db()
    assert rule.server == "s20"
    assert first.rules == 1
    assert set(Player.objects.values_list("server", flat=True)) == {"s20", "s3"}


@pytest.mark.parametrize(
    "old, new, field",
    [
        (["s1"], "s1", "old_servers"),  # into itself
        ([], "s9", "old_servers"),
        (["nowhere"], "s9", "old_servers"),  # a typo: no account there
        (["s1"], "", "new_server"),
        (["s1"], "x" * 33, "new_server"),
        (["s1 s2"], "s9", "old_servers"),
        (["s1"], "s\x00", "new_server"),
        (["s1"], "s,9", "new_server"),
        ([{"$ne": 1}], "s9", "old_servers"),
        (["s1"], ["s9"], "new_server"),
        ([None], "s9", "old_servers"),
    ],
)
def test_hostile_or_wrong_merges_are_refused_naming_the_field(three_servers, old, new, field):
    with pytest.raises(ValidationError) as refused:
        server_merge(old_servers=old, new_server=new)
    assert field in refused.value.message_dict
    assert not ServerMerge.objects.exists()
    assert set(Player.objects.values_list("server", flat=True)) == {"s1", "s2", "s3"}


def test_a_server_merged_away_is_merged_once_and_is_no_target(three_servers):
    server_merge(old_servers=["s1"], new_server="s9")
    with pytest.raises(ValidationError) as again:
        server_merge_plan(old_servers=["s1"], new_server="s10")
    assert "s9" in " ".join(again.value.message_dict["old_servers"])
    with pytest.raises(ValidationError) as retired:
        server_merge_plan(old_servers=["s2"], new_server="s1")
    assert "new_server" in retired.value.message_dict


def test_the_command_counts_then_merges(three_servers, operations):
    out = StringIO()
    call_command("merge_servers", "s1", "s2", "--into", "s9", "--dry-run", stdout=out)
    assert json.loads(out.getvalue()) == {
        "dry_run": True,
        "new_server": "s9",
        "accounts": {"s1": 1, "s2": 1},
        "rewrites_table": connection.vendor == "postgresql",  # 2 of the 3 accounts move
    }
    assert not ServerMerge.objects.exists()

    out = StringIO()
    call_command("merge_servers", "s1", "s2", "--into", "s9", "--game", "三国", "--by", "ops", stdout=out)
    report = json.loads(out.getvalue())
    assert (report["new_server"], report["accounts"]) == ("s9", {"s1": 1, "s2": 1})
    assert ServerMerge.objects.get().merged_by == operations

    with pytest.raises(CommandError, match="already merged"):
        call_command("merge_servers", "s1", "--into", "s10", stdout=StringIO())


# --- the admin -----------------------------------------------------------------------------

ADD = "/admin/players/servermerge/add/"
LIST = "/admin/players/servermerge/"


def test_operations_merge_in_the_admin_after_seeing_what_moves(client, three_servers, operations):
    client.force_login(operations)
    form = {"game": "三国", "old_servers": "s1，s2", "new_server": "s9", "note": "合服"}

    preview = client.post(ADD, form)
    assert preview.status_code == 200
    assert "server-merge-plan" in preview.content.decode()
    # 2 of the 3 accounts move: PostgreSQL rewrites the table, and the page says what that means
    warned = "every page and API call that reads a player waits" in preview.content.decode()
    assert warned == (connection.vendor == "postgresql")
    assert not ServerMerge.objects.exists()  # nothing yet

    done = client.post(ADD, {**form, "confirmed": "yes"}, follow=True)
    assert done.status_code == 200
    merge = ServerMerge.objects.get()
    assert (merge.accounts, merge.merged_by) == (2, operations)
    assert client.get(LIST).status_code == 200


def test_the_admin_form_names_the_wrong_field(client, three_servers, operations):
    client.force_login(operations)
    page = client.post(ADD, {"old_servers": "s1, nowhere", "new_server": "s9", "confirmed": "yes"})
    assert page.status_code == 200
    assert "nowhere" in page.content.decode()
    assert not ServerMerge.objects.exists()


@pytest.mark.parametrize("who", ["manager", "supervisor"])
def test_who_may_not_merge_cannot(client, three_servers, request, who):
    user = request.getfixturevalue(who)
    client.force_login(user)
    response = client.post(ADD, {"old_servers": "s1", "new_server": "s9", "confirmed": "yes"})
    assert response.status_code == 403
    assert not ServerMerge.objects.exists()
    assert client.get(LIST).status_code == (200 if who == "supervisor" else 403)


@pytest.mark.parametrize("server", ["s\x00", "s1\x00", " s1", "x" * 200, 7, None, ["s1"], {"s": 1}])
def test_a_bound_client_naming_a_hostile_server_after_a_merge_gets_a_4xx(three_servers, api, server):
    client = api.credentials.client
    client.server = "s1"
    client.save()
    server_merge(old_servers=["s1"], new_server="s9")

    response = api.post(PAYMENTS, {**event("h-1", "new-h", "s9"), "server": server})

    assert response.status_code < 500
    assert not Player.objects.filter(account_id="new-h").exclude(server="s9").exists()


# --- how the accounts are re-keyed: the same outcome whichever statement does it ----------


def _rows():
    return {row["id"]: row for row in Player.objects.values()}


def _indexes():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s ORDER BY indexname",
            [Player._meta.db_table],
        )
        return cursor.fetchall()


def _read_from_another_connection() -> str:
    """Read a player on a connection of its own, waiting at most 0.3 s: "read" or the error."""
    outcome = []

    def run():
        try:
            with transaction.atomic(), connections["default"].cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '300ms'")
                cursor.execute(f"SELECT COUNT(*) FROM {Player._meta.db_table}")
                outcome.append("read")
        except DatabaseError as exc:
            outcome.append(str(exc))
        finally:
            connections["default"].close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=30)
    return outcome[0]


@pytest.mark.parametrize("bystanders", [0, 30], ids=["most-accounts-move", "few-accounts-move"])
def test_a_merge_changes_only_the_moved_accounts_server_whichever_way_it_runs(three_servers, operations, bystanders):
    """On PostgreSQL a merge of a fifth of all accounts or more rewrites the table, a smaller
    one updates the moved rows (SQLite always does): the outcome is the same, row for row."""
    Player.objects.bulk_create(Player(account_id=f"by{n}", server="s7", nickname=f"路人{n}") for n in range(bystanders))
    before = _rows()
    indexes = _indexes() if connection.vendor == "postgresql" else None
    history = Player.history.count()
    rewrites = connection.vendor == "postgresql" and bystanders == 0

    merge = server_merge(old_servers=["s1", "s2"], new_server="s9", actor=operations)

    after = _rows()
    assert after.keys() == before.keys()
    for pk, row in before.items():
        if row["server"] in ("s1", "s2"):
            row = {**row, "server": "s9", "updated_at": merge.merged_at}
        assert after[pk] == row  # every other value of every account as it was
    assert merge.accounts == 2
    assert Player.history.count() == history + 2  # one change-history row per moved account
    if connection.vendor == "postgresql":
        assert _indexes() == indexes  # every index is there again, as it was defined
        # a rewrite holds every reader off until the merge commits; an update does not
        assert (_read_from_another_connection() != "read") == rewrites
    # the table's constraints still hold: an account id is one account
    with pytest.raises(IntegrityError), transaction.atomic():
        Player.objects.create(account_id="a1", server="s9")


def test_a_rewrite_waits_only_so_long_for_a_reader_already_running(three_servers, operations, settings, client):
    if connection.vendor != "postgresql":
        pytest.skip("only PostgreSQL rewrites the table (and locks it): run with DATABASE_URL=postgres://...")
    settings.CRM_SERVER_MERGE_LOCK_WAIT = 0.2
    reading, done = threading.Event(), threading.Event()

    def long_export():
        try:
            with transaction.atomic(), connections["default"].cursor() as cursor:
                cursor.execute(f"SELECT COUNT(*) FROM {Player._meta.db_table}")
                reading.set()
                done.wait(20)
        finally:
            connections["default"].close()

    thread = threading.Thread(target=long_export)
    thread.start()
    try:
        assert reading.wait(20)
        with pytest.raises(ValidationError) as refused:
            server_merge(old_servers=["s1", "s2"], new_server="s9", actor=operations)
        with pytest.raises(CommandError, match="nothing was merged") as command:
            call_command("merge_servers", "s1", "s2", "--into", "s9", stdout=StringIO())
        client.force_login(operations)
        page = client.post(ADD, {"old_servers": "s1 s2", "new_server": "s9", "confirmed": "yes"})
    finally:
        done.set()
        thread.join()
    assert "Try again in a minute" in " ".join(refused.value.messages)
    assert "__all__" not in str(command.value)
    assert page.status_code == 200 and "nothing was merged" in page.content.decode()
    assert set(Player.objects.values_list("server", flat=True)) == {"s1", "s2", "s3"}
    assert not ServerMerge.objects.exists()
