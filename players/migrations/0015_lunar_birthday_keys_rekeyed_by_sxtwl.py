"""Re-key stored lunar birthdays with the calendar's new source (sxtwl, GB/T 33661).

The former source, `lunardate`, put three lunar months a day off (1933-07-22..08-20,
1954-11-25..12-24, 1978-09-02..10-01): a player born 1978-09-15 is lunar 8/13, not
8/14, and was greeted a day late every year. This recomputes the key of every distinct
lunar date of birth (a few tens of thousands at most, one pass over the lunar players)
and updates only the players whose stored key differs.
"""

from django.db import migrations


def rekey(apps, schema_editor):
    from crm.calendar import birthday_key

    Player = apps.get_model("players", "Player")
    lunar = Player.objects.filter(birthday_is_lunar=True, birthday__isnull=False, birthday_md__isnull=False)
    stored = lunar.order_by().values_list("birthday", "birthday_md").distinct()
    for birthday, key in list(stored):
        right = birthday_key(birthday, True)
        if right != key:
            lunar.filter(birthday=birthday).update(birthday_md=right)


class Migration(migrations.Migration):
    dependencies = [("players", "0014_contact_log_change")]

    operations = [migrations.RunPython(rekey, migrations.RunPython.noop, elidable=True)]
