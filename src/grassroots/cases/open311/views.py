"""Open311 GeoReport v2 endpoints.

Reading (discovery, services, requests) is public and carries what DOMAIN.md lets the public see
of a case: its category, status, dates, who handles it and a coarse place: `address` is the name
of the grid (or, for a case waiting in a unit's queue, of that unit), `lat`/`long` the point
snapped to the centre of a cell of SNAP_DEGREES (about 200 m). Never the reporter's words
(`description` is empty: a description holds names, addresses and numbers no masking finds
reliably), the typed address, the exact point or any reporter field. Dispute mediation and
hardship assistance cases show only their status. docs/security.md lists every field.

Creating a request needs an API key, sent as the POST body's `api_key` as the specification
says (403 without a valid one). A key in the address (query string) is refused with 400 on every
resource, before anything else: addresses end up in access logs. Each key may send
OPEN311_KEY_RATE requests, and each client address may send OPEN311_BAD_KEY_RATE wrong keys
(429 past either, counted in the database across processes). A request goes through
`case_report` like every other channel.

Parameters follow the specification: ids are case tracking codes, service codes category codes,
the jurisdiction the county's unit code (optional while only one county is served). A request is
created at once, so the POST answers its service_request_id (a token is that id too). A client
may send its own id of the report as attribute[external_id] (FixMyStreet: attribute[fixmystreet_id]):
sent again, the same report answers the case it opened the first time instead of a second one.
Other attributes are accepted and left aside (no service defines any: metadata is false).
"""

from __future__ import annotations

import datetime
import functools
import math
import re
from collections.abc import Callable, Iterable
from typing import Any

from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse, QueryDict
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables

from grassroots.audit.context import acting, client_address
from grassroots.cases.errors import CaseInputError
from grassroots.cases.intake import case_report, validate_report
from grassroots.cases.models import (
    OPEN_STAGES,
    Case,
    CasePhoto,
    Category,
    Open311Key,
    Stage,
    Tier,
)
from grassroots.core import ratelimit
from grassroots.core.scoping import Scope
from grassroots.territory.models import Grid, Unit

from . import keys
from .render import FORMATS, errors, render

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
# When this endpoint's behaviour last changed (discovery's changeset).
CHANGESET = "2026-12-03T00:00:00+08:00"
WINDOW = datetime.timedelta(days=90)
MAX_RESULTS = 1000
MAX_DESCRIPTION = 4000
# The public point of a case: the centre of its cell of this many degrees (about 220 m north to
# south, 200 m east to west in Fujian).
SNAP_DEGREES = 0.002
# Case kinds whose content stays inside: only their status is public.
PRIVATE_KINDS = frozenset({Case.Kind.MEDIATION, Case.Kind.ASSISTANCE})
# Code length of the unit that answers for each tier below the county.
TIER_CODE_LENGTH = {Tier.GRID: 15, Tier.VILLAGE: 12, Tier.TOWN: 9}
# validate_report's field names as Open311 parameters.
PARAMS = {
    "category": "service_code",
    "lon": "long",
    "lat": "lat",
    "address": "address_string",
    "unit": "jurisdiction_id",
    "reporter_name": "first_name",
    "reporter_phone": "phone",
    "reporter_email": "email",
    "photos": "media_url",
    "media_url": "media_url",
    "external_id": "attribute[external_id]",
    "location": "lat",
}
# A client's own id of a report, for retries that must not open a second case.
EXTERNAL_ID_ATTRIBUTES = ("external_id", "fixmystreet_id")
# "+08:00" sent without URL encoding arrives as " 08:00".
_SPACED_OFFSET = re.compile(r"(?<=\d) (\d{2}(?::?\d{2})?)$")
_YEAR_MONTH = re.compile(r"^(\d{4})(?:-(\d{2}))?$")


class Open311Error(Exception):
    """Answered as the specification's error list with this status."""

    def __init__(self, status: int, *descriptions: str, retry_after: int | None = None) -> None:
        super().__init__(*descriptions)
        self.status = status
        self.descriptions = list(descriptions)
        self.retry_after = retry_after


