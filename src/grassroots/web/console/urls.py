"""Console pages: each part keeps its own list of routes."""

from .case_urls import urlpatterns as case_patterns
from .import_urls import urlpatterns as import_patterns
from .insight_urls import urlpatterns as insight_patterns
from .orgs_urls import urlpatterns as orgs_patterns

urlpatterns = insight_patterns + case_patterns + import_patterns + orgs_patterns
