"""Every failure is a page in the reader's language, never a stack trace; JSON for machines."""

from __future__ import annotations

from unittest import mock

import pytest
from django.test import Client
from django.urls import reverse

from grassroots.web import errors


def test_it_answers_an_unexpected_error_with_a_friendly_page(world, login, rf):
    request = rf.get("/w/")
    request.user = world.users["worker"]
    response = errors.server_error(request)
    html = response.content.decode()
    assert response.status_code == 500
    assert "Something went wrong on our side" in html
    assert "nothing was half saved" in html and "Traceback" not in html


def test_it_answers_an_unexpected_error_in_the_api_with_json(world, rf):
    request = rf.get("/api/v1/cases")
    response = errors.server_error(request)
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"


def test_a_failing_page_gives_the_500_page_not_the_trace(world, settings):
    """The menu fails on every page, the error page's own included: a plain message still."""
    settings.DEBUG = False
    client = Client(raise_request_exception=False)
    client.force_login(world.users["worker"])
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    with mock.patch("grassroots.web.nav.menu_for", side_effect=RuntimeError("on fire")):
        response = client.get(reverse("worker:home"))
    assert response.status_code == 500
    html = response.content.decode()
    assert "on fire" not in html and "Traceback" not in html
    assert "Something went wrong" in html


@pytest.mark.chinese
def test_it_names_a_missing_page_in_chinese_by_default(world, client):
    response = client.get("/w/nothing-here/")
    assert response.status_code == 404
    assert "页面没有找到" in response.content.decode()


def test_it_refuses_a_page_outside_the_role_with_a_403_page(world, login):
    response = login("worker").get(reverse("console:import"))
    assert response.status_code == 403
    assert "You may not open this page" in response.content.decode()


def test_it_explains_an_expired_form(world, settings):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.users["worker"])
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    response = client.post(reverse("worker:report"), {"description": "x"})
    assert response.status_code == 403
    html = response.content.decode()
    assert "This form has expired" in html and "Reload the page" in html


def test_it_answers_a_bad_request_with_a_page_that_says_so(world, rf):
    request = rf.get("/w/")
    request.user = world.users["worker"]
    response = errors.bad_request(request)
    html = response.content.decode()
    assert response.status_code == 400
    assert "The request could not be understood" in html and "Go back and try again." in html
