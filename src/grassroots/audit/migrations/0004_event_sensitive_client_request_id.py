from typing import Any

from django.db import migrations, models

# SQLite rebuilds the table to add a column with a default, and its triggers go with the old
# table: put the append-only triggers of migration 0002 back (PostgreSQL keeps them).
_SQLITE_TRIGGERS = [
    "CREATE TRIGGER IF NOT EXISTS audit_event_no_update BEFORE UPDATE ON audit_event"
    " BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END",
    "CREATE TRIGGER IF NOT EXISTS audit_event_no_delete BEFORE DELETE ON audit_event"
    " BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END",
]


def restore_triggers(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "sqlite":
        for statement in _SQLITE_TRIGGERS:
            schema_editor.execute(statement)


class Migration(migrations.Migration):

    dependencies = [
        ('audit', '0003_request_id_not_indexed'),
    ]

    operations = [
        migrations.AddField(
            model_name='event',
            name='client_request_id',
            field=models.CharField(blank=True, max_length=64, null=True, verbose_name="client's request id"),
        ),
        migrations.AddField(
            model_name='event',
            name='sensitive',
            field=models.BooleanField(db_default=False, default=False, verbose_name='sensitive'),
        ),
        migrations.AlterField(
            model_name='event',
            name='action',
            field=models.CharField(choices=[('create', 'created'), ('update', 'changed'), ('delete', 'deleted'), ('reveal', 'revealed'), ('export', 'exported'), ('anonymize', 'anonymized'), ('import', 'imported'), ('keys', 'keys rotated'), ('credentials', 'credentials changed')], max_length=12, verbose_name='action'),
        ),
        migrations.RunPython(restore_triggers, restore_triggers),
    ]
