"""Console pages of party organizations (联): the tree, an organization, the talent pool, shared
resources and joint projects."""

from django.urls import path

from . import orgs

urlpatterns = [
    path("orgs/", orgs.tree, name="orgs"),
]