def _language(request: HttpRequest) -> str:
    """The `locale` parameter if given (en, en_US, zh_CN, ...), else Accept-Language."""
    wanted = (request.GET.get("locale") or request.POST.get("locale") or "").strip().lower()
    if wanted.startswith("en"):
        return "en"
    if wanted.startswith("zh"):
        return "zh-hans"
    # Open311 clients negotiate by header; the pages' Chinese-first rule is not for them.
    return translation.get_language_from_request(request)


def endpoint(
    *methods: str,
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """A GeoReport resource: format checked, errors in the specification's shape."""

    allowed = (*methods, "HEAD") if "GET" in methods else methods

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, fmt: str, **kwargs: Any) -> HttpResponse:
            fmt = fmt.lower()
            with translation.override(_language(request)):
                if fmt not in FORMATS:
                    return errors(
                        "json", 404, [_("Unknown format %(f)s: use .json or .xml") % {"f": fmt}]
                    )
                if "api_key" in request.GET:
                    # Refused before anything is done. The address may be in an access log
                    # already; what Django logs of this request from now on shows no key.
                    _hide_key(request)
                    return errors(
                        fmt,
                        400,
                        [
                            _(
                                "api_key may not be sent in the address, where logs keep it: "
                                "send it in the body of the POST. Consider this key exposed "
                                "and ask for a new one."
                            )
                        ],
                    )
                if request.method not in allowed:
                    response = errors(
                        fmt,
                        405,
                        [_("Method %(m)s is not allowed here") % {"m": request.method}],
                    )
                    response["Allow"] = ", ".join(allowed)
                    return response
                try:
                    response = view(request, fmt, **kwargs)
                except Open311Error as exc:
                    response = errors(fmt, exc.status, exc.descriptions)
                    if exc.retry_after is not None:
                        response["Retry-After"] = str(exc.retry_after)
            if request.method in ("GET", "HEAD"):
                # Public data: browser maps on other sites may read it.
                response["Access-Control-Allow-Origin"] = "*"
            return response

        return csrf_exempt(wrapper)

    return decorate


def _hide_key(request: HttpRequest) -> None:
    """Replace the api_key of the query string, as the request's loggers would print it."""
    query = request.GET.copy()
    query.setlist("api_key", ["hidden"])
    request.META["QUERY_STRING"] = query.urlencode()
    request.GET = QueryDict(request.META["QUERY_STRING"])


def not_found(request: HttpRequest, rest: str = "") -> HttpResponse:
    with translation.override(_language(request)):
        return errors(
            "json",
            404,
            [
                _(
                    "No such resource: use discovery, services, services/{code}, requests, "
                    "requests/{id} or tokens/{token}, ending in .json or .xml"
                )
            ],
        )


# --- Helpers ---------------------------------------------------------------------------------


def _english() -> bool:
    return translation.get_language() == "en"


def _jurisdiction(params: QueryDict) -> Unit:
    """The county named by jurisdiction_id, or the only one when it is left out."""
    given = (params.get("jurisdiction_id") or "").strip()
    counties = Unit.objects.filter(level=Unit.Level.COUNTY)
    if given:
        county = counties.filter(code=given).first()
        if county is None:
            raise Open311Error(
                400, _("jurisdiction_id %(j)s is not served here") % {"j": given[:20]}
            )
        return county
    found = list(counties.order_by("code")[:2])
    if len(found) == 1:
        return found[0]
    if not found:
        raise Open311Error(400, _("No jurisdiction is set up here yet"))
    raise Open311Error(400, _("jurisdiction_id is required: this endpoint serves several counties"))


def w3c(value: datetime.datetime | None) -> str | None:
    """A W3C date and time with the local offset: 2026-05-01T08:30:00+08:00."""
    if value is None:
        return None
    return timezone.localtime(value).isoformat(timespec="seconds")


def parse_w3c(params: QueryDict, name: str) -> datetime.datetime | None:
    """The parameter as an aware datetime; a date or a time without offset is local time."""
    raw = (params.get(name) or "").strip()
    if not raw:
        return None
    text = _SPACED_OFFSET.sub(r"+\1", raw) if "T" in raw.upper() else raw
    value: datetime.datetime | None
    try:
        matched = _YEAR_MONTH.match(text)
        if matched:
            value = datetime.datetime(int(matched[1]), int(matched[2] or 1), 1)
        else:
            value = parse_datetime(text)
        if value is not None and not (1970 <= value.year <= 9000):
            value = None
    except ValueError:
        value = None
    if value is None:
        raise Open311Error(
            400,
            _("%(name)s: %(value)s is not a W3C date and time such as 2026-05-01T08:00:00+08:00")
            % {"name": name, "value": raw[:40]},
        )
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    return value


