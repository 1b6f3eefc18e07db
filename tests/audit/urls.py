"""The project's URLs plus two probes that write an audit event, one on the web, one in the API.

They show how the middleware and the API's authentication stamp events, independently of any
particular service that writes one.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.http import require_POST
from ninja import NinjaAPI

from grassroots import urls as project
from grassroots.api import BearerTokenAuth
from grassroots.audit import services as audit

probe_api = NinjaAPI(urls_namespace="audit_probe", auth=[BearerTokenAuth()], docs_url=None)


def _record() -> int:
    event = audit.record(
        audit.Event.Action.UPDATE,
        object_type="registry.household",
        object_id="probe",
        scope_code="350426100001001",
        changes={"address": ["a", "b"]},
    )
    return event.pk


@probe_api.post("/record")
def api_record(request: HttpRequest) -> dict[str, Any]:
    return {"id": _record()}


@login_required
@require_POST
def web_record(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"id": _record()})


urlpatterns = [
    path("api/probe/", probe_api.urls),
    path("probe/record/", web_record),
    *project.urlpatterns,
]
