"""Console routes (import_urls): registry import from the browser."""

from django.urls import path

from . import imports

urlpatterns = [
    path("import/", imports.import_start, name="import"),
    path("import/<int:pk>/", imports.import_job, name="import_job"),
    path("import/<int:pk>/progress/", imports.import_progress, name="import_progress"),
    path("import/<int:pk>/confirm/", imports.import_confirm, name="import_confirm"),
    path("import/<int:pk>/delete/", imports.import_delete, name="import_delete"),
]
