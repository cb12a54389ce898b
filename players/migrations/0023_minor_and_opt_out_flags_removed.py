"""The hand-set `is_minor` and `marketing_opt_out` flags go (0022 moved what they said
into the consent ledger; minority is derived from the birthday). Its own migration: on
PostgreSQL a table cannot be altered in the transaction that inserted rows referencing it."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("players", "0022_consents_minors_checklist"),
    ]

    operations = [
        migrations.RemoveField(
            model_name="historicalplayer",
            name="is_minor",
        ),
        migrations.RemoveField(
            model_name="historicalplayer",
            name="marketing_opt_out",
        ),
        migrations.RemoveField(
            model_name="player",
            name="is_minor",
        ),
        migrations.RemoveField(
            model_name="player",
            name="marketing_opt_out",
        ),
    ]
