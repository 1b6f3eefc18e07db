"""Open311 API keys: issued to a named client, shown once, stored as a SHA-256 digest."""

from __future__ import annotations

import hashlib
import secrets

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from grassroots.audit import services as audit
from grassroots.cases.models import Open311Key

PREFIX = "o311_"


@sensitive_variables("key")
def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def key_issue(*, name: str) -> tuple[Open311Key, str]:
    """A new key for the client `name`; returns the row and the key (its only appearance).

    A revoked client may be issued a key again under the same name; a client with a live key
    must have it revoked first, so that a name never holds two keys.
    """
    name = name.strip()
    if not name or len(name) > 100:
        raise ValidationError({"name": "the client name must be 1 to 100 characters"})
    key = PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        row = Open311Key.objects.select_for_update().filter(name=name).first()
        if row is None:
            row = Open311Key.objects.create(name=name, digest=digest(key), prefix=key[:8])
            audit.created(row)
            return row, key
        if row.revoked_at is None:
            raise ValidationError(
                {"name": f"{name} already has a live key ({row.prefix}…); revoke it first"}
            )
        before = audit.snapshot(row)
        row.digest, row.prefix = digest(key), key[:8]
        row.created_at, row.last_used_at, row.revoked_at = timezone.now(), None, None
        row.save()
        audit.updated(row, before, reason="key issued again")
    return row, key


def key_revoke(*, name: str) -> Open311Key:
    """Revoke the live key of the client `name`; the next request with it answers 403."""
    with transaction.atomic():
        row = Open311Key.objects.select_for_update().filter(name=name).first()
        if row is None:
            raise ValidationError({"name": f"no Open311 client named {name}"})
        if row.revoked_at is not None:
            raise ValidationError({"name": f"the key of {name} is already revoked"})
        before = audit.snapshot(row)
        row.revoked_at = timezone.now()
        row.save(update_fields=["revoked_at"])
        audit.updated(row, before)
    return row


@sensitive_variables("key")
def authenticate(key: str) -> Open311Key | None:
    """The live key row matching `key`, or None (unknown or revoked)."""
    if not key:
        return None
    row = Open311Key.objects.filter(digest=digest(key), revoked_at__isnull=True).first()
    if row is None:
        return None
    now = timezone.now()
    if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 60:
        Open311Key.objects.filter(pk=row.pk).update(last_used_at=now)
        row.last_used_at = now
    return row
