"""The tiers of a typical Chinese mobile game: lifetime spend in CNY.
Adjust them in the admin; this only seeds an empty table."""

from decimal import Decimal

from django.db import migrations

DEFAULT_TIERS = [
    ("V1", 1, "6", "#8d9aa5"),
    ("V2", 2, "30", "#6b8e23"),
    ("V3", 3, "100", "#2e8b57"),
    ("V4", 4, "500", "#1e88e5"),
    ("V5", 5, "1000", "#3949ab"),
    ("V6", 6, "2000", "#8e24aa"),
    ("V7", 7, "5000", "#d81b60"),
    ("V8", 8, "10000", "#f4511e"),
    ("V9", 9, "20000", "#c9a227"),
]


def seed_tiers(apps, schema_editor):
    Tier = apps.get_model("vip", "Tier")
    if Tier.objects.exists():
        return
    Tier.objects.bulk_create(
        Tier(name=name, level=level, min_spend=Decimal(spend), colour=colour, downgrade_grace_days=30)
        for name, level, spend, colour in DEFAULT_TIERS
    )


class Migration(migrations.Migration):
    dependencies = [("vip", "0001_initial")]
    operations = [migrations.RunPython(seed_tiers, migrations.RunPython.noop)]
