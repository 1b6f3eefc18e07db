"""Open311 GeoReport v2 resources, each as .json or .xml (any other ending answers 404)."""

from django.urls import re_path

from . import views

app_name = "open311"

_FORMAT = r"\.(?P<fmt>[A-Za-z0-9]+)$"

urlpatterns = [
    re_path(r"^discovery" + _FORMAT, views.discovery, name="discovery"),
    re_path(r"^services" + _FORMAT, views.services, name="services"),
    re_path(r"^services/(?P<code>[^/]+?)" + _FORMAT, views.service_definition, name="service"),
    re_path(r"^requests" + _FORMAT, views.request_list, name="requests"),
    re_path(r"^requests/(?P<request_id>[^/]+?)" + _FORMAT, views.request_detail, name="request"),
    re_path(r"^tokens/(?P<token>[^/]+?)" + _FORMAT, views.token_detail, name="token"),
    re_path(r"^(?P<rest>.*)$", views.not_found),
]
