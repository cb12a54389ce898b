"""The global churn rule with its documented defaults, and the roles' new permissions.
Both only fill what is missing, so edits made in the admin survive. (The nightly job
is on the beat schedule through players.apps, like the app's other periodic tasks.)"""

from decimal import Decimal

from django.db import migrations

from crm.roles import roles_sync


def seed(apps, schema_editor):
    ChurnRule = apps.get_model("players", "ChurnRule")
    if not ChurnRule.objects.filter(tier__isnull=True).exists():
        ChurnRule.objects.create(
            tier=None,
            churn_after_days=30,
            gap_multiplier=Decimal("2.0"),
            min_gap_days=7,
            spend_window_days=30,
            spend_drop_ratio=Decimal("0.50"),
            no_login_days=7,
        )


class Migration(migrations.Migration):
    dependencies = [
        ("players", "0007_churn_status"),
        ("crm", "0001_roles"),
    ]

    operations = [
        migrations.RunPython(seed, migrations.RunPython.noop),
        # Grant the roles the new permissions (worklist, history, rules, report).
        migrations.RunPython(roles_sync, migrations.RunPython.noop),
    ]
