"""Reads: querysets for players, scoped and joined for their use."""

from django.db.models import Q

from crm.admin_mixins import player_scope_q

from .models import Player


def players_visible_to(user):
    return Player.objects.filter(player_scope_q(user))


def player_search_q(term: str) -> Q:
    """What a manager types into the search box: an account id, a phone number or a
    nickname. Exact matches on indexed columns first; a nickname matches by prefix."""
    import phonenumbers
    from django.conf import settings

    term = term.strip()
    q = Q(account_id=term) | Q(nickname__startswith=term)
    digits = "".join(ch for ch in term if ch.isdigit() or ch == "+")
    if len(digits.lstrip("+")) >= 7:
        try:
            number = phonenumbers.parse(digits, settings.PHONENUMBER_DEFAULT_REGION)
            if phonenumbers.is_possible_number(number):
                q |= Q(phone=phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
        except phonenumbers.NumberParseException:
            pass
    return q


# Service records (cases, follow-ups, feedback, the daily work report).
from .service_selectors import *  # noqa: E402,F401,F403
