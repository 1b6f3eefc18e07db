"""Who is acting, through which channel: the context every audit event is stamped with.

The web middleware sets it per request (channel web or api, a request id, the client address,
and the signed-in user, resolved when an event is written because API authentication happens
after middleware). The `grassroots` command sets channel "command" with the operating-system
user; `grassroots import` narrows it to channel "import" and the `--as-user` account; background
tasks use channel "task". Outside any context (a Python shell) events read channel "command".
"""

from __future__ import annotations

import getpass
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from django.conf import settings

if TYPE_CHECKING:
    from grassroots.accounts.models import User

CHANNELS = ("web", "api", "import", "command", "task")
# What is kept of a client's X-Request-ID: printable ASCII without spaces, at most 64 characters.
CLIENT_REQUEST_ID_LENGTH = 64
_CLIENT_REQUEST_ID = re.compile(r"^[\x21-\x7e]+$")


def new_request_id() -> str:
    return uuid.uuid4().hex


def clean_client_request_id(value: str | None) -> str | None:
    """A client's X-Request-ID as kept beside ours: printable ASCII, cut to 64 characters.

    Never our request id: a client could otherwise make its requests look like others' in the
    audit trail. Anything with control characters, spaces or other scripts is dropped (None).
    """
    text = (value or "").strip()
    if not text or not _CLIENT_REQUEST_ID.match(text):
        return None
    return text[:CLIENT_REQUEST_ID_LENGTH]


@dataclass(frozen=True)
class Context:
    channel: str
    request_id: str
    address: str | None = None
    user: User | None = None
    # The id the client sent (X-Request-ID), kept apart from ours.
    client_request_id: str | None = None
    # A label when there is no user account: "os:alice" for a command run by alice.
    label: str = ""
    request: Any = None

    def acting_user(self) -> User | None:
        """The account acting now: the context's user, else the request's (API or session);
        None for a command without an account or an anonymous request."""
        user = self.user
        if user is None and self.request is not None:
            user = getattr(self.request, "auth_user", None)
            if user is None:
                candidate = getattr(self.request, "user", None)
                if candidate is not None and candidate.is_authenticated:
                    user = candidate
        return user

    def actor(self) -> tuple[int | None, str]:
        """(user id, display name) of whoever acts now."""
        user = self.acting_user()
        if user is not None:
            return user.pk, user.get_username()
        return None, self.label or "anonymous"


def _os_label() -> str:
    try:
        return "os:" + getpass.getuser()
    except Exception:  # no login name (containers without a passwd entry)
        return "os:unknown"


_current: ContextVar[Context | None] = ContextVar("grassroots_audit_context", default=None)


def current() -> Context:
    ctx = _current.get()
    if ctx is None:
        ctx = Context(channel="command", request_id=new_request_id(), label=_os_label())
        _current.set(ctx)
    return ctx


@contextmanager
def acting(
    *,
    channel: str | None = None,
    user: User | None = None,
    request: Any = None,
    request_id: str | None = None,
    address: str | None = None,
    label: str | None = None,
) -> Iterator[Context]:
    """Run a block under an audit context; unspecified parts come from the enclosing one."""
    if channel is not None and channel not in CHANNELS:
        raise ValueError(f"unknown audit channel {channel!r}")
    outer = _current.get()
    base = outer or Context(channel="command", request_id=new_request_id(), label=_os_label())
    changes: dict[str, Any] = {}
    if channel is not None:
        changes["channel"] = channel
    if user is not None:
        changes["user"] = user
    if request is not None:
        changes["request"] = request
    if request_id is not None:
        changes["request_id"] = request_id
    if address is not None:
        changes["address"] = address
    if label is not None:
        changes["label"] = label
    ctx = replace(base, **changes)
    token = _current.set(ctx)
    try:
        yield ctx
    finally:
        _current.reset(token)


def command_context() -> None:
    """Mark this process as a command run by the operating-system user (the CLI entry)."""
    if _current.get() is None:
        _current.set(Context(channel="command", request_id=new_request_id(), label=_os_label()))


def client_address(request: Any) -> str | None:
    """The client's address: REMOTE_ADDR, or behind a trusted proxy the last X-Forwarded-For."""
    address = request.META.get("REMOTE_ADDR") or None
    if getattr(settings, "AXES_IPWARE_PROXY_COUNT", 0):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        hops = [h.strip() for h in forwarded.split(",") if h.strip()]
        if hops:
            address = hops[-1]
    return address


@contextmanager
def request_context(request: Any) -> Iterator[Context]:
    """The context of one HTTP request: channel api under /api/, else web."""
    ctx = Context(
        channel="api" if request.path.startswith("/api/") else "web",
        request_id=new_request_id(),
        client_request_id=clean_client_request_id(request.headers.get("X-Request-ID")),
        address=client_address(request),
        request=request,
        label="anonymous",
    )
    token = _current.set(ctx)
    try:
        yield ctx
    finally:
        _current.reset(token)
