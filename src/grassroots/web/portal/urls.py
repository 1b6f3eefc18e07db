"""Public portal pages (no account). Names: submit, track, ..."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
