"""Console pages of party organizations (联): the tree, an organization, the talent pool, shared
resources and joint projects."""

from django.urls import path

from . import orgs, orgs_shared

urlpatterns = [
    path("orgs/", orgs.tree, name="orgs"),
    path("orgs/talent/", orgs.talent_search, name="org_talent"),
    path("orgs/members/<int:pk>/reveal/", orgs.member_reveal_page, name="org_member_reveal"),
    path("orgs/resources/", orgs_shared.resources, name="org_resources"),
    path("orgs/resources/<int:pk>/", orgs_shared.resource, name="org_resource"),
    path("orgs/projects/", orgs_shared.projects, name="org_projects"),
    path("orgs/projects/<int:pk>/", orgs_shared.project, name="org_project"),
    # Add fixed paths (orgs/resources/…, orgs/projects/…) above this line: the patterns below
    # take any code after orgs/ and must come last.
    path("orgs/<str:code>/", orgs.detail, name="org"),
    path("orgs/<str:code>/meeting/", orgs.meeting_new, name="org_meeting"),
    path("orgs/<str:code>/activity/", orgs.activity_new, name="org_activity"),
]
