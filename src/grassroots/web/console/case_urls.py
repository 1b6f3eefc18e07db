"""Console routes (case_urls): the case queue and the case page."""

from django.urls import path

from . import cases

urlpatterns = [
    path("cases/", cases.case_queue, name="cases"),
    path("cases/bulk/", cases.case_bulk, name="cases_bulk"),
    path("cases/<str:code>/", cases.case_page, name="case"),
    path("cases/<str:code>/<slug:action>/", cases.case_step, name="case_step"),
]
