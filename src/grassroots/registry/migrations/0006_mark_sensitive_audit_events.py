"""Marks the audit events recorded before events were split by sensitivity (audit 0004).

Until then an event held a resident's or household's tags as stored, sensitive ones (特殊人群)
included, and the audit pages cut them out when showing it; a filter on the recorded text could
still find them. Every earlier event that names a sensitive tag is marked sensitive here, so
that only readers with the grant see it (later events are split when written). Marking is the
only change ever made to recorded events: the append-only triggers are lifted for this one
statement, inside the migration's transaction, and put back.
"""

from typing import Any

from django.db import migrations

_SQLITE_TRIGGERS = [
    (
        "audit_event_no_update",
        "CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event"
        " BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END",
    ),
]


def _json_forms(name: str) -> list[str]:
    # SQLite keeps JSON as text, written either way: escaped (Django) or as is (imports).
    escaped = "".join(f"\\u{ord(c):04x}" if ord(c) > 127 else c for c in name)
    return list(dict.fromkeys([name, escaped]))


def mark(apps: Any, schema_editor: Any) -> None:
    Tag = apps.get_model("registry", "Tag")
    names = list(Tag.objects.filter(kind="sensitive").values_list("name", flat=True))
    connection = schema_editor.connection
    vendor = connection.vendor
    if not names or vendor not in ("sqlite", "postgresql"):
        return
    patterns: list[str] = []
    if vendor == "sqlite":
        for name in names:
            patterns += _json_forms(name)
        text = "changes"
        like = "instr({}, %s) > 0"
    else:
        patterns = names
        text = "changes::text"
        like = "strpos({}, %s) > 0"
    where = " OR ".join(
        [like.format(text) for _ in patterns] + [like.format("object_repr") for _ in names]
    )
    sql = (
        "UPDATE audit_event SET sensitive = %s WHERE NOT sensitive"
        " AND object_type IN ('registry.resident', 'registry.household', 'registry.tag')"
        f" AND ({where})"
    )
    params = [True, *patterns, *names]
    with connection.cursor() as cursor:
        if vendor == "sqlite":
            cursor.execute("DROP TRIGGER IF EXISTS audit_event_no_update")
            cursor.execute(sql, params)
            for _name, create in _SQLITE_TRIGGERS:
                cursor.execute(create)
        else:
            cursor.execute("ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only")
            cursor.execute(sql, params)
            cursor.execute("ALTER TABLE audit_event ENABLE TRIGGER audit_event_append_only")


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0005_encrypt_personal_numbers"),
        ("audit", "0004_event_sensitive_client_request_id"),
    ]

    operations = [migrations.RunPython(mark, migrations.RunPython.noop)]
