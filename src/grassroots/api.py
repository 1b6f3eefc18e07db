"""The JSON API under /api/v1/: authentication, error shapes and the app routers.

Authentication: `Authorization: Bearer <token>` with a token from `grassroots users token`, or
the session of a user logged in to the web UI. Scope, permissions, pagination and masking are
described in the OpenAPI document's description below.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import HttpBearer, SessionAuth

from grassroots.accounts.api import router as accounts_router
from grassroots.accounts.models import ApiToken, User
from grassroots.accounts.two_factor import UNFINISHED, owes_second_factor
from grassroots.audit.api import router as audit_router
from grassroots.cases.api import router as cases_router
from grassroots.core.uploads import UploadTooLarge
from grassroots.registry.api import router as registry_router
from grassroots.registry.api_imports import router as imports_router
from grassroots.territory.api import router as territory_router

DESCRIPTION = """
JSON API of Grassroots (网格化治理): territory units and grids, the registry of households,
residents and enterprises, registry search, the coverage audit and the audit trail (read-only:
no operation changes or deletes an audit event).

**Authentication.** Send `Authorization: Bearer <token>` (tokens are issued per user and can be
revoked), or call from a browser logged in to Grassroots (session cookie) that has finished
two-factor sign-in where it is required (403 until then). Any other Authorization header
answers 401: the session is never used beside one.

**Scope.** You see your territory node and everything under it, nothing else; a grid worker
sees their grids. An object outside your scope answers 404 exactly like one that does not exist,
and never appears in a list, a count or a search. A filter naming a grid or unit outside your
scope gives an empty list. Your role decides what kinds of data you may read (403 otherwise).

**Lists** take `page` (from 1) and `page_size` and answer
`{"count", "page", "page_size", "items"}`; grids answer a GeoJSON FeatureCollection with the
same fields as foreign members. Ordering is stable (by code, or by name then id).

**Personal information.** ID and mobile numbers are always masked (3501**********123X,
138****5678).

**Errors** are JSON: `{"detail": "..."}`, and for invalid input (422) also
`"errors": [{"field": "...", "reason": "..."}]`. An upload larger than the import limit
(`IMPORT_MAX_BYTES`) answers 413 before it is read whole.
"""

# ninja's own input locations, left out of the field names shown to clients.
_PARAM_SOURCES = {"query", "path", "body", "form", "header", "cookie", "file"}


class BearerTokenAuth(HttpBearer):
    """`Authorization: Bearer <token>`. A token that is unknown, revoked or belongs to an
    inactive user is refused outright (401), without falling back to the session."""

    def authenticate(self, request: HttpRequest, token: str) -> User:
        user = ApiToken.authenticate(token.strip()) if token.strip() else None
        if user is None:
            raise AuthenticationError(message="Invalid, revoked or expired token")
        request.auth_user = user  # type: ignore[attr-defined]
        return user


class SessionUserAuth(SessionAuth):
    """The Django session of the web UI (CSRF-checked on unsafe methods).

    Never for a request that sends an Authorization header of any kind: that client chose its
    credentials, and a header that is not our bearer token is none (401). Never for a session
    that still owes its two-factor code (403), whatever the middleware let through.
    """

    def authenticate(self, request: HttpRequest, key: str | None) -> User | None:
        if "HTTP_AUTHORIZATION" in request.META:
            return None
        user = getattr(request, "user", None)
        if not isinstance(user, User) or not user.is_authenticated:
            return None
        if owes_second_factor(request):
            raise HttpError(403, UNFINISHED)
        request.auth_user = user  # type: ignore[attr-defined]
        return user


api = NinjaAPI(
    title="Grassroots API",
    version="1",
    description=DESCRIPTION.strip(),
    urls_namespace="api",
    auth=[BearerTokenAuth(), SessionUserAuth()],
)


def _error(request: HttpRequest, status: int, data: dict[str, Any]) -> HttpResponse:
    response = api.create_response(request, data, status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="grassroots"'
    return response


def _field_name(loc: Any) -> str:
    parts = [str(part) for part in loc if str(part) not in _PARAM_SOURCES]
    # A field may share its name with a source: the upload field `file` of ("file", "file").
    return ".".join(parts) or (str(loc[-1]) if len(loc) > 1 else "request")


def _reason(message: str) -> str:
    # pydantic prefixes messages of custom validators; the reason reads better without it.
    return message.removeprefix("Value error, ")


def _invalid_input(request: HttpRequest, errors: list[dict[str, str]]) -> HttpResponse:
    detail = "Invalid input: " + "; ".join(f"{e['field']}: {e['reason']}" for e in errors)
    return _error(request, 422, {"detail": detail, "errors": errors})


@api.exception_handler(NinjaValidationError)
def on_validation_error(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    errors = [
        {"field": _field_name(error.get("loc", ())), "reason": _reason(str(error.get("msg", "")))}
        for error in exc.errors
    ]
    return _invalid_input(request, errors)


@api.exception_handler(DjangoValidationError)
def on_django_validation_error(request: HttpRequest, exc: DjangoValidationError) -> HttpResponse:
    # Raised by selectors and services; a dict of messages names the fields.
    if hasattr(exc, "error_dict"):
        errors = [
            {"field": name, "reason": message}
            for name, messages in exc.message_dict.items()
            for message in messages
        ]
    else:
        errors = [{"field": "request", "reason": message} for message in exc.messages]
    return _invalid_input(request, errors)


@api.exception_handler(UploadTooLarge)
def on_upload_too_large(request: HttpRequest, exc: UploadTooLarge) -> HttpResponse:
    # Raised while the body is parsed, before the operation runs: nothing of it was used.
    return _error(request, 413, {"detail": str(exc)})


@api.exception_handler(Http404)
def on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return _error(request, 404, {"detail": "Not found"})


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    detail = str(exc)
    if exc.status_code == 400 and detail.startswith("Cannot parse request body"):
        # ninja's answer to a body that is not JSON: invalid input like any other (422).
        return _invalid_input(request, [{"field": "body", "reason": "the body is not valid JSON"}])
    if isinstance(exc, AuthenticationError) and detail == AuthenticationError().message:
        # ninja's answer when no credentials were sent at all.
        detail = "Authentication required: send Authorization: Bearer <token>, or log in"
    return _error(request, exc.status_code, {"detail": detail})


api.add_router("/", territory_router)
api.add_router("/", registry_router)
# Before the registry's /imports/{kind}: the first pattern that matches the path answers.
api.add_router("/", "grassroots.cases.api_imports.router")
api.add_router("/", imports_router)
api.add_router("/", accounts_router)
api.add_router("/", audit_router)
api.add_router("/", "grassroots.cases.api_kinds.router")
api.add_router("/", cases_router)
api.add_router("/", "grassroots.cases.api_notifications.router")
api.add_router("/", "grassroots.orgs.api.router")
api.add_router("/", "grassroots.orgs.api_shared.router")
