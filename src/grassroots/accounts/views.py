"""The two-factor pages: the code after the password, and setting up an authenticator app."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from .forms import TotpCodeForm
from .two_factor import (
    enrolment_device,
    has_confirmed_device,
    otp_required,
    qr_code_svg,
    secret_text,
    totp_enrol_confirm,
    totp_verify,
)


def _next_url(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return str(settings.LOGIN_REDIRECT_URL)


def _page(request: HttpRequest, title: str, **extra: Any) -> dict[str, Any]:
    # The admin's look without its navigation: this session may not reach the admin yet.
    return {
        "site_title": admin.site.site_title,
        "site_header": admin.site.site_header,
        "site_url": admin.site.site_url,
        "has_permission": False,
        "is_nav_sidebar_enabled": False,
        "is_popup": False,
        "title": title,
        "next": _next_url(request),
        **extra,
    }


def _verified(request: HttpRequest, device: TOTPDevice) -> None:
    # A new session key for the more trusted session, as Django does at sign-in.
    request.session.cycle_key()
    otp_login(request, device)


@never_cache
@login_required
def verify(request: HttpRequest) -> HttpResponse:
    """After the password: the code from the user's authenticator app."""
    user: Any = request.user
    next_url = _next_url(request)
    if user.is_verified():
        return redirect(next_url)
    if not has_confirmed_device(user):
        return redirect_to_login(next_url, reverse("two_factor_enrol"))
    form = TotpCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            device = totp_verify(user=user, code=form.cleaned_data["code"])
        except ValidationError as exc:
            form.add_error("code", exc)
        else:
            _verified(request, device)
            return redirect(next_url)
    context = _page(request, _("Two-factor sign-in"), form=form)
    return render(request, "accounts/two_factor_verify.html", context)


@never_cache
@login_required
def enrol(request: HttpRequest) -> HttpResponse:
    """Set up an authenticator app: scan the QR code (or type the secret), confirm a code."""
    user: Any = request.user
    next_url = _next_url(request)
    if has_confirmed_device(user):
        if not user.is_verified():
            return redirect_to_login(next_url, reverse("two_factor_verify"))
        context = _page(request, _("Two-factor sign-in"), enrolled=True)
        return render(request, "accounts/two_factor_enrol.html", context)
    device = enrolment_device(user=user)
    form = TotpCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            device = totp_enrol_confirm(user=user, code=form.cleaned_data["code"])
        except ValidationError as exc:
            form.add_error("code", exc)
        else:
            _verified(request, device)
            messages.success(
                request,
                _("Two-factor sign-in is set up. From now on, give a code after your password."),
            )
            return redirect(next_url)
    context = _page(
        request,
        _("Set up two-factor sign-in"),
        enrolled=False,
        form=form,
        required=otp_required(user),
        # Our own SVG markup (paths only), drawn from the device's otpauth:// URL.
        qr_svg=mark_safe(qr_code_svg(device.config_url)),
        secret=secret_text(device),
        issuer=settings.OTP_TOTP_ISSUER,
    )
    return render(request, "accounts/two_factor_enrol.html", context)
