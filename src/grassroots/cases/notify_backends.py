"""How a notification leaves: console (development), email (Django's mail), HTTP webhook.

Rows never hold a full phone number or email address: `Notification.address` shows it masked,
and the backend looks the real one up when it sends, from the recipient's account or from the
case's reporter (both encrypted at rest). A backend's `send` raises `DeliveryError`; a
permanent one (nobody to send to) is given up at once, anything else is retried.

The webhook POSTs `{"id", "to", "subject", "body", "case", "tracking_code"}` as JSON to
NOTIFICATION_WEBHOOK_URL, with `Authorization: Bearer NOTIFICATION_WEBHOOK_TOKEN` when a token
is set and, when NOTIFICATION_WEBHOOK_SECRET is set, `X-Grassroots-Timestamp: <unix seconds>`
and `X-Grassroots-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`. `id` stays the
same across retries, so a gateway can drop a message it already sent. Any 2xx answer is
success.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import sys
import time
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any, ClassVar

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.core.mail import EmailMessage
from django.utils.translation import gettext

from grassroots.core.validators import mask_phone

if TYPE_CHECKING:
    from grassroots.accounts.models import User

    from .models import Case, Notification

logger = logging.getLogger("grassroots.notify")


class DeliveryError(Exception):
    """A send that failed; `permanent` ones are not retried."""

    def __init__(self, message: str, *, permanent: bool = False, outage: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        # The service itself is unreachable (refused, timed out): the rest of a batch for this
        # backend waits for the next run instead of each waiting for its own timeout.
        self.outage = outage


def mask_email(address: str) -> str:
    name, _, domain = address.partition("@")
    return f"{name[:1]}***@{domain}" if domain else "***"


class Backend:
    name: ClassVar[str]

    def user_address(self, user: User) -> str:
        """Where this backend reaches `user` ("" if it cannot)."""
        raise NotImplementedError

    def reporter_address(self, case: Case) -> str:
        """Where this backend reaches the reporter of `case` ("" if it cannot)."""
        raise NotImplementedError

    def shown(self, address: str) -> str:
        """`address` as stored on the row and shown to dispatchers."""
        return address

    def missing(self) -> str:
        """Why a person has no address for this backend."""
        return gettext("no address for %(backend)s") % {"backend": self.name}

    def send(self, notification: Notification, address: str) -> None:
        raise NotImplementedError

    def address_of(self, notification: Notification) -> str:
        """The full address of the row's recipient or reporter, looked up now."""
        if notification.recipient is not None:
            address = self.user_address(notification.recipient)
        elif notification.case is not None and notification.address:
            address = self.reporter_address(notification.case)
        else:
            raise DeliveryError(gettext("nobody to send this to"), permanent=True)
        if not address:
            raise DeliveryError(self.missing(), permanent=True)
        return address


class ConsoleBackend(Backend):
    """Writes each message to standard output (and the log): for development and tests."""

    name = "console"

    def user_address(self, user: User) -> str:
        return user.get_username()

    def reporter_address(self, case: Case) -> str:
        if case.reporter_phone:
            return mask_phone(case.reporter_phone)
        return mask_email(case.reporter_email) if case.reporter_email else ""

    def send(self, notification: Notification, address: str) -> None:
        tracking = notification.case.tracking_code if notification.case else ""
        text = (
            f"--- notification {notification.pk} to {address}"
            + (f" (case {tracking})" if tracking else "")
            + f"\nSubject: {notification.subject}\n\n{notification.body}\n---\n"
        )
        # Looked up at each send so that a test's captured stdout sees it.
        sys.stdout.write(text)
        sys.stdout.flush()
        logger.info("notification %s to %s: %s", notification.pk, address, notification.subject)


class EmailBackend(Backend):
    """Django's email (EMAIL_HOST ...; tests use the locmem outbox)."""

    name = "email"

    def user_address(self, user: User) -> str:
        return user.email or ""

    def reporter_address(self, case: Case) -> str:
        return case.reporter_email or ""

    def shown(self, address: str) -> str:
        return mask_email(address)

    def missing(self) -> str:
        return gettext("no email address")

    def send(self, notification: Notification, address: str) -> None:
        message = EmailMessage(
            subject=notification.subject,
            body=notification.body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[address],
        )
        try:
            message.send(fail_silently=False)
        except (OSError, TimeoutError) as exc:
            raise DeliveryError(f"email: {exc}", outage=True) from exc
        except Exception as exc:  # smtplib errors: refused recipient, authentication ...
            raise DeliveryError(f"email: {type(exc).__name__}: {exc}") from exc