def _list_param(params: QueryDict, name: str) -> list[str]:
    """A comma-separated parameter (which may also be repeated) as a list of values."""
    values: list[str] = []
    for raw in params.getlist(name):
        values.extend(v.strip() for v in raw.split(",") if v.strip())
    return list(dict.fromkeys(values))


def _snapped(value: float | None) -> float | None:
    """A coordinate moved to the centre of its cell of SNAP_DEGREES."""
    if value is None:
        return None
    return round((math.floor(value / SNAP_DEGREES) + 0.5) * SNAP_DEGREES, 6)


def _service_name(category: Category) -> str:
    return (category.name_en or category.name) if _english() else category.name


def _limit_text(category: Category, tier: str, urgent: bool) -> str:
    limit = category.limit(tier, urgent=urgent)
    if urgent:
        return _("%(n)d hours (urgent)") % {"n": limit}
    return _("%(n)d working days") % {"n": limit}


def _service(category: Category) -> dict[str, Any]:
    names = [category.name, category.name_en, category.code]
    return {
        "service_code": category.code,
        "service_name": _service_name(category),
        "description": _("First handled at the %(tier)s tier within %(days)s (urgent: %(hours)s)")
        % {
            "tier": Tier(category.first_tier).label.lower(),
            "days": _limit_text(category, category.first_tier, False),
            "hours": _limit_text(category, category.first_tier, True),
        },
        "metadata": False,
        "type": "realtime",
        "keywords": ", ".join(dict.fromkeys(n for n in names if n)),
        "group": str(Case.Kind(category.kind).label)
        if category.kind in Case.Kind.values
        else category.kind,
    }


def _agency_codes(case: Case) -> str | None:
    """The code of the grid or unit handling the case now (None at county tier)."""
    length = TIER_CODE_LENGTH.get(Tier(case.tier))
    if length is None:
        return None
    return case.scope_code[:length] if len(case.scope_code) >= length else case.scope_code


def _agency_names(cases: Iterable[Case]) -> dict[str, str]:
    """Names of the grids and units handling `cases` and of those they lie in, in two
    queries."""
    cases = list(cases)
    codes = {c for c in map(_agency_codes, cases) if c} | {c.scope_code for c in cases}
    grids = [c for c in codes if len(c) == 15]
    names = dict(Grid.objects.filter(code__in=grids).values_list("code", "name"))
    names.update(Unit.objects.filter(code__in=codes - set(grids)).values_list("code", "name"))
    return names


def _agency(case: Case, names: dict[str, str]) -> str:
    code = _agency_codes(case)
    if code is None:
        return case.category.department or _("County department")
    return names.get(code, code)


def _status_notes(case: Case) -> str:
    stage = Stage(case.stage)
    if stage == Stage.REJECTED and case.reject_reason:
        return _("%(stage)s: %(reason)s") % {
            "stage": stage.label,
            "reason": Case.RejectReason(case.reject_reason).label.lower(),
        }
    if stage == Stage.MERGED and case.merged_into is not None:
        return _("Merged into request %(code)s") % {"code": case.merged_into.tracking_code}
    return str(stage.label)


def _notice(case: Case) -> str | None:
    if case.stage in OPEN_STAGES:
        return _("Time limit at the %(tier)s tier: %(limit)s") % {
            "tier": Tier(case.tier).label.lower(),
            "limit": _limit_text(case.category, case.tier, case.urgent),
        }
    if case.closed_on_time is True:
        return _("Closed on time")
    if case.closed_on_time is False:
        return _("Closed after the time limit")
    return None


def _place(case: Case, names: dict[str, str]) -> str | None:
    """The coarse place of a case: its grid's name, or the name of the unit whose queue holds
    it; never the address the reporter typed."""
    return names.get(case.scope_code) or None


