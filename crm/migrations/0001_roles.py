from django.db import migrations

from crm.roles import roles_sync


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("players", "0002_initial"),
        ("vip", "0002_default_tiers"),
        ("campaigns", "0002_initial"),
    ]
    operations = [migrations.RunPython(roles_sync, migrations.RunPython.noop)]
