"""grassroots open311 key NAME | list | revoke NAME"""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.timezone import localtime

from grassroots.cases.models import Open311Key
from grassroots.cases.open311.keys import key_issue, key_revoke


class Command(BaseCommand):
    help = "Open311 API keys: issue a key to a client (shown once), list clients, revoke a key."

    def add_arguments(self, parser: CommandParser) -> None:
        called = getattr(self, "_called_from_command_line", False)
        sub = parser.add_subparsers(dest="action", required=True, parser_class=CommandParser)
        key = sub.add_parser(
            "key",
            help="issue an API key to the client NAME (printed on stdout, shown only now)",
            called_from_command_line=called,
        )
        key.add_argument("name", metavar="NAME")
        listing = sub.add_parser(
            "list",
            help="clients with key prefix, dates and status",
            called_from_command_line=called,
        )
        listing.add_argument("--json", action="store_true", help="one JSON object per line")
        revoke = sub.add_parser(
            "revoke", help="revoke the key of the client NAME", called_from_command_line=called
        )
        revoke.add_argument("name", metavar="NAME")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            getattr(self, f"do_{options['action']}")(options)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None

    def do_key(self, options: dict[str, Any]) -> None:
        row, key = key_issue(name=options["name"])
        self.stderr.write(
            f"Open311 API key for {row.name}; it is shown only now (only its SHA-256 is kept):"
        )
        self.stdout.write(key)

    def do_list(self, options: dict[str, Any]) -> None:
        rows = Open311Key.objects.order_by("name")
        for row in rows:
            status = "revoked" if row.revoked_at else "active"
            if options["json"]:
                self.stdout.write(
                    json.dumps(
                        {
                            "name": row.name,
                            "prefix": row.prefix,
                            "status": status,
                            "created_at": row.created_at.isoformat(),
                            "last_used_at": row.last_used_at and row.last_used_at.isoformat(),
                            "revoked_at": row.revoked_at and row.revoked_at.isoformat(),
                        },
                        ensure_ascii=False,
                    )
                )
                continue
            issued = f"issued {localtime(row.created_at):%Y-%m-%d %H:%M}"
            used = (
                f"last used {localtime(row.last_used_at):%Y-%m-%d %H:%M}"
                if row.last_used_at
                else "never used"
            )
            self.stdout.write(f"{row.name}\t{row.prefix}…\t{status}\t{issued}\t{used}")
        if not rows and not options["json"]:
            self.stderr.write("no Open311 client has a key (grassroots open311 key NAME)")

    def do_revoke(self, options: dict[str, Any]) -> None:
        row = key_revoke(name=options["name"])
        self.stdout.write(f"revoked the key of {row.name} ({row.prefix}…)")
