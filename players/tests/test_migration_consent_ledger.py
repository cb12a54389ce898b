"""The data migration that moved the former `marketing_opt_out` and hand-set `is_minor`
flags into the consent ledger (players 0022, the columns dropped by 0023), run on rows
of the old schema: the database is taken back to 0021, old rows are written with the
models of that time, and 0022 runs with the clock pinned.

The clock is pinned at 01:00 in Shanghai on 15 June 2026 (17:00 UTC on the 14th): a
player born on 15 June 2008 is 18 by the CRM's date and still 17 by UTC's, so the test
also holds the migration to the CRM's time zone."""

from datetime import UTC, date, datetime

import pytest
import time_machine
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("players", "0021_satisfaction_surveys")]
MOVED = [("players", "0022_consents_minors_checklist")]
DROPPED = [("players", "0023_minor_and_opt_out_flags_removed")]
NOW = datetime(2026, 6, 14, 17, 0, tzinfo=UTC)  # 2026-06-15 01:00 in Asia/Shanghai
CHANNELS = {"sms", "phone", "wechat", "email", "in_game"}
OPT_OUT_EVIDENCE = "Opted out of marketing (the CRM's former opt-out flag)"
MINOR_EVIDENCE = "Flagged as a minor by hand, without a birthday that says so (the CRM's former minor flag)"


def _migrate(targets):
    executor = MigrationExecutor(connection)  # a fresh graph: the last run changed what is applied
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.fixture
def old_schema(transactional_db, settings):
    """The players tables as they were at 0021 (with both flags); the latest schema again afterwards."""
    assert settings.TIME_ZONE == "Asia/Shanghai"
    leaves = MigrationExecutor(connection).loader.graph.leaf_nodes()
    try:
        yield _migrate(BEFORE)
    finally:
        _migrate(leaves)


def test_the_former_flags_become_refusals_of_marketing_with_their_evidence_and_source(old_schema):
    # given players of the old schema, one of each kind
    Player = old_schema.get_model("players", "Player")

    def old(account_id, **flags):
        return Player.objects.create(account_id=account_id, server="s1", nickname=account_id, **flags).pk

    opted_out = old("opted-out", marketing_opt_out=True, birthday=date(1990, 5, 17))
    neither = old("neither", birthday=date(1990, 5, 17))
    no_flags_no_birthday = old("nothing")
    minor_no_birthday = old("minor-no-birthday", is_minor=True)
    minor_adult_birthday = old("minor-adult-birthday", is_minor=True, birthday=date(1990, 5, 17))
    minor_by_birthday = old("minor-by-birthday", is_minor=True, birthday=date(2012, 1, 1))  # 14: derived now
    eighteen_today = old("eighteen-today", is_minor=True, birthday=date(2008, 6, 15))  # 18 in Shanghai
    both = old("both", marketing_opt_out=True, is_minor=True)

    # when 0022 runs (its clock pinned)
    with time_machine.travel(NOW, tick=False):
        moved = _migrate(MOVED)

    # then each flagged player has a refusal of marketing on every consent channel, in force,
    # from the migration, with the evidence saying which flag it was
    ConsentEvent = moved.get_model("players", "ConsentEvent")
    Consent = moved.get_model("players", "Consent")
    events = list(ConsentEvent.objects.order_by("player_id", "channel"))
    by_player: dict[int, dict] = {}
    for event in events:
        by_player.setdefault(event.player_id, {})[event.channel] = event
    assert set(by_player) == {opted_out, minor_no_birthday, minor_adult_birthday, eighteen_today, both}
    expected_evidence = {
        opted_out: OPT_OUT_EVIDENCE,
        both: OPT_OUT_EVIDENCE,  # the opt-out says more than the minor flag: it is the one named
        minor_no_birthday: MINOR_EVIDENCE,
        minor_adult_birthday: MINOR_EVIDENCE,
        eighteen_today: MINOR_EVIDENCE,
    }
    for player_id, channels in by_player.items():
        assert set(channels) == CHANNELS, player_id
        for event in channels.values():
            assert (event.purpose, event.status, event.source) == ("marketing", "refused", "migration")
            assert event.evidence == expected_evidence[player_id]
            assert event.occurred_at == NOW and event.recorded_at == NOW
            assert (event.recorded_by_id, event.recorded_via) == (None, "migration")
    # nothing for a player without either flag, nor for a minor the birthday already protects
    assert not ConsentEvent.objects.filter(player_id__in=[neither, no_flags_no_birthday, minor_by_birthday]).exists()

    # and the consent in force is exactly each of these records, linked to it
    in_force = {(c.player_id, c.channel): c for c in Consent.objects.all()}
    assert set(in_force) == {(e.player_id, e.channel) for e in events}
    for event in events:
        consent = in_force[(event.player_id, event.channel)]
        assert consent.event_id == event.pk
        assert (consent.purpose, consent.status, consent.source, consent.evidence, consent.occurred_at) == (
            "marketing",
            "refused",
            "migration",
            event.evidence,
            NOW,
        )

    # when 0023 drops the flags, the ledger keeps all of it
    dropped = _migrate(DROPPED)
    assert not {"marketing_opt_out", "is_minor"} & {
        f.name for f in dropped.get_model("players", "Player")._meta.get_fields()
    }
    assert dropped.get_model("players", "ConsentEvent").objects.count() == len(events) == 5 * 5
