"""The OpenAPI document and the interactive docs."""

from __future__ import annotations

from .conftest import API, body

OPERATIONS = {
    ("/api/v1/units", "listUnits"),
    ("/api/v1/units/{code}", "getUnit"),
    ("/api/v1/grids", "listGrids"),
    ("/api/v1/grids/{code}", "getGrid"),
    ("/api/v1/households", "listHouseholds"),
    ("/api/v1/households/{household_id}", "getHousehold"),
    ("/api/v1/residents", "listResidents"),
    ("/api/v1/residents/{resident_id}", "getResident"),
    ("/api/v1/residents/{resident_id}/reveal", "revealResident"),
    ("/api/v1/enterprises", "listEnterprises"),
    ("/api/v1/enterprises/{enterprise_id}", "getEnterprise"),
    ("/api/v1/search", "search"),
    ("/api/v1/imports/{kind}", "importRegistry"),
    ("/api/v1/audit/coverage", "getCoverageAudit"),
    ("/api/v1/audit/events", "listAuditEvents"),
    ("/api/v1/audit/events/{event_id}", "getAuditEvent"),
    ("/api/v1/me", "getMe"),
    ("/api/v1/notifications", "listNotifications"),
    ("/api/v1/notifications/{notification_id}/retry", "retryNotification"),
    ("/api/v1/cases", "listCases"),
    ("/api/v1/cases", "reportCase"),
    ("/api/v1/cases/stats", "caseStats"),
    ("/api/v1/cases/{tracking_code}", "getCase"),
    ("/api/v1/cases/{tracking_code}/actions/{action}", "actOnCase"),
    ("/api/v1/cases/{tracking_code}/photos", "addCasePhotos"),
    ("/api/v1/cases/{tracking_code}/photos/{photo_id}", "getCasePhoto"),
    ("/api/v1/case-categories", "listCaseCategories"),
    ("/api/v1/public/cases", "submitPublicCase"),
    ("/api/v1/public/cases/lookup", "lookupPublicCase"),
    ("/api/v1/public/cases/rating", "ratePublicCase"),
    ("/api/v1/public/cases/reject", "rejectPublicCaseResult"),
    ("/api/v1/cases/{tracking_code}/mediation", "getMediation"),
    ("/api/v1/cases/{tracking_code}/mediation/parties", "addMediationParty"),
    ("/api/v1/cases/{tracking_code}/mediation/sessions", "addMediationSession"),
    ("/api/v1/cases/{tracking_code}/mediation/conclude", "concludeMediation"),
    ("/api/v1/cases/{tracking_code}/assistance", "getAssistance"),
    ("/api/v1/cases/{tracking_code}/assistance/plan", "planAssistance"),
    ("/api/v1/cases/{tracking_code}/assistance/given", "recordAssistanceGiven"),
    ("/api/v1/imports/hotline", "importHotline"),
    # Party organizations (orgs/api.py).
    ("/api/v1/orgs/organizations", "listOrganizations"),
    ("/api/v1/orgs/organizations/{code}", "getOrganization"),
    ("/api/v1/orgs/organizations/{code}/life", "getOrganizationLife"),
    ("/api/v1/orgs/organizations/{code}/meetings", "recordMeeting"),
    ("/api/v1/orgs/members", "listMembers"),
    ("/api/v1/orgs/members/{member_id}", "getMember"),
    ("/api/v1/orgs/members/{member_id}/reveal", "revealMember"),
    ("/api/v1/orgs/meetings", "listMeetings"),
    ("/api/v1/orgs/meetings/{meeting_id}", "getMeeting"),
    ("/api/v1/orgs/meetings/{meeting_id}/photos", "addMeetingPhotos"),
    ("/api/v1/orgs/photos/{photo_id}", "getOrgPhoto"),
    ("/api/v1/orgs/activities", "listActivities"),
    ("/api/v1/orgs/activities", "recordActivity"),
    ("/api/v1/orgs/activities/{activity_id}", "getActivity"),
    ("/api/v1/orgs/talent", "searchTalent"),
    ("/api/v1/orgs/alliances", "listAlliances"),
    # Shared resources and joint projects (orgs/api_shared.py).
    ("/api/v1/orgs/resources", "listSharedResources"),
    ("/api/v1/orgs/resources/{resource_id}", "getSharedResource"),
    ("/api/v1/orgs/resources/{resource_id}/bookings", "listResourceBookings"),
    ("/api/v1/orgs/resources/{resource_id}/bookings", "bookSharedResource"),
    ("/api/v1/orgs/bookings/{booking_id}", "cancelBooking"),
    ("/api/v1/orgs/projects", "listJointProjects"),
    ("/api/v1/orgs/projects/{project_id}", "getJointProject"),
    ("/api/v1/orgs/projects/{project_id}/milestones", "addProjectMilestone"),
    ("/api/v1/orgs/projects/{project_id}/incomes", "recordProjectIncome"),
}
# Operations open to anyone (the public portal): no credentials, so no 401/403.
PUBLIC = {
    "listCaseCategories",
    "submitPublicCase",
    "lookupPublicCase",
    "ratePublicCase",
    "rejectPublicCaseResult",
}


def test_it_serves_the_openapi_document(db, client):
    response = client.get(API + "/openapi.json")
    assert response.status_code == 200
    doc = body(response)
    assert doc["info"]["title"] == "Grassroots API"
    assert "Bearer" in doc["info"]["description"]
    operations = {
        (path, op["operationId"]) for path, item in doc["paths"].items() for op in item.values()
    }
    assert operations == OPERATIONS
    for item in doc["paths"].values():
        for op in item.values():
            assert op["tags"], op["operationId"]
            assert op["summary"], op["operationId"]
            if op["operationId"] in PUBLIC:
                assert not op.get("security"), op["operationId"]
                continue
            assert {"200", "401", "403", "404", "422"} <= set(op["responses"])
            assert op["security"], op["operationId"]


def test_it_documents_bearer_and_session_authentication(db, client):
    schemes = body(client.get(API + "/openapi.json"))["components"]["securitySchemes"]
    assert {s["type"] for s in schemes.values()} == {"http", "apiKey"}
    assert any(s.get("scheme") == "bearer" for s in schemes.values())


def test_it_documents_masked_fields_only(db, client):
    schemas = body(client.get(API + "/openapi.json"))["components"]["schemas"]
    resident = schemas["ResidentOut"]["properties"]
    assert "Masked" in resident["id_number"]["description"]
    assert "Masked" in resident["phone"]["description"]
    assert "id_number_masked" not in resident
    assert "contact_phone" in schemas["EnterpriseOut"]["properties"]


def test_it_serves_the_docs_page(db, client):
    response = client.get(API + "/docs")
    assert response.status_code == 200
    assert b"openapi.json" in response.content


def test_it_answers_json_for_an_unknown_api_path(client):
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found"}


def test_it_serves_the_docs_page_without_a_cdn(client):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    assert b"cdn.jsdelivr.net" not in response.content
