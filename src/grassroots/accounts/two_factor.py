"""Two-factor sign-in with TOTP codes (django-otp): who must use it, enrolment, checks, reset.

A user whose role is in settings.OTP_REQUIRED_ROLES, and every superuser, must have a confirmed
authenticator and give a code after the password. Anyone else may enrol; from then on they give
a code too. middleware.TwoFactorMiddleware enforces it; views.py holds the two pages.
"""

from __future__ import annotations

import math
import time
from base64 import b32encode
from dataclasses import dataclass
from typing import Any

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django_otp import devices_for_user, user_has_device
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from grassroots.audit import services as audit
from grassroots.audit.models import Event


def otp_required(user: Any) -> bool:
    """Whether `user` may not work without a second factor (their role, or superuser)."""
    return bool(user.is_superuser or getattr(user, "role", "") in settings.OTP_REQUIRED_ROLES)


def has_confirmed_device(user: Any) -> bool:
    return bool(user_has_device(user, confirmed=True))


# The API's answer (403) to a session that owes its code.
UNFINISHED = (
    "Two-factor sign-in not finished: enter your authenticator code in the browser first,"
    " or use an API token"
)
# Session key: the user (pk) found without a confirmed device when this session began.
_NO_DEVICE_KEY = "two_factor_no_device"


def owes_second_factor(request: Any) -> bool:
    """Whether the session of `request` signed in with the password but still owes its code.

    True for a user who is not verified by django-otp and either must use two-factor sign-in or
    has a confirmed device. The middleware confines such a session to the two-factor pages and
    the API refuses it too: no door may serve it, whatever headers come with the request.
    """
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return False
    is_verified = getattr(user, "is_verified", None)
    if is_verified is not None and is_verified():
        return False
    if otp_required(user):
        return True
    return _has_device_cached(request, user)


def owes_enrolment(user: Any) -> bool:
    """Whether a session owing its code must first set up an authenticator (no device yet)."""
    return not has_confirmed_device(user)


def _has_device_cached(request: Any, user: Any) -> bool:
    """Whether a user who may go without two-factor has a device, looked up once a session.

    Only "no device" is remembered: a device confirmed later, elsewhere, is asked for at the
    next sign-in (enrolling in this session verifies it at once).
    """
    session = getattr(request, "session", None)
    if session is not None and session.get(_NO_DEVICE_KEY) == user.pk:
        return False
    if has_confirmed_device(user):
        return True
    if session is not None:
        session[_NO_DEVICE_KEY] = user.pk
    return False


def enrolment_device(*, user: Any) -> TOTPDevice:
    """The authenticator being set up for `user`: unconfirmed until a first code matches.

    The same secret is kept until then, so reloading the page does not change the QR code.
    """
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=False)
    return device


def secret_text(device: TOTPDevice) -> str:
    """The base32 secret in groups of four, for typing into an app that cannot scan."""
    secret = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def qr_code_svg(text: str) -> str:
    """`text` as a QR code in inline SVG markup (no image file, no data: URI, no script)."""
    image = qrcode.make(
        text,
        image_factory=qrcode.image.svg.SvgPathFillImage,
        error_correction=qrcode.constants.ERROR_CORRECT_M,
    )
    return str(image.to_string(encoding="unicode"))


@dataclass(frozen=True)
class _Outcome:
    verified: TOTPDevice | None  # the device, as saved after accepting the code
    replayed: bool = False
    wait_seconds: int = 0


def _check(device: TOTPDevice, code: str) -> _Outcome:
    # Locked row: two requests with the same code cannot both pass.
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().get(pk=device.pk)
        allowed, info = device.verify_is_allowed()
        if not allowed:
            until = (info or {}).get("locked_until") or timezone.now()
            wait = math.ceil((until - timezone.now()).total_seconds())
            return _Outcome(None, wait_seconds=max(wait, 1))
        # verify_token refuses a code at or before the last one used, and counts every
        # refusal towards the device's throttle (waits of 1, 2, 4, 8... seconds).
        if device.verify_token(code):
            return _Outcome(device)
    # Refused: say so when the code was right but used before (signing in twice in a row).
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time()
    replayed = code.isdigit() and bool(totp.verify(int(code), device.tolerance))
    return _Outcome(None, replayed=replayed)


def totp_verify(*, user: Any, code: str, confirmed: bool = True) -> TOTPDevice:
    """The device of `user` that accepts `code`; a ValidationError with the reason otherwise.

    `confirmed=False` checks the authenticator being enrolled instead of the confirmed ones.
    """
    devices = list(devices_for_user(user, confirmed=confirmed))
    outcomes = []
    for device in devices:
        if not isinstance(device, TOTPDevice):
            continue
        outcome = _check(device, code)
        if outcome.verified is not None:
            return outcome.verified
        outcomes.append(outcome)
    waits = [o.wait_seconds for o in outcomes if o.wait_seconds]
    if outcomes and len(waits) == len(outcomes):
        seconds = min(waits)
        raise ValidationError(
            ngettext(
                "Too many wrong codes. Wait %(seconds)d second, then enter the current code.",
                "Too many wrong codes. Wait %(seconds)d seconds, then enter the current code.",
                seconds,
            )
            % {"seconds": seconds},
            code="throttled",
        )
    if any(o.replayed for o in outcomes):
        raise ValidationError(
            _("This code has already been used. Wait for the next code in your app."),
            code="replayed",
        )
    raise ValidationError(
        _(
            "Wrong code. Enter the current code from your app, and check that the time on"
            " your phone is right."
        ),
        code="wrong",
    )


def totp_enrol_confirm(*, user: Any, code: str) -> TOTPDevice:
    """Confirm the authenticator being set up with a first valid code; drop any other."""
    device = totp_verify(user=user, code=code, confirmed=False)
    with transaction.atomic():
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
        record_devices_change(user, 0, 1)
    return device


def record_devices_change(user: Any, before: int, after: int) -> None:
    """A change of `user`'s two-factor devices in the audit trail (a reset when after is 0)."""
    if before == after:
        return
    # On the user, by count: a device's own fields include its secret key.
    audit.record(
        Event.Action.CREDENTIALS,
        object_type=audit.object_type(user),
        object_id=user.pk,
        object_repr=audit.label(user),
        scope_code=audit.scope_of(user),
        changes={"two_factor_devices": [before, after]},
    )


def otp_devices_reset(*, user: Any) -> int:
    """Remove every two-factor device of `user` (lost phone); returns how many.

    Sessions verified with a removed device stop being verified on their next request.
    """
    devices = list(devices_for_user(user, confirmed=None))
    with transaction.atomic():
        for device in devices:
            device.delete()
        if devices:
            record_devices_change(user, len(devices), 0)
    return len(devices)
