"""An expired satisfaction survey says why and when: surveys expired before this migration get
it too. A survey of a player whose personal data was erased expired with the erasure; any
other expired unanswered when its link stopped working (CRM_SURVEY_VALID_DAYS after sending)."""

from datetime import timedelta

from django.conf import settings
from django.db import migrations, models
from django.db.models import F, OuterRef, Subquery


def expired_say_why(apps, schema_editor):
    Survey = apps.get_model("players", "SatisfactionSurvey")
    Player = apps.get_model("players", "Player")
    expired = Survey.objects.filter(status="expired", expiry_reason="")
    expired.filter(player__erased_at__isnull=False).update(
        expiry_reason="erased",
        expired_at=Subquery(Player.objects.filter(pk=OuterRef("player_id")).values("erased_at")[:1]),
    )
    valid = timedelta(days=int(getattr(settings, "CRM_SURVEY_VALID_DAYS", 14)))
    expired.filter(expiry_reason="").update(expiry_reason="no_answer", expired_at=F("sent_at") + valid)


class Migration(migrations.Migration):

    dependencies = [
        ('players', '0032_history_unindexed'),
    ]

    operations = [
        migrations.AddField(
            model_name='satisfactionsurvey',
            name='expired_at',
            field=models.DateTimeField(blank=True, null=True, verbose_name='expired at'),
        ),
        migrations.AddField(
            model_name='satisfactionsurvey',
            name='expiry_reason',
            field=models.CharField(blank=True, choices=[('no_answer', 'Not answered within %(days)s days of sending: its link expired on %(at)s.'), ('erased', "The player's personal data was erased on request on %(at)s: no answer is taken.")], db_default='', default='', max_length=16, verbose_name='why it expired'),
        ),
        migrations.RunPython(expired_say_why, migrations.RunPython.noop),
    ]
