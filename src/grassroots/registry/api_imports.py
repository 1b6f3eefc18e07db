"""API of registry imports: POST /imports/{kind} with a spreadsheet.

The same importers as `grassroots import households|residents`, through the same pipeline
(core/imports.py), with the caller's scope (like `--as-user`): rows naming grids or households
outside it are refused. The upload is stopped once it passes IMPORT_MAX_BYTES
(core/uploads.py), before it is read whole; a file of more than IMPORT_MAX_ROWS rows is refused
as it is read. The answer lists the first IMPORT_MAX_PROBLEMS_SHOWN problems and their total;
an import that waited IMPORT_LOCK_SECONDS for another one to finish writing is answered 409.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from django.conf import settings
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, File, Query, Router, Schema, UploadedFile
from ninja.errors import HttpError
from pydantic import field_validator

from grassroots.core.api_support import (
    ERROR_RESPONSES,
    UNIT_CODE_PATTERN,
    ErrorOut,
    TextFilter,
    check_unit_code,
    filter_field,
    invalid,
    require_perm,
)
from grassroots.core.imports import ImportBusy, Importer, ImportRefused, ImportResult, run_import
from grassroots.core.scoping import Scope
from grassroots.core.tables import TableError, format_size

from .imports import HouseholdImporter, ResidentImporter

router = Router()


class ImportQuery(Schema):
    dry_run: bool = Field(True, description="true (the default): check every row, write nothing.")
    unit: TextFilter = filter_field(
        "Village or community code for rows without a grid or household (like --unit). "
        "A unit that does not exist or lies outside your scope is refused with 422.",
        UNIT_CODE_PATTERN,
    )

    @field_validator("unit")
    @classmethod
    def _check_unit(cls, value: str | None) -> str | None:
        return check_unit_code(value)


class ImportProblem(Schema):
    row: int = Field(description="Row as the spreadsheet shows it; the header is row 1.")
    column: str = Field(description="The column's header as written in the file.")
    reason: str


class ImportOut(Schema):
    kind: str
    file: str = Field(description="The uploaded file's name.")
    encoding: str | None = Field(
        description="Encoding a CSV file was read in (utf-8, utf-8-sig or gb18030); null for .xlsx."
    )
    dry_run: bool
    written: bool = Field(description="Whether the rows were written (no problem, not a dry run).")
    rows: int = Field(description="Data rows read (empty rows are skipped).")
    created: int = Field(description="Rows that are (or on a dry run would be) new.")
    updated: int
    unchanged: int
    warnings: list[str] = Field(description="E.g. columns that are not known and were ignored.")
    problem_count: int = Field(
        description="How many problems were found; when there is any, nothing was written."
    )
    problems: list[ImportProblem] = Field(
        description=(
            "The first problems by row, at most IMPORT_MAX_PROBLEMS_SHOWN (default 1,000) of "
            "them; `problem_count` says how many there are in all. `grassroots import --errors` "
            "writes every one to a file."
        )
    )


def _file_name(upload: UploadedFile) -> str:
    """The uploaded name without folders, short enough for any file system; keeps the suffix."""
    name = Path(upload.name or "").name or "upload"
    path = Path(name)
    return path.stem[:100] + path.suffix[:10]


@contextmanager
def saved_upload(upload: UploadedFile) -> Iterator[Path]:
    """The upload written to a temporary folder under its own name (the importers read files by
    path and name them in their messages); 413 if it is larger than the import limit."""
    limit = settings.IMPORT_MAX_BYTES
    if upload.size is not None and upload.size > limit:
        # Normally stopped while uploading (core/uploads.py); this covers other upload handlers.
        raise HttpError(
            413,
            _("The upload is larger than the import limit of %(limit)s (IMPORT_MAX_BYTES)")
            % {"limit": format_size(limit)},
        )
    with tempfile.TemporaryDirectory(prefix="grassroots-import-") as folder:
        path = Path(folder) / _file_name(upload)
        with path.open("wb") as out:
            for chunk in upload.chunks():
                out.write(chunk)
        yield path


def run_upload(importer: Importer, path: Path, *, dry_run: bool) -> dict[str, Any]:
    """Run the pipeline on an uploaded file and answer it: 422 naming the file (or the option)
    refused as a whole, 409 when another import held the lock too long."""
    try:
        result = run_import(importer, path, dry_run=dry_run, max_rows=settings.IMPORT_MAX_ROWS)
    except TableError as exc:
        invalid("file", str(exc))
    except ImportBusy as exc:
        raise HttpError(409, str(exc)) from None
    except ImportRefused as exc:
        invalid(exc.parameter, str(exc))
    return import_out(result, path.name)


def import_out(result: ImportResult, name: str) -> dict[str, Any]:
    return {
        "kind": result.kind,
        "file": name,
        "encoding": result.encoding,
        "dry_run": result.dry_run,
        "written": result.ok and not result.dry_run,
        "rows": result.rows,
        "created": result.created,
        "updated": result.updated,
        "unchanged": result.unchanged,
        "warnings": result.warnings,
        "problem_count": len(result.problems),
        "problems": [
            {"row": p.row, "column": p.column, "reason": p.reason} for p in result.first_problems()
        ],
    }


@router.post(
    "/imports/{kind}",
    response={200: ImportOut, **ERROR_RESPONSES, 409: ErrorOut, 413: ErrorOut},
    operation_id="importRegistry",
    tags=["imports"],
    summary="Import households or residents from a spreadsheet",
)
def import_registry(
    request: HttpRequest,
    kind: Literal["households", "residents"],
    params: Query[ImportQuery],
    file: File[UploadedFile],
) -> dict[str, Any]:
    """Check (and unless `dry_run`, write) a .csv (UTF-8 or GB18030) or .xlsx file of households
    or residents, all or nothing, within your scope. The columns are those of
    `grassroots import` (see the README). The answer gives the number of problems and lists the
    first ones (IMPORT_MAX_PROBLEMS_SHOWN) by row and column; a file larger than the import limit
    is refused with 413 before it is read whole, one of more than IMPORT_MAX_ROWS rows (default
    100,000) with 422. Imports write one at a time: one that waited too long for another is
    answered 409, nothing written."""
    user = require_perm(request, "registry.import_registry")
    importer_class = HouseholdImporter if kind == "households" else ResidentImporter
    importer = importer_class(scope=Scope.for_user(user), unit_code=params.unit)
    with saved_upload(file) as path:
        return run_upload(importer, path, dry_run=params.dry_run)
