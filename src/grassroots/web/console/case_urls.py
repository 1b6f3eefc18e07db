"""Console routes (case_urls)."""

urlpatterns: list = []
