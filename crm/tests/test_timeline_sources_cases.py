"""The case source of the player timeline (crm.workplace.timeline_sources.case_events)."""

from datetime import timedelta

from django.contrib.auth.models import Permission
from django.utils import timezone

from crm.workplace.timeline import player_timeline
from players.services.cases import case_resolve, case_start


def test_the_player_timeline_shows_every_change_of_the_players_cases(
    make_player, make_case, manager, operations, make_staff
):
    player = make_player(manager=manager)
    start = timezone.now() - timedelta(hours=5)
    case = make_case(player, actor=manager, subject="请回电13812345678", opened_at=start)
    case_start(case=case, actor=manager, now=start + timedelta(hours=1))
    case_resolve(case=case, actor=manager, resolution="补发", now=start + timedelta(hours=2))

    entries = [e for e in player_timeline(player=player, user=manager).entries if e.source == "case"]
    hidden = [e for e in player_timeline(player=player, user=operations).entries if e.source == "case"]
    masked_user = make_staff("masked_reader")
    masked_user.user_permissions.add(*Permission.objects.filter(codename__in=["view_player", "view_case"]))
    masked = [e for e in player_timeline(player=player, user=masked_user).entries if e.source == "case"]

    assert [e.title.split(": ")[-1] for e in entries] == ["Status changed", "Status changed", "Opened"]
    assert entries[0].detail == "In progress → Resolved" and entries[0].tone == "good"
    # the subject as typed for a manager who may see personal data, masked for one who may not
    assert all("13812345678" in e.title for e in entries)
    assert len(masked) == 3 and all("138****5678" in e.title and "13812345678" not in e.title for e in masked)
    assert hidden == []  # operations may not view cases
