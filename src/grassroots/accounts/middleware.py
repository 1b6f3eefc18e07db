"""Two-factor enforcement: a session that owes its TOTP code reaches only the two-factor pages.

Owing a code (two_factor.owes_second_factor): signed in with the password, not yet verified by
django-otp, and either of a role that requires two-factor sign-in or holding a confirmed
device. Such a session may reach the two-factor pages, logout, the language switch and static
files; pages and the admin redirect to the right two-factor page, /api/ answers a JSON 403.

The one request such a browser may still make to the API is one that carries an API token
(`Authorization: Bearer <token>`): the API then authenticates the token's user and never looks
at the session. Any other Authorization header (Basic, Token, an empty value, a bare "Bearer")
is no credential of ours and changes nothing: the session is refused like any other request.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse

from .two_factor import UNFINISHED, owes_enrolment, owes_second_factor


def carries_bearer_token(request: HttpRequest) -> bool:
    """Whether the request sends `Authorization: Bearer <something>` (the API's token scheme)."""
    scheme, _, token = request.META.get("HTTP_AUTHORIZATION", "").strip().partition(" ")
    return scheme.lower() == "bearer" and bool(token.strip())


class TwoFactorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.refusal(request) or self.get_response(request)

    def refusal(self, request: HttpRequest) -> HttpResponse | None:
        is_api = request.path.startswith("/api/")
        if is_api and carries_bearer_token(request):
            # The API authenticates the token alone (grassroots.api.BearerTokenAuth).
            return None
        if _is_open(request.path) or not owes_second_factor(request):
            return None
        if is_api:
            return JsonResponse({"detail": UNFINISHED}, status=403)
        page = reverse("two_factor_enrol" if owes_enrolment(request.user) else "two_factor_verify")
        if request.method != "GET":
            return redirect_to_login(settings.LOGIN_REDIRECT_URL, page)
        return redirect_to_login(request.get_full_path(), page)


def _is_open(path: str) -> bool:
    static = "/" + settings.STATIC_URL.lstrip("/")
    return path.startswith(static) or path in {
        reverse("two_factor_verify"),
        reverse("two_factor_enrol"),
        reverse("admin:logout"),
        reverse("set_language"),
    }
