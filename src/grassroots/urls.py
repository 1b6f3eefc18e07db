from django.contrib import admin
from django.urls import include, path

from grassroots.api import api
from grassroots.registry import views as registry_views

urlpatterns = [
    path("api/v1/", api.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", registry_views.home, name="home"),
    path("audit/coverage/", registry_views.coverage, name="coverage"),
    path("admin/", admin.site.urls),
]
