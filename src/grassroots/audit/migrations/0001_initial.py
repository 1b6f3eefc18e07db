import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies: list[tuple[str, str]] = []

    operations = [
        migrations.CreateModel(
            name="Event",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("at", models.DateTimeField(db_index=True, default=django.utils.timezone.now, verbose_name="time")),
                ("actor_id", models.IntegerField(blank=True, null=True, verbose_name="actor id")),
                ("actor_name", models.CharField(db_index=True, max_length=150, verbose_name="actor")),
                ("channel", models.CharField(choices=[("web", "web"), ("api", "API"), ("import", "import"), ("command", "command"), ("task", "task")], max_length=10, verbose_name="channel")),
                ("request_id", models.CharField(db_index=True, max_length=64, verbose_name="request id")),
                ("address", models.GenericIPAddressField(blank=True, null=True, verbose_name="client address")),
                ("action", models.CharField(choices=[("create", "created"), ("update", "changed"), ("delete", "deleted"), ("reveal", "revealed"), ("export", "exported"), ("anonymize", "anonymized"), ("import", "imported"), ("keys", "keys rotated")], max_length=12, verbose_name="action")),
                ("object_type", models.CharField(max_length=40, verbose_name="object type")),
                ("object_id", models.CharField(blank=True, max_length=40, verbose_name="object id")),
                ("object_repr", models.CharField(blank=True, max_length=200, verbose_name="object")),
                ("scope_code", models.CharField(blank=True, db_index=True, max_length=15)),
                ("changes", models.JSONField(blank=True, default=dict, verbose_name="changes")),
                ("reason", models.TextField(blank=True, verbose_name="reason")),
            ],
            options={
                "verbose_name": "audit event",
                "verbose_name_plural": "audit events",
                "ordering": ["-at", "-id"],
                "indexes": [models.Index(fields=["object_type", "object_id", "at"], name="audit_object")],
            },
        ),
    ]
