"""Grid worker pages (phone first). Names: home, tasks, households, household, report."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("households/", views.households, name="households"),
    path("households/<int:pk>/", views.household, name="household"),
    path("report/", views.report, name="report"),
    path("tasks/", views.tasks, name="tasks"),
]
