"""ID and mobile numbers encrypted at rest, with keyed hashes for lookup (core.crypto)."""

from typing import Any

import grassroots.core.crypto
from django.db import migrations, models


def encrypt_existing(apps: Any, schema_editor: Any) -> None:
    from grassroots.core.crypto import encrypt_table_in_place

    encrypt_table_in_place(
        schema_editor,
        "registry_resident",
        {"id_number": {"hash": "id_hash", "tail": "id_tail"}, "phone": {"hash": "phone_hash"}},
    )
    encrypt_table_in_place(schema_editor, "registry_enterprise", {"contact_phone": {}})


class Migration(migrations.Migration):

    dependencies = [
        ('registry', '0004_placed_model_related_names'),
        ('territory', '0001_initial'),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='resident',
            options={'ordering': ['name_key', 'id'], 'permissions': [('reveal_resident', 'Can reveal ID and mobile numbers, giving a reason'), ('view_sensitive_tags', 'Can see sensitive tags (explicit grant)')], 'verbose_name': 'resident', 'verbose_name_plural': 'residents'},
        ),
        migrations.RemoveIndex(
            model_name='resident',
            name='resident_current_id',
        ),
        migrations.AddField(
            model_name='resident',
            name='id_hash',
            field=models.CharField(db_index=True, default='', editable=False, max_length=32),
        ),
        migrations.AddField(
            model_name='resident',
            name='phone_hash',
            field=models.CharField(blank=True, db_index=True, editable=False, max_length=32),
        ),
        migrations.AlterField(
            model_name='enterprise',
            name='contact_phone',
            field=grassroots.core.crypto.EncryptedCharField(blank=True, max_length=11, verbose_name='contact mobile number'),
        ),
        migrations.AlterField(
            model_name='resident',
            name='id_number',
            field=grassroots.core.crypto.EncryptedCharField(max_length=18, verbose_name='ID number'),
        ),
        migrations.AlterField(
            model_name='resident',
            name='id_tail',
            field=models.CharField(db_index=True, editable=False, max_length=16),
        ),
        migrations.AlterField(
            model_name='resident',
            name='phone',
            field=grassroots.core.crypto.EncryptedCharField(blank=True, max_length=11, verbose_name='mobile number'),
        ),
        migrations.AddIndex(
            model_name='resident',
            index=models.Index(condition=models.Q(('deceased_on__isnull', True), ('moved_out_on__isnull', True)), fields=['id_hash', 'scope_code'], name='resident_current_id'),
        ),
        migrations.RunPython(encrypt_existing, migrations.RunPython.noop),
    ]
