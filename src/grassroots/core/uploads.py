"""The upload limit: an upload larger than settings.IMPORT_MAX_BYTES is never read whole.

`LimitedUploadHandler` comes first in FILE_UPLOAD_HANDLERS. It refuses a request whose declared
length is already too large before reading any of it, and otherwise counts the bytes of the
files as they arrive and stops the upload at the first chunk past the limit: the files received
so far are closed (temporary files deleted) and the rest of the body is not read.

The API answers `UploadTooLarge` with 413 and a JSON body (grassroots.api); anywhere else
Django answers it like any unreadable multipart body, with 400.
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


class UploadTooLarge(MultiPartParserError):
    """The files of a request add up to more than settings.IMPORT_MAX_BYTES."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(
            _("The upload is larger than the import limit of %(limit)s (IMPORT_MAX_BYTES)")
            % {"limit": format_size(limit)}
        )


class LimitedUploadHandler(FileUploadHandler):
    """Counts the bytes of every file in a request and stops past IMPORT_MAX_BYTES.

    It passes each chunk on unchanged to the next handler (memory or temporary file).
    """

    def __init__(self, request: Any = None) -> None:
        super().__init__(request)
        self.limit: int = settings.IMPORT_MAX_BYTES
        self.received = 0
        self.too_large = False

    def handle_raw_input(
        self,
        input_data: Any,
        META: Any,
        content_length: int,
        boundary: Any,
        encoding: str | None = None,
    ) -> None:
        # Read at request time, so that a changed setting applies at once.
        self.limit = settings.IMPORT_MAX_BYTES
        if content_length > self.limit + MULTIPART_OVERHEAD:
            raise UploadTooLarge(self.limit)

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > self.limit:
            self.too_large = True
            # StopUpload closes the files received so far and leaves the body unread;
            # upload_complete() then turns it into an error.
            raise StopUpload(connection_reset=True)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None  # the next handler makes the file object

    def upload_complete(self) -> None:
        if self.too_large:
            raise UploadTooLarge(self.limit)
