"""Upload limits per request: imports may carry IMPORT_MAX_BYTES; anything else (the portal, a
case's photos) nine photos' worth and one photo's worth per file, stopped while it arrives."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.handlers.wsgi import LimitedStream
from django.test import RequestFactory

from grassroots.cases.services import MAX_PHOTOS
from grassroots.core.uploads import LimitedUploadHandler, UploadTooLarge
from tests.factories import CountingStream

KIB = 1024


def posted(path: str, *sizes: int) -> tuple[Any, CountingStream, int]:
    files = [SimpleUploadedFile(f"p{i}.jpg", b"x" * size) for i, size in enumerate(sizes)]
    request = RequestFactory().post(path, {"photos": files})
    length = int(request.META["CONTENT_LENGTH"])
    stream = CountingStream(request.environ["wsgi.input"].read(length))
    request._stream = LimitedStream(stream, length)
    return request, stream, length


@pytest.fixture
def limits(settings: Any) -> Any:
    settings.CASE_PHOTO_MAX_BYTES = 100 * KIB
    settings.UPLOAD_MAX_BYTES = 300 * KIB
    settings.IMPORT_MAX_BYTES = 1024 * KIB
    return settings


def test_the_default_body_limit_holds_every_photo_a_case_takes(settings: Any) -> None:
    assert settings.UPLOAD_MAX_BYTES == MAX_PHOTOS * settings.CASE_PHOTO_MAX_BYTES
    assert settings.UPLOAD_MAX_BYTES < settings.IMPORT_MAX_BYTES


def test_it_stops_a_photo_over_its_limit_at_the_first_chunk_past_it(limits: Any) -> None:
    request, stream, length = posted("/portal/", 10 * KIB, 250 * KIB)
    with pytest.raises(UploadTooLarge) as raised:
        request.FILES  # noqa: B018
    assert str(raised.value) == "p1.jpg is larger than 100.0 KiB, the most one photo may be"
    # Read: the first photo, then the second up to one chunk past its limit, never the rest.
    assert stream.read_bytes < length
    assert stream.read_bytes <= 10 * KIB + 100 * KIB + 2 * LimitedUploadHandler.chunk_size + KIB


def test_it_stops_photos_that_add_up_past_the_body_limit(limits: Any) -> None:
    request, stream, length = posted("/api/v1/cases/T1/photos", *[90 * KIB] * 4)
    with pytest.raises(UploadTooLarge) as raised:
        request.FILES  # noqa: B018
    assert (
        str(raised.value) == "The upload is larger than 300.0 KiB, the most one request may carry"
    )
    assert stream.read_bytes < length


def test_it_refuses_a_declared_length_past_the_body_limit_without_reading(limits: Any) -> None:
    request, stream, _length = posted("/portal/", *[99 * KIB] * 5)
    with pytest.raises(UploadTooLarge):
        request.FILES  # noqa: B018
    assert stream.read_bytes == 0


def test_photos_within_the_limits_arrive_whole(limits: Any) -> None:
    request, _stream, _length = posted("/portal/", 100 * KIB, 100 * KIB)
    assert [f.size for f in request.FILES.getlist("photos")] == [100 * KIB, 100 * KIB]


@pytest.mark.parametrize("path", ["/api/v1/imports/residents", "/console/import/"])
def test_imports_keep_the_import_limit(limits: Any, path: str) -> None:
    request, _stream, _length = posted(path, 900 * KIB)
    assert request.FILES["photos"].size == 900 * KIB
    request, stream, length = posted(path, 1100 * KIB)
    with pytest.raises(UploadTooLarge) as raised:
        request.FILES  # noqa: B018
    assert str(raised.value) == (
        "The upload is larger than the import limit of 1.0 MiB (IMPORT_MAX_BYTES)"
    )
    assert stream.read_bytes < length


def test_no_request_carries_more_than_the_import_limit(limits: Any) -> None:
    limits.IMPORT_MAX_BYTES = 50 * KIB
    request, _stream, _length = posted("/portal/", 60 * KIB)
    with pytest.raises(UploadTooLarge):
        request.FILES  # noqa: B018


def test_the_api_answers_413_for_a_photo_over_its_limit(client: Any, world: Any, limits: Any):
    from grassroots.accounts.models import ApiToken

    token = ApiToken.issue(world.users["worker"])[1]
    response = client.post(
        "/api/v1/cases/NOSUCH/photos",
        {"note": "x", "photos": [SimpleUploadedFile("big.jpg", b"x" * 200 * KIB)]},
        headers={"Authorization": f"Bearer {token}", "Accept-Language": "en"},
    )
    assert response.status_code == 413
    assert response.json() == {
        "detail": "big.jpg is larger than 100.0 KiB, the most one photo may be"
    }
