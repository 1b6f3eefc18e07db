"""Grid worker pages (phone first). Names: home, tasks, households, household, report."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
