# Two indexes of the ledger that every insert paid for and no query needed: player_id
# alone (payment_player_recent starts with it) and recorded_by_id over the game's
# events, which carry no staff user (now a partial index over the staff-entered few).
# The indexes are dropped by name: Django's AlterField would also drop and re-add the
# foreign keys, re-checking every row of a ledger of millions.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('players', '0009_player_index_diet'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='payment',
                    name='player',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='payments', to='players.player', verbose_name='player'),
                ),
                migrations.AlterField(
                    model_name='payment',
                    name='recorded_by',
                    field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='recorded by'),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "players_payment_player_id_5a722435"',
                    'CREATE INDEX "players_payment_player_id_5a722435" ON "players_payment" ("player_id")',
                ),
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "players_payment_recorded_by_id_7be6a373"',
                    'CREATE INDEX "players_payment_recorded_by_id_7be6a373" ON "players_payment" ("recorded_by_id")',
                ),
            ],
        ),
        migrations.AddIndex(
            model_name='payment',
            index=models.Index(condition=models.Q(('recorded_by__isnull', False)), fields=['recorded_by'], name='payment_recorded_by'),
        ),
    ]
