"""The command-line door of the import pipeline: `grassroots import KIND FILE` (every registered
kind, core/management/commands/import.py) and `grassroots hotline import FILE` share it."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from .imports import Importer, ImportRefused, ImportResult, run_import
from .scoping import Scope
from .tables import TableError

OPTION_HELP = {
    "errors": (
        "--errors",
        "OUT",
        "write offending rows with a reason column to OUT (.csv or .xlsx)",
    ),
    "unit": ("--unit", "CODE", "village/community for rows without a grid or household"),
    "as_user": ("--as-user", "NAME", "apply this user's scope: rows outside it are refused"),
}


def add_import_arguments(parser: CommandParser, importer: type[Importer]) -> None:
    """FILE, --dry-run and the options the kind takes."""
    parser.add_argument("file")
    parser.add_argument("--dry-run", action="store_true", help="check everything, write nothing")
    for option in importer.options:
        flag, metavar, text = OPTION_HELP[option]
        if option == "as_user" and importer.user_acts:
            text = "take the rows in as this user, within their scope (rows outside are refused)"
        parser.add_argument(flag, metavar=metavar, help=text)


def run_import_command(
    command: BaseCommand, importer_class: type[Importer], **options: Any
) -> None:
    """Run one import as a command: audit events carry channel "import" (and the --as-user
    account); problems are printed, and end the command with exit status 1."""
    user = _user(options.get("as_user"), active=importer_class.user_acts)
    scope = Scope.for_user(user) if user is not None else Scope.everything()
    kwargs: dict[str, Any] = {"scope": scope}
    if "unit" in importer_class.options:
        kwargs["unit_code"] = options.get("unit")
    if importer_class.user_acts:
        kwargs["actor"] = user
    with importer_class.acting(channel="import", user=user):
        try:
            importer = importer_class(**kwargs)
            result = run_import(importer, options["file"], dry_run=options["dry_run"])
        except TableError as exc:
            raise CommandError(str(exc), returncode=1) from None
        except ImportRefused as exc:
            prefix = "" if exc.parameter == "file" else f"--{exc.parameter}: "
            raise CommandError(f"{prefix}{exc}", returncode=1) from None
    report_to_command(command, result, options["file"], options.get("errors"))
    command.stdout.write(importer.summary())


def _user(name: str | None, *, active: bool) -> Any:
    if not name:
        return None
    users = get_user_model().objects.filter(username=name)
    user = (users.filter(is_active=True) if active else users).first()
    if user is None:
        what = "no active user named" if active else "no user named"
        raise CommandError(f"--as-user: {what} {name}")
    return user


def report_to_command(command: Any, result: ImportResult, file: str, errors: str | None) -> None:
    """What an import command prints before its summary: the encoding read, warnings, the first
    IMPORT_MAX_PROBLEMS_SHOWN problems (the error file, when asked for, holds every one); a
    result with problems ends the command with exit status 1."""
    if result.encoding:
        command.stderr.write(
            _("read %(file)s as %(encoding)s") % {"file": file, "encoding": result.encoding}
        )
    for warning in result.warnings:
        command.stderr.write(_("warning: %(w)s") % {"w": warning})
    shown = result.first_problems()
    for problem in shown:
        command.stdout.write(str(problem))
    if errors:
        result.write_errors(errors)
    more = len(result.problems) - len(shown)
    if more and errors:
        command.stdout.write(
            _("... and %(n)d more problem(s): %(file)s lists every one")
            % {"n": more, "file": errors}
        )
    elif more:
        command.stdout.write(
            _("... and %(n)d more problem(s): --errors OUT writes every one to a file")
            % {"n": more}
        )
    if result.problems:
        rows = len({p.row for p in result.problems})
        raise CommandError(
            _("%(n)d problem(s) in %(rows)d row(s) of %(total)d; nothing was written")
            % {"n": len(result.problems), "rows": rows, "total": result.rows},
            returncode=1,
        )
