"""Middleware: language selection, and URLs holding NUL characters refused.

Language: Simplified Chinese unless the user chose English. Django's LocaleMiddleware lets the
browser's Accept-Language header decide. Grassroots' pages are Chinese by default for everyone
(a township office's browser often says en-US), and switch only when the user picks a language
(the switcher in the header sets the language cookie). API clients keep standard content
negotiation through Accept-Language.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.middleware.locale import LocaleMiddleware
from django.utils import translation
from django.utils.translation import gettext as _


class ChineseFirstLocaleMiddleware(LocaleMiddleware):
    def process_request(self, request: HttpRequest) -> None:
        if request.path.startswith("/api/"):
            super().process_request(request)
            return
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        supported = {code for code, _name in settings.LANGUAGES}
        language = chosen if chosen in supported else settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()


def _nul_field(request: HttpRequest) -> str | None:
    """Where a NUL character is in the request's path or query string, if anywhere."""
    if "\x00" in request.path:
        return "path"
    for key, values in request.GET.lists():
        if "\x00" in key or any("\x00" in value for value in values):
            return key.replace("\x00", "") or "query"
    return None


class RefuseNulMiddleware:
    """Refuses a path or query string holding a NUL character: 422 in JSON for the API, 400
    elsewhere.

    Nothing stored holds one (clean_text drops control characters), and PostgreSQL cannot even
    compare text with one: `/api/v1/units/%00` or an admin search for `%00` was a 500 there.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        field = _nul_field(request)
        if field is None:
            return self.get_response(request)
        reason = _("must not contain NUL characters")
        if request.path.startswith("/api/"):
            return JsonResponse(
                {
                    "detail": f"Invalid input: {field}: {reason}",
                    "errors": [{"field": field, "reason": reason}],
                },
                status=422,
            )
        return HttpResponseBadRequest(reason, content_type="text/plain; charset=utf-8")
