"""A no-sending day may let greetings go (`NoSendDay.greetings_too`, unticked by default: a
festival's greeting goes out on the festival). Days declared before it keep what they did
where that was meant: a date (a day of mourning, the gaokao) holds greetings too, as it
did; a statutory holiday's break no longer holds the festival's own greetings."""

from django.db import migrations, models


def dates_hold_greetings_as_before(apps, schema_editor):
    NoSendDay = apps.get_model("campaigns", "NoSendDay")
    NoSendDay.objects.filter(date__isnull=False).update(greetings_too=True)


class Migration(migrations.Migration):

    dependencies = [
        ('campaigns', '0021_message_last_error_provider_words'),
    ]

    operations = [
        migrations.AddField(
            model_name='nosendday',
            name='greetings_too',
            field=models.BooleanField(default=False, help_text="Also hold birthday and festival greetings on these days (a day of mourning, say). Unticked, greetings still go out on their day: a festival's greeting on the festival.", verbose_name='greetings too'),
        ),
        migrations.RunPython(dates_hold_greetings_as_before, migrations.RunPython.noop),
    ]
