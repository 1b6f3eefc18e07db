"""Two-factor enforcement: a session that owes its TOTP code reaches only the two-factor pages.

Owing a code: signed in with the password, not yet verified by django-otp, and either of a role
that requires two-factor sign-in (see two_factor.otp_required) or holding a confirmed device.
Such a session may reach the two-factor pages, logout, the language switch and static files;
pages and the admin redirect to the right two-factor page, /api/ answers a JSON 403. Requests
with an Authorization header are left to the API's bearer-token check, which never falls back
to the session, so tokens keep working without a second factor.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse

from .two_factor import has_confirmed_device, otp_required

# Session key: the user (pk) found without a confirmed device when this session began.
_NO_DEVICE_KEY = "two_factor_no_device"


class TwoFactorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.refusal(request) or self.get_response(request)

    def refusal(self, request: HttpRequest) -> HttpResponse | None:
        user: Any = request.user
        if not user.is_authenticated or user.is_verified():
            return None
        is_api = request.path.startswith("/api/")
        if is_api and "HTTP_AUTHORIZATION" in request.META:
            return None
        if _is_open(request.path):
            return None
        if otp_required(user):
            enrolled = has_confirmed_device(user)
        else:
            enrolled = _has_device_cached(request, user)
            if not enrolled:
                return None
        if is_api:
            return JsonResponse(
                {
                    "detail": "Two-factor sign-in not finished: enter your authenticator code"
                    " in the browser first, or use an API token"
                },
                status=403,
            )
        page = reverse("two_factor_verify" if enrolled else "two_factor_enrol")
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


def _has_device_cached(request: HttpRequest, user: Any) -> bool:
    """Whether a user who may go without two-factor has a device, looked up once a session.

    Only "no device" is remembered: a device confirmed later, elsewhere, is asked for at the
    next sign-in (enrolling in this session verifies it at once).
    """
    if request.session.get(_NO_DEVICE_KEY) == user.pk:
        return False
    if has_confirmed_device(user):
        return True
    request.session[_NO_DEVICE_KEY] = user.pk
    return False
