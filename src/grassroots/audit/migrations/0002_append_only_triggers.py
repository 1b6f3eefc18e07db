"""The database refuses UPDATE and DELETE on audit events, whatever the client.

SQLite: BEFORE triggers that RAISE(ABORT). PostgreSQL: a trigger function raising an exception
for each row. (TRUNCATE by the table owner remains possible on PostgreSQL; grant the
application's role no TRUNCATE and no ownership in production, see docs/security.md.)
"""

from typing import Any

from django.db import migrations

_SQLITE = [
    (
        "CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event"
        " BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END",
        "DROP TRIGGER IF EXISTS audit_event_no_update",
    ),
    (
        "CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event"
        " BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END",
        "DROP TRIGGER IF EXISTS audit_event_no_delete",
    ),
]

_POSTGRESQL = [
    (
        "CREATE FUNCTION audit_event_refuse() RETURNS trigger AS $$ BEGIN"
        " RAISE EXCEPTION 'audit events are append-only'; END; $$ LANGUAGE plpgsql",
        "DROP FUNCTION IF EXISTS audit_event_refuse()",
    ),
    (
        "CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event"
        " FOR EACH ROW EXECUTE FUNCTION audit_event_refuse()",
        "DROP TRIGGER IF EXISTS audit_event_append_only ON audit_event",
    ),
]


def _run(statements: list[tuple[str, str]], forward: bool) -> Any:
    def run(apps: Any, schema_editor: Any) -> None:
        vendor = schema_editor.connection.vendor
        wanted = {"sqlite": _SQLITE, "postgresql": _POSTGRESQL}.get(vendor)
        if wanted is not statements:
            return
        for create, drop in statements if forward else reversed(statements):
            schema_editor.execute(create if forward else drop)

    return run


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]

    operations = [
        migrations.RunPython(_run(_SQLITE, True), _run(_SQLITE, False)),
        migrations.RunPython(_run(_POSTGRESQL, True), _run(_POSTGRESQL, False)),
    ]
