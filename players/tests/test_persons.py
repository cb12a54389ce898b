"""VIP people (players.services.persons): accounts linked to one person, tiers per person
through the one projection, merges with undo over every table, and who may merge."""

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Sum
from django.utils import timezone, translation

from players.models import Consent, ContactLog, Payment, PersonMerge, Player
from players.services import contact_log_create
from players.services.consents import consent_record
from players.services.ledger import payments_record_batch, players_totals_rebuild
from players.services.persons import (
    PERSON_TABLES,
    account_link,
    account_unlink,
    person_merge_undo,
    persons_merge,
)
from players.services.privacy import PLAYER_TABLES
from players.tests.test_privacy import PHONE, media, ouyang  # noqa: F401
from vip.models import Tier

# Tables whose rows stay with their game account (the ledger and what is derived from it,
# the account's own history); every other table of a player is the person's.
ACCOUNT_TABLES = {
    "players.Player",
    "players.HistoricalPlayer",
    "players.Player_tags",
    "players.HistoricalPlayer_tags",
    "players.Payment",
    "players.MinorSpendFlag",
    "players.PlayerChurn",
    "players.PayerStatusChange",
    "players.DataRequest",
    "players.DuplicateCandidate",
    "players.PersonMerge",
    "vip.TierChange",
    "campaigns.CampaignTarget",
    "campaigns.Greeting",
    "campaigns.PlayerYearSpend",
}


def test_every_table_of_a_player_is_the_persons_or_stays_with_its_account():
    direct = {label for label, table in PLAYER_TABLES.items() if "__" not in table.player_path}
    undecided = direct - set(PERSON_TABLES) - ACCOUNT_TABLES
    assert undecided == set(), f"say whether a merge moves these (person_table_register) or not: {undecided}"


def _tier_from_the_ledger(account_ids) -> Tier | None:
    """A rebuild from the ledger, written out: the person's net spend, the highest tier it reaches."""
    rows = Payment.objects.filter(player_id__in=account_ids)
    spend = (rows.filter(kind="purchase").aggregate(s=Sum("amount_base"))["s"] or 0) - (
        rows.filter(kind="refund").aggregate(s=Sum("amount_base"))["s"] or 0
    )
    return Tier.objects.filter(min_spend__lte=spend).order_by("-level").first()


def test_a_person_s_tier_counts_every_linked_account_and_equals_a_rebuild_from_the_ledger(
    make_player, pay, tiers, supervisor
):
    main = make_player(account_id="zhao-s1", server="s1")
    alt = make_player(account_id="zhao-s2", server="s2")
    pay(main, "600.00")
    pay(alt, "600.00")
    main.refresh_from_db(), alt.refresh_from_db()
    assert (main.tier.name, alt.tier.name) == ("V4", "V4")  # 600 each

    account_link(person=main, account=alt, actor=supervisor)

    main.refresh_from_db(), alt.refresh_from_db()
    assert alt.person_account_id == main.pk
    assert (main.tier.name, alt.tier.name) == ("V5", "V5")  # 1,200 together
    assert (main.total_spend, alt.total_spend) == (Decimal("600.00"), Decimal("600.00"))  # the ledger stays per account

    pay(alt, "900.00")  # a payment on one account raises the person's tier on both
    main.refresh_from_db(), alt.refresh_from_db()
    assert (main.tier.name, alt.tier.name) == ("V6", "V6")
    assert main.tier == _tier_from_the_ledger([main.pk, alt.pk])

    Player.objects.filter(pk__in=[main.pk, alt.pk]).update(total_spend=0, tier=None)  # lose the projection
    players_totals_rebuild()
    main.refresh_from_db(), alt.refresh_from_db()
    assert main.tier == alt.tier == _tier_from_the_ledger([main.pk, alt.pk])


def test_a_payment_on_the_main_account_raises_the_person_s_tier_on_every_account(
    make_player, pay, tiers, supervisor, settings
):
    """The projection knows each player's link from its recount (no probe of its own): the
    main account, the one the others link to, is a person of several accounts too."""
    settings.CELERY_BROKER_URL = ""  # a batch is projected in this process, before it returns
    main, alt, alone = make_player(), make_player(), make_player()
    pay(main, "600.00")
    pay(alt, "600.00")
    account_link(person=main, account=alt, actor=supervisor)

    pay(main, "900.00")  # a single event on the main account: 2,100 together
    pay(alone, "900.00")  # beside a person of one account, who counts alone
    main.refresh_from_db(), alt.refresh_from_db(), alone.refresh_from_db()
    assert (main.tier.name, alt.tier.name, alone.tier.name) == ("V6", "V6", "V4")

    payments_record_batch(  # a batch: 5,100 together
        events=[
            {
                "event_id": f"batch-{n}",
                "type": "purchase",
                "account_id": player.account_id,
                "amount": "1500.00",
                "currency": "CNY",
                "occurred_at": timezone.now().isoformat(),
            }
            for n, player in enumerate([main, main, alone])
        ],
        source="api",
    )
    main.refresh_from_db(), alt.refresh_from_db(), alone.refresh_from_db()
    assert (main.tier.name, alt.tier.name, alone.tier.name) == ("V7", "V7", "V6")
    assert main.tier == _tier_from_the_ledger([main.pk, alt.pk])


