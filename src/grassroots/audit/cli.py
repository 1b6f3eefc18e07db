"""`grassroots audit log`: the audit trail on the command line.

    grassroots audit log [--object TYPE[:ID]] [--actor NAME] [--since ISO] [--until ISO]
                         [--action ACTION] [--channel CHANNEL] [--limit N] [--json]
                         [--as-user NAME]

Newest events first, at most --limit (100). `--json` prints JSON Lines: one JSON object per
event and line, with every field (see selectors.event_data), so that `jq` and scripts can read
the output as it comes. `--as-user NAME` reads as that account does: its scope, and only if its
role may read the audit trail. Without it the command sees every event.

The subcommand is registered by registry's `audit` command (registry/management/commands/).
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.translation import gettext as _

from .filters import EventFilters
from .models import Event
from .selectors import (
    VIEW_PERMISSION,
    change_summary,
    event_data,
    events_for,
    shown_changes,
)

DEFAULT_LIMIT = 100


def add_log_parser(command: BaseCommand, sub: Any) -> None:
    """Add the `log` subcommand to the `audit` command's subparsers.

    Its filter options bear the names of audit.filters.EventFilters, which reads them.
    """
    p = sub.add_parser(
        "log",
        help="read the audit trail: who changed what, when, through which channel",
        called_from_command_line=getattr(command, "_called_from_command_line", False),
    )
    p.add_argument(
        "--object",
        metavar="TYPE[:ID]",
        help=(
            "events about one object (resident:42, registry.household:7) or one type; TYPE is "
            "resident, household, enterprise, user, grid, unit or a model label"
        ),
    )
    p.add_argument("--actor", metavar="NAME", help="events by this account (os:NAME: a command)")
    p.add_argument(
        "--since",
        metavar="ISO",
        help="from this ISO 8601 date or date-time (no offset: the configured time zone)",
    )
    p.add_argument(
        "--until", metavar="ISO", help="up to this date-time, or to the end of this date"
    )
    p.add_argument("--action", choices=Event.Action.values, help="one kind of event")
    p.add_argument("--channel", choices=Event.Channel.values, help="one channel")
    p.add_argument(
        "--limit",
        metavar="N",
        type=int,
        default=DEFAULT_LIMIT,
        help=f"at most N events, newest first (default {DEFAULT_LIMIT})",
    )
    p.add_argument(
        "--json", action="store_true", help="JSON Lines: one JSON object per event and line"
    )
    p.add_argument(
        "--as-user", metavar="NAME", help="read as this account: its scope and permission"
    )


def run_log(command: BaseCommand, options: dict[str, Any]) -> None:
    """Print the events the options select."""
    limit = options.get("limit", DEFAULT_LIMIT)
    if limit is None or limit < 1:
        raise CommandError(_("--limit: give a number of events of at least 1"))
    user = None
    if options.get("as_user"):
        name = options["as_user"]
        # The account model by Django's setting: the audit app lies below accounts.
        user = get_user_model()._default_manager.filter(username=name).first()
        if user is None:
            raise CommandError(_("--as-user: no user named %(name)s") % {"name": name})
        if not user.is_active or not user.has_perm(VIEW_PERMISSION):
            raise CommandError(
                _("--as-user: %(name)s may not read the audit trail (%(perm)s)")
                % {"name": name, "perm": VIEW_PERMISSION}
            )
    try:
        events = events_for(user, EventFilters.parse(options))
    except ValidationError as exc:
        problems = [
            f"--{name}: {message}"
            for name, messages in exc.message_dict.items()
            for message in messages
        ]
        raise CommandError("; ".join(problems)) from None
    rows = list(events[:limit])
    out = command.stdout.write
    if options.get("json"):
        for event in rows:
            out(json.dumps(event_data(event, user), ensure_ascii=False))
        return
    for event in rows:
        out(_headline(event))
        for line in change_summary(shown_changes(event, user)):
            out("    " + line)
        if event.reason:
            out("    " + _("reason: %(reason)s") % {"reason": event.reason})
    shown = len(rows)
    total = events.count() if shown == limit else shown
    if total == 0:
        out(_("No events."))
    elif total > shown:
        out(
            _("%(shown)d of %(total)d events, newest first; --limit N shows more.")
            % {"shown": shown, "total": total}
        )
    else:
        out(_("%(shown)d event(s), newest first.") % {"shown": shown})


def _headline(event: Event) -> str:
    at = timezone.localtime(event.at).isoformat(sep=" ", timespec="seconds")
    where = f" [{event.scope_code}]" if event.scope_code else ""
    what = f"{event.object_label} {event.object_repr}".rstrip()
    address = f" from {event.address}" if event.address else ""
    return (
        f"#{event.pk} {at} {event.channel:<7} {event.actor_name} {event.action} {what}{where}"
        f" (request {event.request_id}{address})"
    )