class WebhookBackend(Backend):
    """POSTs JSON to an SMS gateway or a WeCom relay; people are reached by mobile number."""

    name = "webhook"

    def user_address(self, user: User) -> str:
        return user.phone or ""

    def reporter_address(self, case: Case) -> str:
        return case.reporter_phone or ""

    def shown(self, address: str) -> str:
        return mask_phone(address)

    def missing(self) -> str:
        return gettext("no mobile number")

    def payload(self, notification: Notification, address: str) -> dict[str, Any]:
        case = notification.case
        return {
            "id": notification.pk,
            "to": address,
            "subject": notification.subject,
            "body": notification.body,
            "case": case.pk if case else None,
            "tracking_code": case.tracking_code if case else None,
        }

    def send(self, notification: Notification, address: str) -> None:
        url = settings.NOTIFICATION_WEBHOOK_URL
        if not url:
            raise DeliveryError(gettext("NOTIFICATION_WEBHOOK_URL is not set"))
        data = json.dumps(self.payload(notification, address), ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "grassroots"}
        if settings.NOTIFICATION_WEBHOOK_TOKEN:
            headers["Authorization"] = f"Bearer {settings.NOTIFICATION_WEBHOOK_TOKEN}"
        if settings.NOTIFICATION_WEBHOOK_SECRET:
            stamp = str(int(time.time()))
            headers["X-Grassroots-Timestamp"] = stamp
            headers["X-Grassroots-Signature"] = "sha256=" + sign(
                settings.NOTIFICATION_WEBHOOK_SECRET, stamp, data
            )
        request = urllib.request.Request(url, data=data, headers=headers, method="POST")
        timeout = settings.NOTIFICATION_WEBHOOK_TIMEOUT
        try:
            with _opener.open(request, timeout=timeout) as response:
                response.read(1024)
        except urllib.error.HTTPError as exc:
            try:
                detail = exc.read(200).decode("utf-8", "replace").strip()
            except Exception:
                detail = ""
            raise DeliveryError(f"webhook: HTTP {exc.code} {detail}".strip()) from exc
        except TimeoutError as exc:
            raise DeliveryError(f"webhook: timed out after {timeout:g} s", outage=True) from exc
        except urllib.error.URLError as exc:
            reason = exc.reason
            timed_out = isinstance(reason, TimeoutError)
            text = f"timed out after {timeout:g} s" if timed_out else str(reason)
            raise DeliveryError(f"webhook: {text}", outage=True) from exc
        except OSError as exc:
            raise DeliveryError(f"webhook: {exc}", outage=True) from exc


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # urllib would turn a redirected POST into a GET that "succeeds": a redirect is a failure.
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The hex HMAC-SHA256 a receiver recomputes to check a webhook call."""
    message = timestamp.encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


BACKENDS: dict[str, type[Backend]] = {
    b.name: b for b in (ConsoleBackend, EmailBackend, WebhookBackend)
}


def backend(name: str) -> Backend:
    try:
        return BACKENDS[name]()
    except KeyError:
        raise DeliveryError(
            gettext("unknown notification backend %(name)r") % {"name": name}, permanent=True
        ) from None


def configured() -> list[Backend]:
    """The backends of NOTIFICATION_BACKENDS, in that order."""
    errors = configuration_errors()
    if errors:
        raise ImproperlyConfigured("; ".join(errors))
    return [BACKENDS[name]() for name in dict.fromkeys(settings.NOTIFICATION_BACKENDS)]


def configuration_errors() -> list[str]:
    errors = []
    for name in settings.NOTIFICATION_BACKENDS:
        if name not in BACKENDS:
            errors.append(
                f"NOTIFICATION_BACKENDS names {name!r}; known backends: {', '.join(BACKENDS)}"
            )
    if "webhook" in settings.NOTIFICATION_BACKENDS and not settings.NOTIFICATION_WEBHOOK_URL:
        errors.append("NOTIFICATION_BACKENDS names webhook but NOTIFICATION_WEBHOOK_URL is empty")
    if settings.NOTIFICATION_MAX_ATTEMPTS < 1:
        errors.append("NOTIFICATION_MAX_ATTEMPTS must be at least 1")
    return errors


@checks.register()
def check_notification_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.Error]:
    """`grassroots check` (and every command's start) reports a bad notification setting."""
    return [checks.Error(message, id="grassroots.E101") for message in configuration_errors()]