def test_tiers_per_account_when_the_scheme_says_so(make_player, pay, tiers, supervisor, settings):
    settings.CRM_VIP_TIER_BASIS = "account"
    main, alt = make_player(), make_player()
    pay(main, "600.00")
    pay(alt, "30.00")
    account_link(person=main, account=alt, actor=supervisor)
    main.refresh_from_db(), alt.refresh_from_db()
    assert (main.tier.name, alt.tier.name) == ("V4", "V2")


def test_unlinking_an_account_gives_each_their_own_tier_again(make_player, pay, tiers, supervisor):
    main, alt = make_player(), make_player()
    pay(main, "600.00")
    pay(alt, "600.00")
    account_link(person=main, account=alt, actor=supervisor)

    account_unlink(account=Player.objects.get(pk=alt.pk), actor=supervisor)

    main.refresh_from_db(), alt.refresh_from_db()
    assert alt.person_account_id is None
    assert (main.tier.name, alt.tier.name) == ("V4", "V4")


def test_the_manager_is_the_person_s_every_account_follows(make_player, supervisor, manager, other_manager):
    from vip.services import players_assign_manager

    main, alt = make_player(manager=manager), make_player(manager=other_manager)
    account_link(person=main, account=alt, actor=supervisor)
    assert Player.objects.get(pk=alt.pk).manager == manager  # the person's manager

    players_assign_manager(players=Player.objects.filter(pk=main.pk), manager=other_manager, actor=supervisor)
    assert set(Player.objects.filter(pk__in=[main.pk, alt.pk]).values_list("manager", flat=True)) == {other_manager.pk}


def _rows() -> dict[str, set[tuple]]:
    """Every row of every table of a player: (pk, the player it belongs to)."""
    out = {}
    for label, table in PLAYER_TABLES.items():
        out[label] = set(table.model._default_manager.values_list("pk", table.player_path))
    return out


def test_merge_and_undo_round_trip_over_every_table(ouyang, make_player, supervisor, manager, other_manager):  # noqa: F811
    winner = make_player(account_id="ouyang-s2", nickname="欧阳二号", manager=other_manager, qq="")
    contact_log_create(player=winner, staff=other_manager, channel="phone", topic="回访", summary="新区账号")
    spend_before = Player.objects.aggregate(s=Sum("total_spend"))["s"]
    before = _rows()
    winner_profile = Player.objects.filter(pk=winner.pk).values().get()

    merge = persons_merge(winner=winner, loser=ouyang, actor=supervisor)

    after = _rows()
    for label, rows in before.items():  # every history row survives (some moved)
        assert {pk for pk, _ in rows} <= {pk for pk, _ in after[label]}, label
    moved = {label for label in PERSON_TABLES if {r for r in before[label] if r[1] == ouyang.pk} - after[label]}
    assert moved >= {"players.ContactLog", "players.Case", "players.FeedbackReport", "campaigns.GiftEntry"}
    assert not ContactLog.objects.filter(player=ouyang).exists()
    assert Payment.objects.filter(player=ouyang).count() == 3  # the ledger stays with its account
    assert Player.objects.aggregate(s=Sum("total_spend"))["s"] == spend_before  # spend before = spend after
    w = Player.objects.get(pk=winner.pk)
    assert (w.phone, w.real_name, w.manager) == (PHONE, "欧阳锋锋", other_manager)  # empties filled, the winner's kept
    assert Player.objects.get(pk=ouyang.pk).person_account_id == winner.pk
    assert Player.objects.get(pk=ouyang.pk).manager == other_manager
    assert merge.rows_moved > 0 and "phone" in merge.kept_from_loser

    person_merge_undo(merge=merge, actor=supervisor)

    undone = _rows()
    for label, rows in before.items():  # each row back with its player (the merge's own records added)
        assert rows <= undone[label], label
    derived = {"updated_at": None, "tier_since": None}  # when the projection last wrote them
    assert Player.objects.filter(pk=winner.pk).values().get() | derived == winner_profile | derived
    o = Player.objects.get(pk=ouyang.pk)
    assert (o.person_account_id, o.manager, o.phone) == (None, manager, PHONE)
    assert Player.objects.aggregate(s=Sum("total_spend"))["s"] == spend_before
    assert PersonMerge.objects.get(pk=merge.pk).undone_by == supervisor
    with pytest.raises(ValidationError):  # once
        person_merge_undo(merge=merge, actor=supervisor)


