from django.contrib import admin
from django.http import HttpRequest, JsonResponse
from django.urls import include, path, re_path

from grassroots.api import api
from grassroots.audit import views as audit_views
from grassroots.registry import views as registry_views


def api_not_found(request: HttpRequest, rest: str) -> JsonResponse:
    """API clients get JSON for a path that matches no endpoint, not the HTML 404 page."""
    return JsonResponse({"detail": "Not found"}, status=404)


urlpatterns = [
    path("api/v1/", api.urls),
    re_path(r"^api/(?P<rest>.*)$", api_not_found),
    path("open311/v2/", include("grassroots.cases.open311.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("account/", include("grassroots.accounts.urls")),
    path("", include("grassroots.web.urls")),
    path("", registry_views.home, name="home"),
    path("audit/coverage/", registry_views.coverage, name="coverage"),
    path("audit/log/", audit_views.log, name="audit_log"),
    path("admin/", admin.site.urls),
]

handler400 = "grassroots.web.errors.bad_request"
handler403 = "grassroots.web.errors.permission_denied"
handler404 = "grassroots.web.errors.page_not_found"
handler500 = "grassroots.web.errors.server_error"
