"""Public portal pages (no account): submit a request, its tracking code, track, rate, reject."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.submit, name="submit"),
    path("submitted/", views.submitted, name="submitted"),
    path("track/", views.track, name="track"),
    path("track/rating/", views.rate, name="rate"),
    path("track/reject/", views.reject, name="reject"),
    path("track/forget/", views.forget, name="forget"),
    path("grids.geojson", views.grids, name="grids"),
]
