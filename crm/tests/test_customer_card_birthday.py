"""The customer card's birthday: the date of birth, and for a lunar birthday its lunar
date with the solar day(s) it falls on this year; masked without the permission."""

from datetime import date

import time_machine
from django.contrib.auth.models import Permission
from django.utils import translation

from crm.workplace.customer_card import customer_card


def _birthday(player, user):
    with translation.override("zh-hans"):
        card = customer_card(player=player, user=user)
    return card.birthday, card.lunar_birthday


@time_machine.travel(date(2026, 12, 6), tick=False)
def test_the_card_reads_each_kind_of_birthday(make_player, manager):
    solar = make_player(birthday=date(1990, 3, 7), manager=manager)
    moon = make_player(birthday=date(1978, 9, 15), birthday_is_lunar=True, manager=manager)
    # born 2025-08-01, 闰六月初八: greeted on regular 六月初八 (2026-07-21)
    leap = make_player(birthday=date(2025, 8, 1), birthday_is_lunar=True, manager=manager)
    # born lunar 1990/11/20 (1991-01-05): lunar 11/20 falls twice in 2026, in January and December
    twice = make_player(birthday=date(1991, 1, 5), birthday_is_lunar=True, manager=manager)
    nothing = make_player(manager=manager)

    assert _birthday(solar, manager) == ("1990-03-07", "")
    assert _birthday(moon, manager) == ("1978-09-15", "农历八月十三（今年：2026-09-23）")
    assert _birthday(leap, manager) == ("2025-08-01", "农历闰六月初八 → 农历六月初八（今年：2026-07-21）")
    assert _birthday(twice, manager) == ("1991-01-05", "农历十一月二十（今年：2026-01-08, 2026-12-28）")
    assert _birthday(nothing, manager) == ("–", "")


@time_machine.travel(date(2026, 12, 6), tick=False)
def test_without_the_permission_the_birthday_is_masked_and_no_lunar_date_shows(make_player, manager):
    manager.user_permissions.set(Permission.objects.none())
    for group in manager.groups.all():
        manager.groups.remove(group)
    manager.user_permissions.set(Permission.objects.filter(codename__in=["view_player"]))
    manager = type(manager).objects.get(pk=manager.pk)  # fresh permission cache
    moon = make_player(birthday=date(1978, 9, 15), birthday_is_lunar=True, manager=manager)

    assert _birthday(moon, manager) == ("****-**-**", "")
