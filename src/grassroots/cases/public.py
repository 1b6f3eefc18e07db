"""The public's budget of requests: PORTAL_RATE per client address, shared by the portal's API
endpoints (cases/api_portal.PortalThrottle) and its pages (web/portal), counted in the database
(core/ratelimit.py) so that every server process shares one count."""

from __future__ import annotations

from grassroots.core import ratelimit

BUCKET = "portal"


def portal_allows(address: str | None) -> bool:
    """Count one request from `address`; False once it used up PORTAL_RATE for this window."""
    rate = ratelimit.rate_setting("PORTAL_RATE")
    return ratelimit.hit(BUCKET, ratelimit.client_key(address), rate).allowed


def portal_wait() -> float:
    """Seconds until the current window ends (the same for every client)."""
    return float(ratelimit.seconds_left(ratelimit.rate_setting("PORTAL_RATE")))
