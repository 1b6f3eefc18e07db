"""API of the hotline import: POST /imports/hotline with a .csv or .xlsx export of work orders.

The same importer as `grassroots hotline import`, through the same pipeline, with the
caller's scope and as the caller (who took the cases in). Registered before the registry's /imports/{kind}, whose kinds are
households and residents and whose permission is the registry's.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Field, File, Query, Router, Schema, UploadedFile

from grassroots.core.api_support import ERROR_RESPONSES, ErrorOut, require_perm
from grassroots.core.scoping import Scope
from grassroots.registry.api_imports import ImportOut, run_upload, saved_upload

from .imports import HotlineImporter

router = Router()


class HotlineQuery(Schema):
    dry_run: bool = Field(True, description="true (the default): check every row, write nothing.")


@router.post(
    "/imports/hotline",
    response={200: ImportOut, **ERROR_RESPONSES, 409: ErrorOut, 413: ErrorOut},
    operation_id="importHotline",
    tags=["imports"],
    summary="Import 12345 hotline work orders from a spreadsheet",
)
def import_hotline_orders(
    request: HttpRequest, params: Query[HotlineQuery], file: File[UploadedFile]
) -> dict[str, Any]:
    """Check (and unless `dry_run`, take in as cases) a .csv (UTF-8 or GB18030) or .xlsx export
    of work orders, all or nothing: 工单编号 order_no, 受理时间 received_at, 诉求类别 category,
    诉求内容 description, 地址 address, 经度/纬度 lon/lat, 所属单位 unit (required without
    coordinates), 来电人 reporter_name, 联系电话 reporter_phone, 紧急 urgent. An order number
    already taken in is refused. The answer gives the number of problems and lists the first
    ones (IMPORT_MAX_PROBLEMS_SHOWN) by row and column; a file of more than IMPORT_MAX_ROWS rows
    is refused with 422; one that waited too long for another import to finish writing, 409."""
    user = require_perm(request, "cases.import_hotline")
    importer = HotlineImporter(actor=user, scope=Scope.for_user(user))
    with saved_upload(file) as path:
        return run_upload(importer, path, dry_run=params.dry_run)