def _request_item(case: Case, names: dict[str, str]) -> dict[str, Any]:
    """One request as the public sees it (the fields docs/security.md lists)."""
    is_open = case.stage in OPEN_STAGES
    private = case.kind in PRIVATE_KINDS
    photo = next((p.url for p in case.photos.all() if p.url), None)
    return {
        "service_request_id": case.tracking_code,
        "status": "open" if is_open else "closed",
        "status_notes": _status_notes(case),
        "service_name": _service_name(case.category),
        "service_code": case.category.code,
        # The reporter's words stay inside: names in them cannot be found reliably.
        "description": None,
        "agency_responsible": _agency(case, names),
        "service_notice": _notice(case),
        "requested_datetime": w3c(case.reported_at),
        "updated_datetime": w3c(case.updated_at),
        "expected_datetime": w3c(case.due_at) if is_open else None,
        "address": None if private else _place(case, names),
        "address_id": None,
        "zipcode": None,
        "lat": None if private else _snapped(case.lat),
        "long": None if private else _snapped(case.lon),
        "media_url": None if private else photo,
    }


def _public_cases(county: Unit) -> Any:
    return (
        Case.objects.in_scope(Scope.of(county.code))
        .select_related("category", "merged_into")
        .prefetch_related(
            Prefetch("photos", queryset=CasePhoto.objects.exclude(url="").order_by("id"))
        )
    )


def _requests_body(cases: list[Case]) -> list[dict[str, Any]]:
    names = _agency_names(cases)
    return [_request_item(case, names) for case in cases]


# --- Endpoints -------------------------------------------------------------------------------


@endpoint("GET")
def discovery(request: HttpRequest, fmt: str) -> HttpResponse:
    own = request.build_absolute_uri(reverse("open311:discovery", kwargs={"fmt": fmt}))
    base = own.rsplit("/", 1)[0]
    counties = Unit.objects.filter(level=Unit.Level.COUNTY).order_by("code")
    body = {
        "changeset": CHANGESET,
        "contact": _("The county's grid management centre (网格化服务管理中心)"),
        "key_service": _(
            "API keys are issued by the county's administrator (grassroots open311 key NAME)"
        ),
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": base,
                "changeset": CHANGESET,
                "type": "production",
                "formats": ["application/json", "text/xml"],
            }
        ],
        "jurisdictions": [{"jurisdiction_id": u.code, "name": u.name} for u in counties],
    }
    return render(fmt, "discovery", body)


@endpoint("GET")
def services(request: HttpRequest, fmt: str) -> HttpResponse:
    _jurisdiction(request.GET)
    categories = Category.objects.filter(active=True).order_by("position", "code")
    return render(fmt, "services", [_service(c) for c in categories])


@endpoint("GET")
def service_definition(request: HttpRequest, fmt: str, code: str) -> HttpResponse:
    _jurisdiction(request.GET)
    category = Category.objects.filter(code=code, active=True).first()
    if category is None:
        raise Open311Error(404, _("service_code %(code)s was not found") % {"code": code[:40]})
    # No attributes: the report's description, location and contact say all a case needs.
    return render(fmt, "service_definition", {"service_code": category.code, "attributes": []})


@sensitive_post_parameters("api_key", "first_name", "last_name", "phone", "email")
@endpoint("GET", "POST")
def request_list(request: HttpRequest, fmt: str) -> HttpResponse:
    if request.method == "POST":
        return _create(request, fmt)
    # HEAD is answered as GET (Django leaves the body out).
    params = request.GET
    county = _jurisdiction(params)
    cases = _public_cases(county)
    ids = _list_param(params, "service_request_id")
    if ids:
        # The specification: a list of ids overrides every other filter.
        if len(ids) > MAX_RESULTS:
            raise Open311Error(
                400, _("At most %(n)d service_request_id values at once") % {"n": MAX_RESULTS}
            )
        cases = cases.filter(tracking_code__in=[i.upper() for i in ids])
    else:
        cases = _filtered(cases, params)
    found = list(cases.order_by("-reported_at", "-id")[:MAX_RESULTS])
    return render(fmt, "service_requests", _requests_body(found))


