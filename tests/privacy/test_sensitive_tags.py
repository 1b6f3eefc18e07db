"""Sensitive tags (特殊人群) are absent, not masked, for everyone without the explicit grant."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from tests.api.conftest import body

SENSITIVE = "社区矫正"
CARE = "低保"


@pytest.fixture
def tagged(world):
    resident = world.residents["赵光菊"]
    resident.tags = f"|{SENSITIVE}|{CARE}|"
    resident.save()
    household = world.households["HA11-1"]
    household.tags = f"|{SENSITIVE}|"
    household.save()
    return resident, household


def grant(user):
    user.user_permissions.add(
        Permission.objects.get(codename="view_sensitive_tags", content_type__app_label="registry")
    )


@pytest.mark.parametrize("persona", ["admin", "official", "secretary", "worker", "auditor"])
def test_no_role_sees_them_without_the_grant(world, tagged, as_, persona):
    resident, household = tagged
    for path in (
        f"/residents/{resident.pk}",
        "/residents",
        f"/households/{household.pk}",
        "/households",
        "/search?q=zgj",
    ):
        response = as_(persona).get(path)
        assert response.status_code == 200, path
        assert SENSITIVE not in response.content.decode(), path
    assert body(as_(persona).get(f"/residents/{resident.pk}"))["tags"] == [CARE]


def test_a_filter_on_a_sensitive_tag_is_refused_like_an_unknown_tag(world, tagged, as_):
    for path in ("/residents", "/households"):
        response = as_("admin").get(path, tag=SENSITIVE)
        assert response.status_code == 422
        [error] = body(response)["errors"]
        assert error["field"] == "tag"
        # The same refusal as a tag that does not exist; the list of known tags offered in
        # the message leaves the sensitive ones out.
        unknown = body(as_("admin").get(path, tag="不存在"))["errors"][0]["reason"]
        assert error["reason"].replace(SENSITIVE, "不存在") == unknown
        assert error["reason"].count(SENSITIVE) == 1  # only the echo of what was asked
        assert CARE in error["reason"]


def test_the_explicit_grant_shows_them(world, tagged, as_):
    resident, _household = tagged
    grant(world.users["secretary"])
    data = body(as_("secretary").get(f"/residents/{resident.pk}"))
    assert sorted(data["tags"]) == sorted([SENSITIVE, CARE])
    listed = body(as_("secretary").get("/residents", tag=SENSITIVE))
    assert [r["id"] for r in listed["items"]] == [resident.pk]
    # The grant does not widen the scope.
    grant(world.users["outsider"])
    assert body(as_("outsider").get("/residents", tag=SENSITIVE))["count"] == 0


def test_the_admin_lists_and_forms_leave_them_out(world, tagged, login):
    resident, _household = tagged
    client = login("admin")
    listing = client.get(reverse("admin:registry_resident_changelist")).content.decode()
    change = client.get(
        reverse("admin:registry_resident_change", args=[resident.pk])
    ).content.decode()
    assert SENSITIVE not in listing and SENSITIVE not in change
    assert CARE in listing
    grant(world.users["admin"])
    assert (
        SENSITIVE
        in login("admin").get(reverse("admin:registry_resident_changelist")).content.decode()
    )


def test_saving_the_form_without_the_grant_keeps_the_hidden_tags(world, tagged, login):
    resident, _household = tagged
    url = reverse("admin:registry_resident_change", args=[resident.pk])
    response = login("secretary").post(
        url,
        {
            "name": resident.name,
            "id_number": "",
            "phone": "",
            "household": resident.household_id,
            "relation": resident.relation,
            "residency": resident.residency,
            "unit": resident.unit_id,
            "tags": [],
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    resident.refresh_from_db()
    assert resident.tag_list == [SENSITIVE]


def test_the_audit_trail_leaves_them_out_for_readers_without_the_grant(world, tagged, as_, login):
    from io import StringIO

    from django.core.management import call_command

    from grassroots.audit.models import Event
    from grassroots.audit.services import created

    resident, _household = tagged
    event = created(resident)
    # Split when written: the public event without the sensitive tag, and one marked sensitive.
    assert event.changes["tags"] == [None, f"|{CARE}|"] and not event.sensitive
    secret = Event.objects.get(sensitive=True, object_id=str(resident.pk))
    assert secret.changes == {"tags": [None, f"|{SENSITIVE}|{CARE}|"]}  # as stored
    assert body(as_("auditor").get(f"/audit/events/{secret.pk}")) == {"detail": "Not found"}
    api = body(as_("auditor").get(f"/audit/events/{event.pk}"))
    assert api["changes"]["tags"] == [None, f"|{CARE}|"]
    listed = json.dumps(body(as_("auditor").get("/audit/events")), ensure_ascii=False)
    page = login("auditor").get(reverse("audit_log")).content.decode()
    admin_page = (
        login("auditor").get(reverse("admin:audit_event_change", args=[event.pk])).content.decode()
    )
    out = StringIO()
    call_command("audit", "log", "--as-user", "auditor", "--json", stdout=out)
    for text in (listed, page, admin_page, out.getvalue()):
        assert SENSITIVE not in text and CARE in text
    # The operator's command (no --as-user) and a granted reader see the record as it is.
    out = StringIO()
    call_command("audit", "log", "--json", stdout=out)
    assert SENSITIVE in out.getvalue()
    grant(world.users["auditor"])
    shown = body(as_("auditor").get(f"/audit/events/{secret.pk}"))["changes"]["tags"][1]
    assert SENSITIVE in shown and CARE in shown
    assert Event.objects.filter(pk=event.pk).exists()
