"""Two-factor sign-in: TOTP codes after the password, enrolment, throttling and enforcement."""

from __future__ import annotations

import io
import re
import time
from base64 import b32encode
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from grassroots.accounts.models import ApiToken
from grassroots.audit.models import Event
from tests import factories as f

VERIFY = "/account/two-factor/"
ENROL = "/account/two-factor/enrol/"
WRONG = "Wrong code. Enter the current code from your app, and check that the time on your phone is right."
REPLAYED = "This code has already been used. Wait for the next code in your app."
FORMAT = "Enter the 6-digit code from your authenticator app."
UNFINISHED = {
    "detail": "Two-factor sign-in not finished: enter your authenticator code in the browser"
    " first, or use an API token"
}


def code(device, steps=0):
    """The code `device`'s app shows now (or `steps` time steps later)."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + steps * device.step
    return f"{totp.token():0{device.digits}d}"


def wrong_code(device):
    valid = {code(device, steps) for steps in range(-3, 4)}
    return next(c for c in ("123456", "654321", "111111", "222222") if c not in valid)


def device_for(user):
    return TOTPDevice.objects.create(user=user, name="phone", confirmed=True)


@pytest.fixture
def browser():
    """A browser that reads pages in English, like the rest of the suite."""
    client = Client()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def sign_in(client, name, next_url="/admin/"):
    response = client.post(
        f"/admin/login/?next={next_url}",
        {"username": name, "password": f"pw-{name}-Long1!"},
    )
    assert response.status_code == 302 and response["Location"] == next_url
    return response


def html(response):
    return response.content.decode()


@pytest.mark.parametrize("persona", ["admin", "auditor"])
def test_it_keeps_a_required_role_without_a_device_on_the_enrolment_page(world, browser, persona):
    sign_in(browser, persona)
    for path in ("/admin/", "/", "/audit/coverage/", "/admin/login/"):
        response = browser.get(path)
        assert response.status_code == 302, path
        assert response["Location"] == f"{ENROL}?next={path}", path
    assert browser.get(VERIFY)["Location"] == f"{ENROL}?next=/"
    response = browser.get("/api/v1/me")
    assert response.status_code == 403 and response.json() == UNFINISHED
    # A form posted anywhere else is refused as well, and changes nothing.
    response = browser.post("/admin/registry/household/add/", {"code": "HX-1"})
    assert response.status_code == 302 and response["Location"].startswith(ENROL)
    assert response["Location"] == f"{ENROL}?next=/"


def test_it_shows_the_secret_as_inline_svg_and_text(world, browser):
    sign_in(browser, "admin")
    response = browser.get(f"{ENROL}?next=/admin/")
    page = html(response)
    device = TOTPDevice.objects.get(user=world.users["admin"])
    assert device.confirmed is False
    secret = b32encode(device.bin_key).decode()
    assert " ".join(secret[i : i + 4] for i in range(0, 32, 4)) in page
    assert "Your role requires two-factor sign-in. Set it up now to continue." in page
    assert re.search(r'<div class="grassroots-qr"[^>]*><svg [^>]*viewBox=', page)
    assert "<path d=" in page
    # Under our Content-Security-Policy: no inline script, no data: image.
    assert "data:" not in page
    assert not re.search(r"<script(?![^>]*\bsrc=)", page)
    assert "script-src 'self'" in response["Content-Security-Policy"]
    # Reloading keeps the same secret, so a scanned code stays valid.
    browser.get(ENROL)
    assert TOTPDevice.objects.get(user=world.users["admin"]).key == device.key


def test_it_enrols_with_a_correct_code(world, browser):
    sign_in(browser, "admin")
    browser.get(ENROL)
    device = TOTPDevice.objects.get(user=world.users["admin"])
    response = browser.post(ENROL, {"code": code(device), "next": "/admin/"})
    assert response.status_code == 302 and response["Location"] == "/admin/"
    device.refresh_from_db()
    assert device.confirmed is True
    event = Event.objects.get(changes__has_key="two_factor_devices")
    assert (event.actor_name, event.channel, event.object_id) == (
        "admin",
        "web",
        str(world.users["admin"].pk),
    )
    assert event.changes == {"two_factor_devices": [0, 1]}
    response = browser.get("/admin/")
    assert response.status_code == 200
    assert "Two-factor sign-in is set up. From now on, give a code after your password." in html(
        response
    )
    assert browser.get("/").status_code == 200
    assert browser.get("/api/v1/me").json()["username"] == "admin"
    # Once set up, the page says so instead of offering a new secret.
    page = html(browser.get(ENROL))
    assert (
        "Two-factor sign-in is on for your account." in page and 'class="grassroots-qr"' not in page
    )


def test_it_refuses_a_wrong_code_at_enrolment(world, browser):
    sign_in(browser, "auditor")
    browser.get(ENROL)
    device = TOTPDevice.objects.get(user=world.users["auditor"])
    response = browser.post(ENROL, {"code": wrong_code(device)})
    assert response.status_code == 200 and WRONG in html(response)
    device.refresh_from_db()
    assert device.confirmed is False and device.throttling_failure_count == 1
    assert browser.get("/admin/")["Location"].startswith(ENROL)


@pytest.mark.parametrize("typed", ["", "12345", "12a456", "1234567"])
def test_it_asks_for_six_digits_without_counting_a_failure(world, browser, typed):
    device = device_for(world.users["admin"])
    sign_in(browser, "admin")
    response = browser.post(VERIFY, {"code": typed})
    assert response.status_code == 200 and FORMAT in html(response)
    device.refresh_from_db()
    assert device.throttling_failure_count == 0


def test_it_asks_a_user_with_a_device_for_the_code_at_sign_in(world, browser):
    device = device_for(world.users["admin"])
    sign_in(browser, "admin")
    response = browser.get("/admin/")
    assert response.status_code == 302 and response["Location"] == f"{VERIFY}?next=/admin/"
    page = html(browser.get(response["Location"]))
    assert "Signed in as admin." in page and 'name="next" value="/admin/"' in page
    assert browser.get("/api/v1/me").status_code == 403
    # The password alone cannot set up another phone.
    assert browser.get(ENROL)["Location"] == f"{VERIFY}?next=/"
    assert browser.post(ENROL, {"code": "123456"})["Location"] == f"{VERIFY}?next=/"
    assert list(TOTPDevice.objects.all()) == [device]
    # The code in the app's display format ("123 456") is accepted.
    typed = code(device)
    response = browser.post(VERIFY, {"code": f"{typed[:3]} {typed[3:]}", "next": "/admin/"})
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert browser.get("/admin/").status_code == 200
    assert browser.get("/api/v1/me").status_code == 200


def test_it_refuses_a_replayed_code(world, browser):
    device = device_for(world.users["admin"])
    sign_in(browser, "admin")
    used = code(device)
    assert browser.post(VERIFY, {"code": used})["Location"] == "/"
    other = Client()
    other.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    sign_in(other, "admin")
    response = other.post(VERIFY, {"code": used})
    assert response.status_code == 200 and REPLAYED in html(response)
    assert other.get("/admin/")["Location"].startswith(VERIFY)


def test_it_throttles_wrong_codes(world, browser):
    device = device_for(world.users["admin"])
    sign_in(browser, "admin")
    assert WRONG in html(browser.post(VERIFY, {"code": wrong_code(device)}))
    device.refresh_from_db()
    assert device.throttling_failure_count == 1
    TOTPDevice.objects.filter(pk=device.pk).update(
        throttling_failure_count=4, throttling_failure_timestamp=timezone.now()
    )
    # While throttled even the right code is refused, with how long to wait.
    response = browser.post(VERIFY, {"code": code(device)})
    assert re.search(
        r"Too many wrong codes\. Wait [5-8] seconds, then enter the current code\.", html(response)
    )
    assert browser.get("/admin/")["Location"].startswith(VERIFY)
    TOTPDevice.objects.filter(pk=device.pk).update(
        throttling_failure_timestamp=timezone.now() - timedelta(minutes=1)
    )
    assert browser.post(VERIFY, {"code": code(device)})["Location"] == "/"
    device.refresh_from_db()
    assert device.throttling_failure_count == 0


def test_it_asks_a_voluntary_grid_worker_with_a_device_for_the_code(world, browser):
    device = device_for(world.users["worker"])
    sign_in(browser, "worker", "/")
    assert browser.get("/")["Location"] == f"{VERIFY}?next=/"
    assert browser.get("/api/v1/me").json() == UNFINISHED
    assert browser.post(VERIFY, {"code": code(device)})["Location"] == "/"
    assert browser.get("/").status_code == 200


def test_it_signs_in_a_grid_worker_without_a_device_with_the_password(world, browser):
    sign_in(browser, "worker", "/")
    assert browser.get("/").status_code == 200
    assert browser.get("/admin/").status_code == 200
    assert browser.get("/api/v1/me").json()["username"] == "worker"
    assert not TOTPDevice.objects.exists()


def test_it_lets_a_grid_worker_enrol_voluntarily(world, browser):
    sign_in(browser, "worker", "/")
    page = html(browser.get(ENROL))
    assert "With two-factor sign-in, a stolen password alone is not enough" in page
    assert "Your role requires" not in page
    device = TOTPDevice.objects.get(user=world.users["worker"])
    assert browser.post(ENROL, {"code": code(device)})["Location"] == "/"
    assert browser.get("/").status_code == 200
    # From the next sign-in on, the code is asked for.
    again = Client()
    sign_in(again, "worker", "/")
    assert again.get("/")["Location"] == f"{VERIFY}?next=/"


def test_it_keeps_bearer_tokens_working_without_a_second_factor(world, browser):
    _row, token = ApiToken.issue(world.users["admin"])
    headers = {"Authorization": f"Bearer {token}"}
    response = Client().get("/api/v1/me", headers=headers)
    assert response.status_code == 200 and response.json()["username"] == "admin"
    # Also next to a session that still owes its code.
    sign_in(browser, "admin")
    assert browser.get("/api/v1/me", headers=headers).json()["username"] == "admin"
    response = browser.get("/api/v1/me", headers={"Authorization": "Bearer gr_wrong"})
    assert response.status_code == 401


def test_it_lets_an_unverified_session_switch_language_load_styles_and_log_out(world, browser):
    sign_in(browser, "admin")
    response = browser.post("/i18n/setlang/", {"language": "zh-hans", "next": ENROL})
    assert response.status_code == 302 and response["Location"] == ENROL
    assert browser.get("/static/admin/css/base.css").status_code == 200
    assert browser.post("/admin/logout/").status_code == 200
    assert "_auth_user_id" not in browser.session
    assert browser.get(VERIFY)["Location"].startswith("/admin/login/")


def test_it_requires_two_factor_of_superusers(world, browser):
    f.user("root", "", is_superuser=True)
    sign_in(browser, "root")
    assert browser.get("/admin/")["Location"].startswith(ENROL)


def test_it_takes_the_required_roles_from_the_settings(world, browser, settings):
    settings.OTP_REQUIRED_ROLES = ["grid_worker"]
    sign_in(browser, "worker", "/")
    assert browser.get("/")["Location"].startswith(ENROL)
    other = Client()
    sign_in(other, "admin")
    assert other.get("/admin/").status_code == 200


def test_it_ignores_a_next_address_on_another_site(world, browser):
    device = device_for(world.users["admin"])
    sign_in(browser, "admin")
    response = browser.post(VERIFY, {"code": code(device), "next": "https://evil.example/"})
    assert response["Location"] == "/"


def test_it_sends_a_reset_user_back_to_enrolment(world, browser):
    device = device_for(world.users["admin"])
    sign_in(browser, "admin")
    browser.post(VERIFY, {"code": code(device)})
    assert browser.get("/admin/").status_code == 200
    call_command("users", "otp-reset", "admin", stdout=io.StringIO())
    assert browser.get("/admin/")["Location"].startswith(ENROL)
