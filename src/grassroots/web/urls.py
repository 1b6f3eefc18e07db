"""Web pages: /w/ (grid worker, phone first), /console/ (officials, dispatchers), /portal/ (public)."""

from django.urls import include, path

urlpatterns = [
    path("w/", include(("grassroots.web.worker.urls", "worker"))),
    path("console/", include(("grassroots.web.console.urls", "console"))),
    path("portal/", include(("grassroots.web.portal.urls", "portal"))),
]
