"""Console routes (insight_urls): the dashboard, the map and the coverage audit."""

from django.urls import path

from . import insight, insight_coverage, insight_map

urlpatterns: list = [
    path("", insight.dashboard, name="dashboard"),
    path("map/", insight_map.map_page, name="map"),
    path("map/data/", insight_map.map_data, name="map_data"),
    path("coverage/", insight_coverage.coverage, name="coverage"),
]
