from django.db import migrations, models


class Migration(migrations.Migration):
    """The "to project" marks become a queue: one row per player per accepted batch (its own
    id), no longer one per player. With the player's id as the key, a batch that marked a
    player whose mark a projection had just taken waited on that mark's row lock until
    the projection's round committed (seconds for a thousand players): the accept waited
    for the projection. Now a batch only inserts, and never waits; the projection takes
    every mark of the players it projects. The marks already there are kept."""

    dependencies = [
        ('players', '0030_person_link_requests'),
    ]

    operations = [
        migrations.AlterField(
            model_name='projectionpending',
            name='player_id',
            field=models.BigIntegerField(db_index=True),
        ),
        migrations.AddField(
            model_name='projectionpending',
            name='id',
            field=models.BigAutoField(primary_key=True, serialize=False),
        ),
        migrations.AlterField(
            model_name='projectionpending',
            name='since',
            field=models.DateTimeField(help_text='When the events this mark stands for were received.'),
        ),
    ]
