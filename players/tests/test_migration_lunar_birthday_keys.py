"""The data migration that re-keys lunar birthdays after the calendar's source changed
(players 0015): keys the former source (`lunardate`) got wrong are corrected, the rest
left as they are."""

from datetime import date
from importlib import import_module

from django.apps import apps

from players.models import Player

rekey_0015 = import_module("players.migrations.0015_lunar_birthday_keys_rekeyed_by_sxtwl")


def test_lunar_keys_of_the_months_the_former_source_had_wrong_are_corrected(make_player):
    # given keys as the former source stored them: 1978-09-15 as lunar 8/14 (it is 8/13),
    # 1954-12-01 as 11/6 (it is 11/7), 1933-08-01 as 6/11 (it is 6/10)
    wrong = {
        make_player(birthday=date(1978, 9, 15), birthday_is_lunar=True).pk: (814, 813),
        make_player(birthday=date(1954, 12, 1), birthday_is_lunar=True).pk: (1106, 1107),
        make_player(birthday=date(1933, 8, 1), birthday_is_lunar=True).pk: (611, 610),
    }
    # and keys that were right, a solar birthday in the same month, and no birthday
    right = make_player(birthday=date(1990, 3, 7), birthday_is_lunar=True)
    solar = make_player(birthday=date(1978, 9, 15))
    none = make_player(birthday_is_lunar=True)
    for pk, (old, _new) in wrong.items():
        Player.objects.filter(pk=pk).update(birthday_md=old)
    Player.objects.filter(pk=right.pk).update(birthday_md=211)
    Player.objects.filter(pk=solar.pk).update(birthday_md=915)

    # when the migration runs
    rekey_0015.rekey(apps, None)

    # then the wrong keys are right, the others untouched
    keys = dict(Player.objects.values_list("pk", "birthday_md"))
    assert {pk: keys[pk] for pk in wrong} == {pk: new for pk, (_old, new) in wrong.items()}
    assert (keys[right.pk], keys[solar.pk], keys[none.pk]) == (211, 915, None)
