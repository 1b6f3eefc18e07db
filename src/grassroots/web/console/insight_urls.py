"""Console routes (insight_urls)."""

urlpatterns: list = []