def test_the_later_consent_comes_into_force_and_undo_puts_the_winner_s_back(make_player, supervisor):
    winner, loser = make_player(), make_player()
    earlier = timezone.now() - timedelta(days=3)
    consent_record(
        player=winner, channel="sms", purpose="marketing", status="granted", source="staff", occurred_at=earlier
    )
    consent_record(player=loser, channel="sms", purpose="marketing", status="withdrawn", source="staff")
    consent_record(player=loser, channel="email", purpose="marketing", status="granted", source="staff")

    merge = persons_merge(winner=winner, loser=loser, actor=supervisor)

    in_force = {(c.channel, c.status) for c in Consent.objects.filter(player=winner)}
    assert in_force == {("sms", "withdrawn"), ("email", "granted")}

    person_merge_undo(merge=merge, actor=supervisor)

    assert {(c.channel, c.status) for c in Consent.objects.filter(player=winner)} == {("sms", "granted")}
    assert {(c.channel, c.status) for c in Consent.objects.filter(player=loser)} == {
        ("sms", "withdrawn"),
        ("email", "granted"),
    }


def test_a_manager_may_not_merge_and_nobody_merges_players_they_cannot_see(
    make_player, manager, other_manager, make_staff
):
    from django.contrib.auth.models import Permission

    mine, theirs = make_player(manager=manager), make_player(manager=other_manager)
    other_mine = make_player(manager=manager)
    with pytest.raises(PermissionDenied):
        persons_merge(winner=mine, loser=other_mine, actor=manager)  # a manager may not merge
    manager.user_permissions.add(Permission.objects.get(codename="merge_people"))
    manager = type(manager).objects.get(pk=manager.pk)
    with pytest.raises(PermissionDenied):
        persons_merge(winner=mine, loser=theirs, actor=manager)  # even with it: not another manager's player
    assert Player.objects.get(pk=theirs.pk).person_account_id is None


def test_hostile_merges_are_refused_with_the_field_named(make_player, supervisor, erase):
    a, b = make_player(), make_player()
    with pytest.raises(ValidationError) as same:
        persons_merge(winner=a, loser=a, actor=supervisor)
    assert "loser" in same.value.message_dict
    with pytest.raises(ValidationError) as unknown:
        persons_merge(winner=a, loser=b, actor=supervisor, take_from_loser=["total_spend"])
    assert "take_from_loser" in unknown.value.message_dict
    persons_merge(winner=a, loser=b, actor=supervisor)
    with pytest.raises(ValidationError):  # already one person, either way round
        persons_merge(winner=b, loser=a, actor=supervisor)
    c = erase(make_player())
    with pytest.raises(ValidationError):
        persons_merge(winner=a, loser=c, actor=supervisor)


def test_undo_only_within_the_period_and_the_latest_merge_first(make_player, supervisor, settings):
    settings.CRM_PERSON_MERGE_UNDO_DAYS = 7
    a, b, c = make_player(), make_player(), make_player()
    with time_machine.travel(timezone.now() - timedelta(days=10)):
        old = persons_merge(winner=a, loser=b, actor=supervisor)
    with pytest.raises(ValidationError):
        person_merge_undo(merge=old, actor=supervisor)
    settings.CRM_PERSON_MERGE_UNDO_DAYS = 30
    later = persons_merge(winner=a, loser=c, actor=supervisor)
    with pytest.raises(ValidationError):
        person_merge_undo(merge=old, actor=supervisor)
    person_merge_undo(merge=later, actor=supervisor)
    person_merge_undo(merge=old, actor=supervisor)
    assert set(Player.objects.filter(pk__in=[a.pk, b.pk, c.pk]).values_list("person_account", flat=True)) == {None}


