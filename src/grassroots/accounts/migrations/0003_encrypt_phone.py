"""Staff mobile numbers encrypted at rest (core.crypto)."""

from typing import Any

import grassroots.core.crypto
from django.db import migrations


def encrypt_existing(apps: Any, schema_editor: Any) -> None:
    from grassroots.core.crypto import encrypt_table_in_place

    encrypt_table_in_place(schema_editor, "accounts_user", {"phone": {}})


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0002_apitoken_expires_at'),
    ]

    operations = [
        migrations.AlterField(
            model_name='user',
            name='phone',
            field=grassroots.core.crypto.EncryptedCharField(blank=True, max_length=11, verbose_name='mobile number'),
        ),
        migrations.RunPython(encrypt_existing, migrations.RunPython.noop),
    ]
