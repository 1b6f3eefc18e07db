"""A clear page instead of a stack trace for every failure (JSON under /api/ and /open311/)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import loader
from django.utils.translation import gettext as _

MACHINE_PREFIXES = ("/api/", "/open311/")


def _explain(status: int) -> tuple[str, str]:
    if status == 400:
        return _("The request could not be understood"), _(
            "Something in the address or the form was not valid. Go back and try again."
        )
    if status == 403:
        return _("You may not open this page"), _(
            "This page is outside your role or your area. Ask your administrator if you need it."
        )
    if status == 404:
        return _("Page not found"), _(
            "There is nothing here, or it is outside your area. Check the address or the code."
        )
    return _("Something went wrong on our side"), _(
        "The error has been logged. Please try again in a moment; nothing was half saved."
    )


def render_error(request: HttpRequest, status: int, **extra: Any) -> HttpResponse:
    if request.path.startswith(MACHINE_PREFIXES):
        heading, _explanation = _explain(status)
        return JsonResponse({"detail": heading}, status=status)
    heading, explanation = _explain(status)
    context = {"status": status, "heading": heading, "explanation": explanation, **extra}
    try:
        body: str = loader.render_to_string("web/error.html", context, request=request)
    except Exception:  # the error page itself failed (say, the database is down): plain text
        body = f"<!doctype html><title>{heading}</title><h1>{heading}</h1><p>{explanation}</p>"
    return HttpResponse(body, status=status)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render_error(request, 400)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render_error(request, 403)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render_error(request, 404)


def server_error(request: HttpRequest) -> HttpResponse:
    return render_error(request, 500)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    response = render_error(
        request,
        403,
        heading=_("This form has expired"),
        explanation=_(
            "The page was open too long or cookies are blocked. Reload the page and send the "
            "form again."
        ),
    )
    return response
