"""Messaging a VIP person: a campaign or a message for a linked account goes to the person's
main account, read through the one consent door (the person's consents and birthday, the
main account's contact details), once per person and campaign however many of their
accounts the segment holds."""

from datetime import UTC, datetime

import pytest

from campaigns.models import Message, MessageStatus, OutreachTask
from campaigns.services.campaigns import campaign_launch
from campaigns.services.messaging import message_queue
from players.services.persons import account_link

LAUNCH = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, outside the quiet hours


@pytest.fixture
def person(make_player, supervisor):
    """黄药师's main account (his phone, his consents) and two accounts linked to it."""
    main = make_player(account_id="huang-s1", nickname="黄药师", phone="+8613911115555")
    alts = [make_player(account_id=f"huang-s{n}", nickname=f"东邪{n}") for n in (2, 3)]
    for alt in alts:
        account_link(person=main, account=alt, actor=supervisor)
        alt.refresh_from_db()  # as every door reads it
    return main, alts


def test_an_sms_campaign_messages_a_person_once_on_the_main_account_by_the_person_s_consent(
    make_campaign, make_player, person, supervisor, consent
):
    main, alts = person
    consent(main, "sms")  # the person granted marketing SMS; the linked accounts have no record of their own
    stranger = make_player(nickname="路人")  # no consent: stays blocked
    campaign = make_campaign(channel="sms", holdout_percent=0, template="{nickname}，回来领礼包！")

    campaign_launch(campaign=campaign, actor=supervisor, now=LAUNCH)

    messages = {m.player_id: m for m in Message.objects.filter(campaign=campaign)}
    assert set(messages) == {main.pk, stranger.pk}  # one for the person of three accounts
    assert messages[main.pk].status == MessageStatus.QUEUED
    assert (messages[stranger.pk].status, messages[stranger.pk].status_reason) == (
        MessageStatus.CANCELLED,
        "no_consent",
    )


def test_the_person_s_withdrawal_holds_back_a_campaign_for_any_of_their_accounts(
    make_campaign, person, supervisor, consent
):
    main, alts = person
    consent(alts[0], "in_game", status="withdrawn")  # said on a linked account: the person's (the one writer)
    campaign = make_campaign(channel="in_game", holdout_percent=0, template="回来领礼包！", segment={})

    campaign_launch(campaign=campaign, actor=supervisor, now=LAUNCH)

    (message,) = Message.objects.filter(campaign=campaign)
    assert (message.player_id, message.status, message.status_reason) == (
        main.pk,
        MessageStatus.CANCELLED,
        "consent_withdrawn",
    )


def test_a_message_for_a_linked_account_goes_to_the_person_once(person, consent):
    main, alts = person
    consent(main, "in_game", purpose="service")
    first = message_queue(player=alts[0], channel="in_game", body="工单已处理", source="case:9", is_marketing=False)
    again = message_queue(player=alts[1], channel="in_game", body="工单已处理", source="case:9", is_marketing=False)
    assert first.pk == again.pk and first.player_id == main.pk and first.status == MessageStatus.QUEUED


def test_a_call_campaign_gives_the_person_s_manager_one_task_on_the_main_account(
    make_campaign, make_player, supervisor, manager, other_manager, consent
):
    # given a person whose main account (s1) is 李娜's, with two accounts on s2 and s3,
    # and a campaign whose segment holds only the linked accounts' servers
    main = make_player(account_id="guo-s1", nickname="郭靖", server="s1", manager=manager, phone="+8613911116666")
    for server in ("s2", "s3"):
        alt = make_player(account_id=f"guo-{server}", nickname=f"靖哥哥{server}", server=server)
        account_link(person=main, account=alt, actor=supervisor)
    consent(main, "phone")
    stranger = make_player(account_id="yang-s2", nickname="杨康", server="s2")
    campaign = make_campaign(segment={"servers": ["s2", "s3"]}, template="{nickname}您好")

    campaign_launch(campaign=campaign, actor=supervisor, now=LAUNCH, chunk_size=1)  # each account its own chunk

    # one call for the person, on the main account, for the person's manager; the stranger's own
    tasks = {t.player_id: t for t in OutreachTask.objects.filter(campaign=campaign)}
    assert set(tasks) == {main.pk, stranger.pk}
    assert tasks[main.pk].assignee_id == manager.pk
