"""The case source of the player timeline (crm.workplace.timeline_sources.case_events)."""

from datetime import timedelta

from django.utils import timezone

from crm.workplace.timeline import player_timeline
from players.services.cases import case_resolve, case_start


def test_the_player_timeline_shows_every_change_of_the_players_cases(make_player, make_case, manager, operations):
    player = make_player(manager=manager)
    start = timezone.now() - timedelta(hours=5)
    case = make_case(player, actor=manager, subject="请回电13812345678", opened_at=start)
    case_start(case=case, actor=manager, now=start + timedelta(hours=1))
    case_resolve(case=case, actor=manager, resolution="补发", now=start + timedelta(hours=2))

    entries = [e for e in player_timeline(player=player, user=manager).entries if e.source == "case"]
    hidden = [e for e in player_timeline(player=player, user=operations).entries if e.source == "case"]

    assert [e.title.split(": ")[-1] for e in entries] == ["Status changed", "Status changed", "Opened"]
    assert entries[0].detail == "In progress → Resolved" and entries[0].tone == "good"
    assert all("138****5678" in e.title and "13812345678" not in e.title for e in entries)
    assert hidden == []  # operations may not view cases
