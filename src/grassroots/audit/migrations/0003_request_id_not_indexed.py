from typing import Any

from django.db import migrations, models

# SQLite rebuilds the table to alter a column, and its triggers go with the old table: put the
# append-only triggers of migration 0002 back (PostgreSQL alters in place and keeps them).
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
        ('audit', '0002_append_only_triggers'),
    ]

    operations = [
        migrations.AlterField(
            model_name='event',
            name='request_id',
            field=models.CharField(max_length=64, verbose_name='request id'),
        ),
        migrations.RunPython(restore_triggers, restore_triggers),
    ]