def _filtered(cases: Any, params: QueryDict) -> Any:
    problems = []
    codes = _list_param(params, "service_code")
    if codes:
        known = set(Category.objects.filter(code__in=codes).values_list("code", flat=True))
        problems += [
            _("service_code %(code)s is not a known service") % {"code": c[:40]}
            for c in codes
            if c not in known
        ]
        cases = cases.filter(category__code__in=codes)
    statuses = _list_param(params, "status")
    for status in statuses:
        if status not in ("open", "closed"):
            problems.append(_("status must be open or closed, not %(s)s") % {"s": status[:20]})
    if set(statuses) == {"open"}:
        cases = cases.filter(is_open=True)
    elif set(statuses) == {"closed"}:
        cases = cases.filter(is_open=False)
    try:
        start = parse_w3c(params, "start_date")
    except Open311Error as exc:
        problems += exc.descriptions
        start = None
    try:
        end = parse_w3c(params, "end_date")
    except Open311Error as exc:
        problems += exc.descriptions
        end = None
    if problems:
        raise Open311Error(400, *problems)
    # The default window: the 90 days before now, or 90 days from the one date given.
    if start is None and end is None:
        end = timezone.now()
        start = end - WINDOW
    elif start is None:
        assert end is not None
        start = end - WINDOW
    elif end is None:
        end = start + WINDOW
    if end < start:
        raise Open311Error(400, _("end_date lies before start_date"))
    if end - start > WINDOW:
        raise Open311Error(400, _("start_date and end_date may not span more than 90 days"))
    return cases.filter(reported_at__gte=start, reported_at__lte=end)


@endpoint("GET")
def request_detail(request: HttpRequest, fmt: str, request_id: str) -> HttpResponse:
    county = _jurisdiction(request.GET)
    case = _public_cases(county).filter(tracking_code=request_id.upper()).first()
    if case is None:
        raise Open311Error(
            404, _("service_request_id %(id)s was not found") % {"id": request_id[:40]}
        )
    return render(fmt, "service_requests", _requests_body([case]))


@endpoint("GET")
def token_detail(request: HttpRequest, fmt: str, token: str) -> HttpResponse:
    # Requests are created at once, so a token is the service_request_id itself.
    county = _jurisdiction(request.GET)
    code = (
        _public_cases(county)
        .filter(tracking_code=token.upper())
        .values_list("tracking_code", flat=True)
        .first()
    )
    if code is None:
        raise Open311Error(404, _("token %(t)s was not found") % {"t": token[:40]})
    return render(fmt, "service_requests", [{"service_request_id": code, "token": token}])


# --- Creating a request ----------------------------------------------------------------------


@sensitive_variables("given")
def _client(request: HttpRequest) -> Open311Key:
    """The key of the POST body, within its rate; wrong keys are counted per client address."""
    given = (request.POST.get("api_key") or "").strip()
    if not given:
        raise Open311Error(403, _("api_key is required to create a service request"))
    address = ratelimit.client_key(client_address(request))
    bad_rate = ratelimit.rate_setting("OPEN311_BAD_KEY_RATE")
    tried = ratelimit.peek("open311-bad-key", address, bad_rate)
    if not tried.allowed:
        raise Open311Error(
            429,
            _("Too many wrong api_key values from your address: try again later"),
            retry_after=tried.retry_after,
        )
    key = keys.authenticate(given)
    if key is None:
        ratelimit.hit("open311-bad-key", address, bad_rate)
        raise Open311Error(403, _("Invalid api_key received: unknown or revoked"))
    verdict = ratelimit.hit("open311-key", str(key.pk), ratelimit.rate_setting("OPEN311_KEY_RATE"))
    if not verdict.allowed:
        raise Open311Error(
            429,
            _("This api_key has sent as many service requests as it may for now: try again later"),
            retry_after=verdict.retry_after,
        )
    return key


def _attributes(params: QueryDict) -> dict[str, list[str]]:
    """attribute[code] and attribute[code][] values by code."""
    found: dict[str, list[str]] = {}
    for name in params:
        if name.startswith("attribute[") and name.endswith("]"):
            code = name[len("attribute[") : -1].removesuffix("][")
            found.setdefault(code, []).extend(params.getlist(name))
    return found


