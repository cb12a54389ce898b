"""Reads of the duplicate finder's candidates, scoped: a user sees a pair only when they may
see both accounts (a VIP manager, pairs of their own players; a supervisor, all)."""

from ..models.duplicates import DuplicateCandidate
from . import player_scope_q


def duplicate_scope_q(user):
    return player_scope_q(user, "player_a") & player_scope_q(user, "player_b")


def duplicates_visible_to(user):
    return DuplicateCandidate.objects.filter(duplicate_scope_q(user))
