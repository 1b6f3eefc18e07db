"""Audit events: append-only, written in the same transaction as the change they describe.

Nothing in the application updates or deletes an event: the model refuses a second save and a
delete, the queryset refuses update() and delete(), the admin and the API offer no way, and the
database itself refuses UPDATE and DELETE on the table (triggers, see migration 0002).

A migration that alters this table makes SQLite rebuild it, which drops the triggers: such a
migration must put them back (as 0003 does); tests/audit/test_append_only.py would fail.
"""

from __future__ import annotations

from typing import Any, NoReturn

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from grassroots.core.scoping import ScopedQuerySet


class AuditImmutableError(Exception):
    """Raised on any attempt to change or remove an audit event."""


def _refuse(*args: Any, **kwargs: Any) -> NoReturn:
    raise AuditImmutableError("audit events are append-only")


class EventQuerySet(ScopedQuerySet["Event"]):
    update = _refuse  # type: ignore[assignment]
    delete = _refuse  # type: ignore[assignment]
    bulk_update = _refuse  # type: ignore[assignment]
    update_or_create = _refuse  # type: ignore[assignment]
    _raw_delete = _refuse  # type: ignore[assignment]


class Event(models.Model):
    class Action(models.TextChoices):
        CREATE = "create", _("created")
        UPDATE = "update", _("changed")
        DELETE = "delete", _("deleted")
        REVEAL = "reveal", _("revealed")
        EXPORT = "export", _("exported")
        ANONYMIZE = "anonymize", _("anonymized")
        IMPORT = "import", _("imported")
        KEYS = "keys", _("keys rotated")
        # A password set, reset or disabled, or a two-factor reset: never the secret itself.
        CREDENTIALS = "credentials", _("credentials changed")

    class Channel(models.TextChoices):
        WEB = "web", _("web")
        API = "api", _("API")
        IMPORT = "import", _("import")
        COMMAND = "command", _("command")
        TASK = "task", _("task")

    at = models.DateTimeField(_("time"), default=timezone.now, db_index=True)
    # The account that acted; kept as a plain number so that events outlive accounts.
    actor_id = models.IntegerField(_("actor id"), null=True, blank=True)
    actor_name = models.CharField(_("actor"), max_length=150, db_index=True)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    # Not indexed: found through the actor, object or time first; an index here would cost
    # every import a million more index entries. Always ours (see audit.context).
    request_id = models.CharField(_("request id"), max_length=64)
    # The id a client sent in X-Request-ID, kept apart from ours: printable ASCII, bounded.
    client_request_id = models.CharField(
        _("client's request id"), max_length=64, null=True, blank=True
    )
    address = models.GenericIPAddressField(_("client address"), null=True, blank=True)
    action = models.CharField(_("action"), max_length=12, choices=Action.choices)
    object_type = models.CharField(_("object type"), max_length=40)
    object_id = models.CharField(_("object id"), max_length=40, blank=True)
    object_repr = models.CharField(_("object"), max_length=200, blank=True)
    # The territory of the object, so that an auditor of a town sees that town's events.
    scope_code = models.CharField(max_length=15, blank=True, db_index=True)
    # {field: [before, after]}, personal values masked; for reveals and imports, details.
    changes = models.JSONField(_("changes"), default=dict, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    # Marked by the writer when the event is about something behind an explicit grant (a
    # sensitive tag, 特殊人群): read only with settings.AUDIT_SENSITIVE_PERMISSION. The audit
    # app does not know why; the model that wrote it does (see services.split_sensitive).
    sensitive = models.BooleanField(_("sensitive"), default=False, db_default=False)

    objects = EventQuerySet.as_manager()

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id", "at"], name="audit_object")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_name} {self.action} {self.object_label}"

    @property
    def object_label(self) -> str:
        return f"{self.object_type}:{self.object_id}" if self.object_id else self.object_type

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            _refuse()
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        _refuse()
