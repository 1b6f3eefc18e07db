"""Fixtures for the web tests: compiled messages and clients logged in as the personas."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polib
import pytest
from django.conf import settings
from django.test import Client, override_settings
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from grassroots.accounts.two_factor import otp_required
from tests.api.conftest import enterprises  # noqa: F401  (a company in each town)
from tests.cases.conftest import report  # noqa: F401  (cases reported through the service)

LOCALE_DIR = Path(settings.PACKAGE_DIR) / "locale"


def compile_messages() -> None:
    """Compile each .po whose .mo is missing or older (what `make messages` does).

    Compiled messages are build output, not kept in git; the web tests render translated
    pages, so they make sure the catalogs are there and current before they run.
    """
    changed = False
    for po in LOCALE_DIR.glob("*/LC_MESSAGES/*.po"):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        staged = mo.with_name(f".{mo.name}.{os.getpid()}")
        polib.pofile(str(po)).save_as_mofile(str(staged))
        staged.replace(mo)  # atomic: another test run may read it meanwhile
        changed = True
    if changed:
        # Drop catalogs loaded before the compilation (Django resets them on this setting).
        with override_settings(LOCALE_PATHS=list(settings.LOCALE_PATHS)):
            pass


@pytest.fixture(scope="session", autouse=True)
def compiled_messages() -> None:
    compile_messages()


def verify_two_factor(client: Client, user: Any) -> Any:
    """Mark the client's session as having given a TOTP code (a confirmed device for `user`).

    The admin and auditor personas (and superusers) must use two-factor sign-in; tests that are
    not about sign-in start from a verified session, as after the code page.
    """
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="test", confirmed=True)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return device


@pytest.fixture
def login(world: Any, request: Any) -> Callable[[Any], Client]:
    """A client logged in as one of the world's personas (or any user passed in).

    Like the rest of the suite it reads pages in English (a language cookie); tests marked
    `chinese` get the default language.
    """
    english = request.node.get_closest_marker("chinese") is None

    def client_for(who: Any) -> Client:
        user = world.users[who] if isinstance(who, str) else who
        client = Client()
        client.force_login(user)
        if otp_required(user):
            verify_two_factor(client, user)
        if english:
            client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
        return client

    return client_for