def test_a_person_s_window_spend_is_the_sum_of_each_account_s_by_the_ledger_s_rule(make_player, pay, tiers):
    from players.selectors import player_net_spend_since
    from vip.services import persons_window_spend

    now = timezone.now()
    a, b, c = make_player(), make_player(), make_player()
    pay(a, "100.00", at=now - timedelta(days=40))  # outside a 30-day window
    pay(a, "50.00", at=now - timedelta(days=3))
    pay(b, "80.00", at=now - timedelta(days=2))
    pay(b, "30.00", kind="refund", at=now - timedelta(days=1))
    groups = [(a.pk, b.pk), (c.pk,)]

    windowed = persons_window_spend(groups=groups, window_days=30, now=now)
    lifetime = persons_window_spend(groups=groups, window_days=None, now=now)

    since = now - timedelta(days=30)
    assert windowed[(a.pk, b.pk)] == player_net_spend_since(player=a, since=since) + player_net_spend_since(
        player=b, since=since
    )
    assert windowed[(a.pk, b.pk)] == Decimal("100.00")
    assert lifetime[(a.pk, b.pk)] == Decimal("200.00") and lifetime[(c.pk,)] == windowed[(c.pk,)] == 0


def test_accounts_of_one_person_are_no_longer_possible_duplicates(make_player, supervisor):
    from players.models import DuplicateCandidate
    from players.services.duplicates import duplicates_find

    a = make_player(phone="+8613812345678")
    b = make_player(phone="+8613812345678")
    c = make_player(phone="+8613812345678")
    duplicates_find()
    assert DuplicateCandidate.objects.count() == 3

    persons_merge(winner=a, loser=b, actor=supervisor)
    duplicates_find()

    assert {(d.player_a_id, d.player_b_id) for d in DuplicateCandidate.objects.all()} == {(a.pk, c.pk), (b.pk, c.pk)}


def test_the_merge_screen_and_the_list_show_a_scoped_user_only_their_own_players(
    client, make_player, manager, other_manager, supervisor
):
    from django.contrib.auth.models import Permission

    manager.user_permissions.add(*Permission.objects.filter(codename__in=["merge_people", "view_personmerge"]))
    mine, also_mine = make_player(manager=manager), make_player(manager=manager)
    theirs, also_theirs = make_player(manager=other_manager), make_player(manager=other_manager)
    persons_merge(winner=theirs, loser=also_theirs, actor=supervisor)
    client.force_login(manager)

    assert client.get(f"/admin/players/personmerge/add/?a={mine.pk}&b={theirs.pk}").status_code == 404
    assert (
        client.post("/admin/players/personmerge/add/", {"a": mine.pk, "b": theirs.pk, "keep": "a"}).status_code == 404
    )
    assert client.get("/admin/players/personmerge/").context["cl"].result_count == 0  # another book's merge
    answer = client.post(
        "/admin/players/personmerge/add/", {"a": mine.pk, "b": also_mine.pk, "keep": "b", "take_qq": "a"}
    )
    assert answer.status_code == 302
    assert Player.objects.get(pk=mine.pk).person_account_id == also_mine.pk
    assert client.get("/admin/players/personmerge/").context["cl"].result_count == 1


def test_a_one_per_player_row_moves_only_when_the_winner_has_none_and_undo_puts_it_back(make_player, supervisor):
    from campaigns.models import WecomContact

    winner, loser, third = make_player(), make_player(), make_player()
    WecomContact.objects.create(external_userid="wm-loser", player=loser, synced_at=timezone.now())
    first = persons_merge(winner=winner, loser=loser, actor=supervisor)
    assert WecomContact.objects.get(external_userid="wm-loser").player_id == winner.pk  # the winner had none

    WecomContact.objects.create(external_userid="wm-third", player=third, synced_at=timezone.now())
    second = persons_merge(winner=winner, loser=third, actor=supervisor)
    assert WecomContact.objects.get(external_userid="wm-third").player_id == third.pk  # the winner's stays

    person_merge_undo(merge=second, actor=supervisor)
    person_merge_undo(merge=first, actor=supervisor)
    assert WecomContact.objects.get(external_userid="wm-loser").player_id == loser.pk


def test_the_merge_lists_add_button_leads_to_the_possible_duplicates(client, supervisor):
    """A merge starts from a pair: the bare add page (the list's "Add" button) says so and
    opens the possible duplicates, rather than a 404."""
    client.force_login(supervisor)
    response = client.get("/admin/players/personmerge/add/", follow=True)
    assert response.redirect_chain[-1][0] == "/admin/players/duplicatecandidate/"
    assert [str(m) for m in response.context["messages"]] == [
        "Choose two people: open the merge from a possible duplicate."
    ]
    with translation.override("zh-hans"):
        response = client.get("/admin/players/personmerge/add/", follow=True, headers={"accept-language": "zh-hans"})
    assert [str(m) for m in response.context["messages"]] == ["请选择两位客户：从“可能重复的账号”打开合并。"]
