"""The public portal: submit a request, see its tracking code, follow it, rate the result or
reject it. No account: a case opens with its tracking code and the reporter's phone.

The views call the same services as the portal API (POST /api/v1/public/cases...) and count
against the same budget (cases.public: one count per client address in the database, shared
by every process), so the web form is no way around the API's limit. The phone never travels in
a URL: the look-up is POSTed, and afterwards the session holds only the id of the case it opened,
for a while. A look-up opens the reporter's own case only; a merged one shows the status of the
case it was joined with and nothing else of it.
"""

from __future__ import annotations

import json
import time
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Max
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_cache_control
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from shapely.geometry import mapping

from grassroots.audit.context import client_address
from grassroots.cases import services
from grassroots.cases.models import Case
from grassroots.cases.presenters import public_out
from grassroots.cases.public import portal_allows
from grassroots.core.uploads import UploadTooLarge
from grassroots.territory.geometry import parse_polygon
from grassroots.territory.models import Grid

from .forms import LookupForm, RatingForm, RejectForm, SubmitForm

SUBMITTED = "portal_submitted"  # the tracking code of the request just sent from this browser
OPENED = "portal_case"  # {"id": case id, "until": epoch seconds}: the case looked up
OPEN_SECONDS = 30 * 60

# Intake errors on fields the form shows elsewhere.
FIELD_OF_ERROR = {"lon": "lon", "lat": "lat", "location": "unit"}

STAGE_NEXT = {
    "reported": gettext_lazy(
        "Your request has been received. The grid worker or the office responsible will look "
        "at it and accept it, usually within one working day."
    ),
    "accepted": gettext_lazy("Your request has been accepted and will be handled."),
    "dispatched": gettext_lazy("Your request has been passed to the people who will handle it."),
    "in_progress": gettext_lazy("Work on your request is under way."),
    "handled": gettext_lazy("The work is reported done; it is being checked."),
    "verified": gettext_lazy("The result has been checked; the request will be closed soon."),
    "closed": gettext_lazy(
        "Your request is closed. Please rate the result. If the problem is not solved, you "
        "can reject the result within 7 days and the request goes back to work."
    ),
    "rated": gettext_lazy("Thank you for rating the result."),
    "rejected": gettext_lazy("Your request was not taken up; the reason is in the timeline."),
    "merged": gettext_lazy("Your request was joined with another one about the same matter."),
}


def _throttled(request: HttpRequest) -> bool:
    """True when this client address has used up PORTAL_RATE (shared with the portal API)."""
    return not portal_allows(client_address(request))


def _refusal() -> str:
    return _("Too many tries from your connection. Please wait a minute and try again.")


def _remember(request: HttpRequest, case: Case) -> None:
    request.session[OPENED] = {"id": case.pk, "until": int(time.time()) + OPEN_SECONDS}


def _opened(request: HttpRequest) -> Case | None:
    """The case this browser looked up (or just submitted) with code and phone, if still fresh."""
    held = request.session.get(OPENED)
    if not isinstance(held, dict) or held.get("until", 0) < time.time():
        request.session.pop(OPENED, None)
        return None
    return (
        Case.objects.select_related("category", "merged_into")
        .filter(pk=int(held.get("id", 0)))
        .first()
    )


def _category_name(case: Case) -> str:
    category = case.category
    if (get_language() or "").startswith("en") and category.name_en:
        return category.name_en
    return category.name


def _tiles() -> dict[str, str]:
    return {
        "tile_url": settings.MAP_TILE_URL,
        "tile_attribution": settings.MAP_TILE_ATTRIBUTION,
    }


