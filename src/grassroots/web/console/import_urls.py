"""Console routes (import_urls)."""

urlpatterns: list = []
