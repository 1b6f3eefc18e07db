"""Credentials leave a trace (issue 11, item 4): every password change, reset, two-factor reset
and deactivation is in the audit trail (who, whom, when — never the password); a reset by
someone else ends the target's sessions and tokens; only a superuser changes an auditor's."""

from __future__ import annotations

import io
import json

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from grassroots.accounts.models import ApiToken, User
from grassroots.audit.context import acting
from grassroots.audit.models import Event
from tests import factories as f

NEW_PASSWORD = "Quite-New-Password-42"


def _password_page(user):
    return reverse("admin:auth_user_password_change", args=[user.pk])


def _credential_events(user):
    return list(
        Event.objects.filter(
            action=Event.Action.CREDENTIALS, object_type="accounts.user", object_id=str(user.pk)
        ).order_by("pk")
    )


def _signed_in(user):
    client = Client()
    client.force_login(user)
    return client


def _no_secret_in(event, *secrets):
    text = json.dumps(
        {k: getattr(event, k) for k in ("changes", "reason", "object_repr")}, ensure_ascii=False
    )
    for secret in secrets:
        assert secret not in text


def test_it_records_a_reset_by_an_administrator_and_ends_the_targets_access(world, login):
    worker = world.users["worker"]
    _row, token = ApiToken.issue(worker)
    session = _signed_in(worker)
    assert session.get("/w/").status_code == 200
    response = login("admin").post(
        _password_page(worker),
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"},
        REMOTE_ADDR="192.0.2.9",
    )
    assert response.status_code == 302
    [event] = _credential_events(worker)
    assert event.actor_name == "admin" and event.actor_id == world.users["admin"].pk
    assert event.channel == "web" and event.address == "192.0.2.9"
    assert event.changes == {"password": "reset by another user", "api_tokens_revoked": 1}
    worker.refresh_from_db()
    _no_secret_in(event, NEW_PASSWORD, worker.password)
    # The worker's token and session are gone.
    assert (
        Client().get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    )
    assert session.get("/w/").status_code == 302
    assert worker.check_password(NEW_PASSWORD)


def test_it_records_the_users_own_change_and_keeps_their_access(world, login):
    secretary = world.users["secretary"]
    _row, token = ApiToken.issue(secretary)
    client = login("secretary")
    response = client.post(
        reverse("admin:password_change"),
        {
            "old_password": "pw-secretary-Long1!",
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        },
    )
    assert response.status_code == 302
    [event] = _credential_events(secretary)
    assert event.actor_name == "secretary"
    assert event.changes == {"password": "changed by the user"}
    assert client.get("/").status_code == 200  # their own session goes on
    response = Client().get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200


def test_it_records_a_disabled_password(world, login):
    worker = world.users["worker"]
    response = login("admin").post(
        _password_page(worker), {"usable_password": "false", "unset-password": "1"}
    )
    assert response.status_code == 302
    worker.refresh_from_db()
    assert not worker.has_usable_password()
    [event] = _credential_events(worker)
    assert event.changes == {"password": "disabled", "api_tokens_revoked": 0}


@pytest.mark.parametrize("admin_persona", ["admin", "official"])
def test_only_a_superuser_changes_an_auditors_credentials(world, login, admin_persona):
    auditor = world.users["auditor"]
    client = login(admin_persona)
    if admin_persona == "official":
        world.users["official"].user_permissions.add(
            *__import__(
                "django.contrib.auth.models", fromlist=["Permission"]
            ).Permission.objects.filter(codename__in=["change_user", "view_user"])
        )
    response = client.post(
        _password_page(auditor),
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"},
    )
    assert response.status_code in (403, 404)
    assert client.get(_password_page(auditor)).status_code in (403, 404)
    auditor.refresh_from_db()
    assert not auditor.check_password(NEW_PASSWORD) and auditor.is_active
    assert _credential_events(auditor) == []
    # Their account page is read-only, and a changed form is refused.
    change = reverse("admin:accounts_user_change", args=[auditor.pk])
    response = client.post(change, {"username": "auditor", "is_active": ""})
    assert response.status_code in (403, 404)
    auditor.refresh_from_db()
    assert auditor.is_active


def test_a_superuser_may_reset_an_auditors_password(world, login):
    root = f.user("root", "", is_superuser=True)
    auditor = world.users["auditor"]
    response = login(root).post(
        _password_page(auditor),
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"},
    )
    assert response.status_code == 302
    [event] = _credential_events(auditor)
    assert event.actor_name == "root"
    assert event.changes["password"] == "reset by another user"


def test_the_model_refuses_a_guarded_change_from_any_door(world):
    auditor = world.users["auditor"]
    with acting(user=world.users["admin"]):
        auditor.set_password(NEW_PASSWORD)
        with pytest.raises(PermissionDenied, match="Only a superuser"):
            auditor.save()
        auditor.refresh_from_db()
        auditor.is_active = False
        with pytest.raises(PermissionDenied):
            auditor.save()
    assert User.objects.get(pk=auditor.pk).is_active


def test_it_records_a_deactivation_and_revokes_the_tokens(world, login):
    worker = world.users["worker"]
    _row, token = ApiToken.issue(worker)
    client = login("admin")
    page = client.get(reverse("admin:accounts_user_change", args=[worker.pk]))
    assert page.status_code == 200
    with acting(user=world.users["admin"]):
        worker.is_active = False
        worker.save()
    [event] = _credential_events(worker)
    assert event.actor_name == "admin"
    assert event.changes == {"account": "deactivated", "api_tokens_revoked": 1}
    worker.is_active = True
    worker.save()  # reactivation does not bring the token back
    response = Client().get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


def test_the_command_line_password_change_is_recorded(world, monkeypatch):
    worker = world.users["worker"]
    _row, token = ApiToken.issue(worker)
    monkeypatch.setattr("getpass.getpass", lambda prompt="": NEW_PASSWORD)
    call_command("changepassword", "worker", stdout=io.StringIO())
    [event] = _credential_events(worker)
    assert event.channel == "command" and event.actor_name.startswith("os:")
    assert event.changes == {"password": "reset by another user", "api_tokens_revoked": 1}


def test_a_rehash_at_sign_in_is_not_a_password_change(world, settings):
    worker = world.users["worker"]
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.MD5PasswordHasher",
    ]
    assert worker.check_password("pw-worker-Long1!")  # upgraded from MD5 and saved
    assert worker.password.startswith("pbkdf2_")
    assert _credential_events(worker) == []


def test_two_factor_resets_are_recorded_from_the_command_and_the_admin(world, login):
    admin_user = world.users["admin"]
    TOTPDevice.objects.create(user=admin_user, name="phone", confirmed=True)
    call_command("users", "otp-reset", "admin", stdout=io.StringIO())
    [event] = _credential_events(admin_user)
    assert event.changes == {"two_factor_devices": [1, 0]}
    device = TOTPDevice.objects.create(user=admin_user, name="phone", confirmed=True)
    root = f.user("root", "", is_superuser=True)
    response = login(root).post(
        reverse("admin:otp_totp_totpdevice_delete", args=[device.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    last = _credential_events(admin_user)[-1]
    assert last.actor_name == "root" and last.changes == {"two_factor_devices": [1, 0]}