# CSRF is checked below, once the body has been read: a photo past its limit stops the upload
# while it arrives, and the CSRF middleware, reading the form first, would answer a bare 400.
@csrf_exempt
@require_http_methods(["GET", "POST"])
def submit(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        try:
            request.POST, request.FILES  # noqa: B018 - reads the body now
        except UploadTooLarge as exc:
            refused = _(
                "Your photos could not be taken: %(problem)s. Choose smaller ones and fill in "
                "the form again."
            ) % {"problem": exc}
            context = {"form": SubmitForm(), "refused": refused, "title": _("Submit a request")}
            return render(request, "web/portal/submit.html", {**context, **_tiles()}, status=413)
    return _submit(request)


@csrf_protect
def _submit(request: HttpRequest) -> HttpResponse:
    status = 200
    refused = ""
    if request.method == "POST":
        form = SubmitForm(request.POST, request.FILES)
        if _throttled(request):
            refused, status = _refusal(), 429
        elif form.is_valid():
            data = form.cleaned_data
            try:
                case = services.case_report(
                    actor=None,
                    channel="portal",
                    category=data["category"],
                    description=data["description"],
                    lon=data["lon"] or None,
                    lat=data["lat"] or None,
                    address=data["address"],
                    unit=data["unit"] or None,
                    reporter_name=data["reporter_name"],
                    reporter_phone=data["reporter_phone"],
                    photos=data["photos"],
                    event_data={"reporter": "enterprise" if data["enterprise"] else "resident"},
                )
            except services.CaseInputError as exc:
                for field, problems in exc.message_dict.items():
                    name = FIELD_OF_ERROR.get(field, field)
                    if name == "unit" and field == "location":
                        problems = [
                            _(
                                "Pick the place on the map inside one of the grids, or choose "
                                "the village, community or town to send the request to."
                            )
                        ]
                    for problem in problems:
                        form.add_error(name if name in form.fields else None, problem)
            else:
                request.session[SUBMITTED] = case.tracking_code
                _remember(request, case)
                return redirect("portal:submitted")
        if form.errors and request.FILES.getlist("photos") and "photos" not in form.errors:
            form.add_error(
                "photos",
                _("Choose your photos again: the browser cannot keep them after an error."),
            )
    else:
        form = SubmitForm()
    context = {"form": form, "refused": refused, "title": _("Submit a request"), **_tiles()}
    return render(request, "web/portal/submit.html", context, status=status)


@require_GET
def submitted(request: HttpRequest) -> HttpResponse:
    code = request.session.get(SUBMITTED)
    if not code:
        return redirect("portal:submit")
    return render(
        request, "web/portal/submitted.html", {"code": code, "title": _("Request received")}
    )


def _track_page(
    request: HttpRequest, case: Case | None, status: int = 200, **forms: Any
) -> HttpResponse:
    context: dict[str, Any] = {"title": _("Track a request"), "refused": forms.pop("refused", "")}
    if case is None:
        context["form"] = forms.get("form") or LookupForm()
    else:
        shown = public_out(case)
        shown["category_name"] = _category_name(case)
        context.update(
            case=shown,
            next_step=STAGE_NEXT.get(case.stage, ""),
            rating_form=forms.get("rating_form") or RatingForm(),
            reject_form=forms.get("reject_form") or RejectForm(),
        )
    return render(request, "web/portal/track.html", context, status=status)


@require_http_methods(["GET", "POST"])
def track(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _track_page(request, _opened(request))
    form = LookupForm(request.POST)
    if _throttled(request):
        return _track_page(request, None, 429, form=form, refused=_refusal())
    if not form.is_valid():
        return _track_page(request, None, form=form)
    case = services.find_for_reporter(
        form.cleaned_data["tracking_code"], form.cleaned_data["phone"]
    )
    if case is None:
        # One message for a wrong code and a wrong phone: it must not tell which was right.
        form.add_error(
            None,
            _("No request with this tracking code and phone number. Check both and try again."),
        )
        return _track_page(request, None, form=form)
    _remember(request, case)
    return redirect("portal:track")


def _follow_up(request: HttpRequest) -> tuple[Case | None, HttpResponse | None]:
    """The opened case for a rating or a rejection, or the response that refuses it."""
    if _throttled(request):
        return None, _track_page(request, _opened(request), 429, refused=_refusal())
    case = _opened(request)
    if case is None:
        messages.error(request, _("Please look up your request again with its code and phone."))
        return None, redirect("portal:track")
    return case, None


@require_POST
def rate(request: HttpRequest) -> HttpResponse:
    case, refused = _follow_up(request)
    if refused is not None or case is None:
        return refused or redirect("portal:track")
    form = RatingForm(request.POST)
    if not form.is_valid():
        return _track_page(request, case, rating_form=form)
    try:
        services.case_rate(
            case, rating=form.cleaned_data["rating"], comment=form.cleaned_data["comment"]
        )
    except services.TransitionRefused as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Thank you. Your rating has been recorded."))
    return redirect("portal:track")


@require_POST
def reject(request: HttpRequest) -> HttpResponse:
    case, refused = _follow_up(request)
    if refused is not None or case is None:
        return refused or redirect("portal:track")
    form = RejectForm(request.POST)
    if not form.is_valid():
        return _track_page(request, case, reject_form=form)
    try:
        with transaction.atomic():
            services.case_reopen(case, reason=form.cleaned_data["reason"])
    except services.TransitionRefused as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request, _("Your request goes back to work. We are sorry it is not solved yet.")
        )
    return redirect("portal:track")


@require_POST
def forget(request: HttpRequest) -> HttpResponse:
    """Close the opened request on this device (a shared phone or a library computer)."""
    request.session.pop(OPENED, None)
    request.session.pop(SUBMITTED, None)
    return redirect("portal:track")


def _rounded(coords: Any) -> Any:
    if isinstance(coords, float | int):
        return round(float(coords), 5)
    return [_rounded(c) for c in coords]


@require_GET
def grids(request: HttpRequest) -> HttpResponse:
    """Grid outlines as GeoJSON, simplified to about a metre: the background people orient by
    on the location picker when there is no tile server. Rebuilt when a grid changes."""
    stamp = Grid.objects.aggregate(n=Count("id"), last=Max("updated_at"))
    last = stamp["last"].timestamp() if stamp["last"] else 0
    key = f"portal:grids:{stamp['n']}:{last}"
    body = cache.get(key)
    if body is None:
        features = []
        for grid in Grid.objects.only("code", "name", "boundary").order_by("code").iterator():
            try:
                shape = parse_polygon(grid.boundary).simplify(0.00001, preserve_topology=True)
            except ValidationError:  # a broken outline must not hide the others
                continue
            geometry = mapping(shape)
            features.append(
                {
                    "type": "Feature",
                    "geometry": {
                        "type": geometry["type"],
                        "coordinates": _rounded(geometry["coordinates"]),
                    },
                    "properties": {"code": grid.code, "name": grid.name},
                }
            )
        body = json.dumps(
            {"type": "FeatureCollection", "features": features},
            ensure_ascii=False,
            separators=(",", ":"),
        )
        cache.set(key, body, 24 * 3600)
    response = HttpResponse(body, content_type="application/geo+json")
    patch_cache_control(response, public=True, max_age=600)
    return response
