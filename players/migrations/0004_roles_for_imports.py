"""Grant the roles the permissions of the import and export records (crm.roles):
supervisors see imports and exports, operations see imports."""

from django.db import migrations

from crm.roles import roles_sync


class Migration(migrations.Migration):
    dependencies = [
        ("players", "0003_import_export_records"),
        ("crm", "0001_roles"),
    ]

    operations = [migrations.RunPython(roles_sync, migrations.RunPython.noop)]
