"""Upload limits: an upload larger than its limit is never read whole.

`LimitedUploadHandler` comes first in FILE_UPLOAD_HANDLERS. The limits depend on the request:

- an import (`/api/v1/imports/...`, the console's import page) may carry IMPORT_MAX_BYTES;
- any other request (the portal, a case's photos, anything anonymous) at most UPLOAD_MAX_BYTES
  in all (nine photos) and CASE_PHOTO_MAX_BYTES in one file, never more than IMPORT_MAX_BYTES.

The handler refuses a request whose declared length is already too large before reading any of
it, and otherwise counts the bytes of the files as they arrive and stops the upload at the first
chunk past a limit: the files received so far are closed (temporary files deleted) and the rest
of the body is not read.

The API answers `UploadTooLarge` with 413 and a JSON body (grassroots.api); the portal's form
says it next to the photos; anywhere else Django answers it like any unreadable multipart body,
with 400.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http.multipartparser import MultiPartParserError
from django.utils.translation import gettext as _

from .tables import format_size

# Room for the multipart boundaries, part headers and small form fields around the files.
MULTIPART_OVERHEAD = 64 * 1024
# The requests that carry a spreadsheet to import (path_info prefixes).
IMPORT_PATHS = ("/api/v1/imports/", "/console/import/")


class UploadTooLarge(MultiPartParserError):
    """The files of a request add up to more than its limit, or one file is too large."""

    def __init__(self, limit: int, message: str | None = None) -> None:
        self.limit = limit
        super().__init__(
            message
            or _("The upload is larger than the import limit of %(limit)s (IMPORT_MAX_BYTES)")
            % {"limit": format_size(limit)}
        )


def is_import(request: Any) -> bool:
    path = getattr(request, "path_info", "") or ""
    return path.startswith(IMPORT_PATHS[0]) or path == IMPORT_PATHS[1]


class LimitedUploadHandler(FileUploadHandler):
    """Counts the bytes of every file in a request and stops past the request's limits.

    It passes each chunk on unchanged to the next handler (memory or temporary file).
    """

    def __init__(self, request: Any = None) -> None:
        super().__init__(request)
        self.importing = is_import(request)
        self.limit: int = settings.IMPORT_MAX_BYTES
        self.file_limit: int | None = None
        self._set_limits()
        self.received = 0
        self.file_received = 0
        self.photo_name = ""
        self.refusal: UploadTooLarge | None = None

    def _set_limits(self) -> None:
        # Read at request time, so that a changed setting applies at once.
        self.limit = settings.IMPORT_MAX_BYTES
        self.file_limit = None
        if not self.importing:
            self.limit = min(self.limit, settings.UPLOAD_MAX_BYTES)
            self.file_limit = min(self.limit, settings.CASE_PHOTO_MAX_BYTES)

    def _too_large(self) -> UploadTooLarge:
        if self.importing:
            return UploadTooLarge(self.limit)
        return UploadTooLarge(
            self.limit,
            _("The upload is larger than %(limit)s, the most one request may carry")
            % {"limit": format_size(self.limit)},
        )

    def _file_too_large(self) -> UploadTooLarge:
        assert self.file_limit is not None
        return UploadTooLarge(
            self.file_limit,
            _("%(name)s is larger than %(limit)s, the most one photo may be")
            % {"name": self.photo_name[:80], "limit": format_size(self.file_limit)},
        )

    def handle_raw_input(
        self,
        input_data: Any,
        META: Any,
        content_length: int,
        boundary: Any,
        encoding: str | None = None,
    ) -> None:
        self._set_limits()
        if content_length > self.limit + MULTIPART_OVERHEAD:
            raise self._too_large()

    def new_file(self, field_name: str, file_name: str, *args: Any, **kwargs: Any) -> None:
        super().new_file(field_name, file_name, *args, **kwargs)
        self.file_received = 0
        self.photo_name = file_name or ""

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        self.file_received += len(raw_data)
        if self.received > self.limit:
            self.refusal = self._too_large()
        elif self.file_limit is not None and self.file_received > self.file_limit:
            self.refusal = self._file_too_large()
        if self.refusal is not None:
            # StopUpload closes the files received so far and leaves the body unread;
            # upload_complete() then turns it into an error.
            raise StopUpload(connection_reset=True)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None  # the next handler makes the file object

    def upload_complete(self) -> None:
        if self.refusal is not None:
            raise self.refusal