def _reporter_name(first: str, last: str) -> str:
    """first_name and last_name as one name: "Ann Lee", but 王小明 (surname first) in Chinese."""
    if first.isascii() and last.isascii():
        return " ".join(p for p in (first, last) if p)
    return last + first


def _case_errors(exc: CaseInputError, skip: Iterable[str] = ()) -> list[str]:
    """CaseInputError's messages, each led by the Open311 parameter it is about."""
    if not hasattr(exc, "error_dict"):
        return list(exc.messages)
    lines = []
    for field, messages in exc.message_dict.items():
        param = PARAMS.get(field, field)
        if param in skip:
            continue
        lines += [f"{param}: {m}" for m in messages]
    return lines


def _create(request: HttpRequest, fmt: str) -> HttpResponse:
    key = _client(request)
    params = request.POST
    county = _jurisdiction(params)
    problems: list[str] = []
    reported: set[str] = set()

    code = (params.get("service_code") or "").strip()
    category = Category.objects.filter(code=code, active=True).first() if code else None
    if category is None:
        problems.append(
            _("service_code %(code)s is not a known service") % {"code": code[:40]}
            if code
            else _("service_code is required")
        )
        reported.add("service_code")
    description = params.get("description") or ""
    if not description.strip():
        problems.append(_("description is required"))
        reported.add("description")
    elif len(description) > MAX_DESCRIPTION:
        problems.append(_("description: at most 4,000 characters"))
        reported.add("description")
    lat, lon = (params.get("lat") or "").strip(), (params.get("long") or "").strip()
    address = (params.get("address_string") or "").strip()
    if not (lat or lon or address):
        problems.append(_("A location is required: lat and long, or address_string"))
        reported.add("lat")

    attributes = _attributes(params)
    external = next(
        (v[0].strip() for a in EXTERNAL_ID_ATTRIBUTES if (v := attributes.get(a)) and v[0]),
        "",
    )
    if len(external) > 40:
        problems.append(_("attribute[external_id]: at most 40 characters"))
    # Namespaced by client: two clients' ids never meet.
    external_id = f"o311-{key.pk}:{external}" if external else ""

    report: dict[str, Any] = {
        "category": category if category is not None else "",
        "description": description,
        "lon": lon or None,
        "lat": lat or None,
        "address": address,
        "unit": county,
        "reporter_name": _reporter_name(
            (params.get("first_name") or "").strip(), (params.get("last_name") or "").strip()
        ),
        "reporter_phone": params.get("phone") or "",
        "reporter_email": params.get("email") or "",
        "photo_urls": [u for u in params.getlist("media_url") if u.strip()][:1],
    }
    if problems:
        # Tell every other problem in the same answer, not one per round trip.
        try:
            validate_report(**report)
        except CaseInputError as exc:
            problems += _case_errors(exc, skip=reported)
        raise Open311Error(400, *problems)

    if external_id:
        earlier = _earlier(external_id)
        if earlier is not None:
            return _created(fmt, earlier, repeated=True)
    try:
        with acting(label=f"open311:{key.name}"):
            case = case_report(
                actor=None, channel=Case.Channel.OPEN311, external_id=external_id, **report
            )
    except CaseInputError as exc:
        earlier = _earlier(external_id) if external_id else None
        if earlier is not None:  # the same report, sent twice at once
            return _created(fmt, earlier, repeated=True)
        raise Open311Error(400, *_case_errors(exc)) from None
    return _created(fmt, case)


def _earlier(external_id: str) -> Case | None:
    return (
        Case.objects.filter(channel=Case.Channel.OPEN311, external_id=external_id)
        .select_related("category")
        .first()
    )


def _created(fmt: str, case: Case, *, repeated: bool = False) -> HttpResponse:
    names = _agency_names([case])
    notice = _(
        "Received as case %(code)s. %(agency)s handles it; time limit %(limit)s. The reporter "
        "follows it on the portal with this code and their phone number."
    ) % {
        "code": case.tracking_code,
        "agency": _agency(case, names),
        "limit": _limit_text(case.category, case.tier, case.urgent),
    }
    if repeated:
        notice = _("Already received as case %(code)s.") % {"code": case.tracking_code}
    body = [
        {"service_request_id": case.tracking_code, "service_notice": notice, "account_id": None}
    ]
    return render(fmt, "service_requests", body)
