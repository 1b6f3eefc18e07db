"""grassroots keys status | rotate [--reencrypt-only] | retire KEY_ID | generate"""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser

from grassroots.audit import services as audit
from grassroots.audit.models import Event
from grassroots.core import crypto, keys


class Command(BaseCommand):
    help = "Encryption keys of personal values: status, rotation, retirement."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, parser_class=CommandParser)
        status = sub.add_parser("status", help="keys in use and how many values each encrypts")
        status.add_argument("--json", action="store_true", help="print one JSON object")
        rotate = sub.add_parser(
            "rotate",
            help="add a new primary key (keyring file) and re-encrypt every value under it",
        )
        rotate.add_argument(
            "--reencrypt-only",
            action="store_true",
            help="keep the keyring as it is (DATA_KEYS already names the new key first)",
        )
        retire = sub.add_parser("retire", help="remove an old key that no value uses")
        retire.add_argument("key_id", metavar="KEY_ID")
        sub.add_parser("generate", help="print a new key as a DATA_KEYS entry")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            getattr(self, "_" + options["action"])(options)
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc), returncode=1) from None

    def _status(self, options: dict[str, Any]) -> None:
        ring = crypto.keyring(refresh=True)
        counts = keys.count_by_key()
        if options["json"]:
            payload = {
                "source": ring.source,
                "primary": ring.primary,
                "keys": list(ring.keys),
                "values": counts,
            }
            self.stdout.write(json.dumps(payload, ensure_ascii=False))
            return
        self.stdout.write(f"keys from {keys.describe(ring)}; primary {ring.primary}")
        for label, per_key in counts.items():
            parts = ", ".join(f"{k}: {n}" for k, n in per_key.items())
            self.stdout.write(f"  {label}: {parts or 'no values'}")

    def _rotate(self, options: dict[str, Any]) -> None:
        new_key = None
        if not options["reencrypt_only"]:
            new_key = keys.add_primary_key()
            self.stdout.write(f"new primary key {new_key}; the old keys stay for reading")
        tty = self.stderr.isatty()
        report = keys.reencrypt(
            progress=(lambda label, n: self.stderr.write(f"  {label}: {n}", ending="\r"))
            if tty
            else None
        )
        for label, n in report.reencrypted.items():
            self.stdout.write(f"{label}: {n} value(s) re-encrypted under {report.primary}")
        if report.skipped:
            self.stdout.write(
                f"{report.skipped} value(s) changed meanwhile by the application (already new)"
            )
        audit.record(
            Event.Action.KEYS,
            object_type="core.keyring",
            object_repr=report.primary,
            changes={
                "new_key": new_key,
                "primary": report.primary,
                "reencrypted": report.reencrypted,
                "skipped": report.skipped,
            },
        )
        self.stdout.write(
            "done; once every process runs with this keyring, old keys can be retired "
            "(grassroots keys status, grassroots keys retire KEY_ID)"
        )

    def _retire(self, options: dict[str, Any]) -> None:
        try:
            keys.retire_key(options["key_id"])
        except ValueError as exc:
            raise CommandError(f"KEY_ID: {exc}", returncode=1) from None
        audit.record(
            Event.Action.KEYS,
            object_type="core.keyring",
            object_repr=options["key_id"],
            changes={"retired": options["key_id"]},
        )
        self.stdout.write(f"key {options['key_id']} retired")

    def _generate(self, options: dict[str, Any]) -> None:
        self.stdout.write(keys.generated_entry())
