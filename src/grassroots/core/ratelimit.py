"""Rate limits shared by every process: fixed-window counters in the database.

The cache of a process (LocMemCache) is its own: with three gunicorn workers a limit kept there
lets one address through three times. Here a request adds one to the counter of its window in one
statement (INSERT ... ON CONFLICT DO UPDATE SET count = count + 1, on SQLite and PostgreSQL), so
concurrent requests of any process count exactly once each. A counter row is named by a keyed hash
of the limit, the client and the window: no address or key is stored. Rows of ended windows are
deleted now and then by a request that opens a new window.

A fixed window lets a client through up to twice the limit across the boundary of two windows;
the limits here are set with that in mind.
"""

from __future__ import annotations

import datetime
import ipaddress
import math
import re
import secrets
import time
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.utils import timezone
from django.utils.crypto import salted_hmac

from .models import RateCounter

_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*(s|sec|m|min|h|hour|d|day)\s*$")
_SECONDS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hour": 3600, "d": 86400, "day": 86400}
# One request in this many that opens a window also deletes the ended ones.
PURGE_ONE_IN = 50


@dataclass(frozen=True)
class Rate:
    """`limit` requests per `seconds`."""

    limit: int
    seconds: int


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    count: int
    retry_after: int  # seconds until the window ends


@lru_cache(maxsize=64)
def parse_rate(text: str) -> Rate:
    """ "30/m", "600/h", "5/10m" (5 per 10 minutes), "1000/d"; ValueError otherwise."""
    matched = _RATE.match(text or "")
    if not matched:
        raise ValueError(f"{text!r} is not a rate such as 30/m, 600/h or 1000/d")
    count, multiple, unit = matched.groups()
    seconds = int(multiple or 1) * _SECONDS[unit]
    if seconds < 1:
        raise ValueError(f"{text!r} is not a rate such as 30/m, 600/h or 1000/d")
    return Rate(int(count), seconds)


def rate_setting(name: str) -> Rate:
    """The rate in settings.NAME, read at each call so that a change applies at once."""
    value = getattr(settings, name)
    try:
        return parse_rate(value)
    except ValueError:
        raise ImproperlyConfigured(
            f"{name}={value!r} is not a rate such as 30/m, 600/h or 1000/d"
        ) from None


def client_key(address: str | None) -> str:
    """An address as a limit counts it: an IPv6 client by its /64 network (one subscriber's
    share, in which it may pick any address), anything else as given."""
    text = (address or "").strip()
    try:
        parsed = ipaddress.ip_address(text)
    except ValueError:
        return text
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


def _window(rate: Rate, now: float) -> tuple[int, datetime.datetime, int]:
    number = int(now // rate.seconds)
    ends = (number + 1) * rate.seconds
    return (
        number,
        datetime.datetime.fromtimestamp(ends, datetime.UTC),
        max(math.ceil(ends - now), 1),
    )


def _digest(bucket: str, ident: str, rate: Rate, window: int) -> str:
    value = f"{bucket}\x00{ident}\x00{rate.seconds}\x00{window}"
    return salted_hmac("grassroots.core.ratelimit", value, algorithm="sha256").hexdigest()


def _upsert_sql() -> str:
    quote = connection.ops.quote_name
    table = quote(RateCounter._meta.db_table)
    digest, count, expires = quote("digest"), quote("count"), quote("expires_at")
    return (
        f"INSERT INTO {table} ({digest}, {count}, {expires}) VALUES (%s, 1, %s) "
        f"ON CONFLICT ({digest}) DO UPDATE SET {count} = {table}.{count} + 1"
    )


def hit(bucket: str, ident: str, rate: Rate, *, now: float | None = None) -> Verdict:
    """Count one request of client `ident` against limit `bucket`; allowed while the count of
    this window is within `rate.limit`. Refused requests count too."""
    moment = time.time() if now is None else now
    window, ends, retry_after = _window(rate, moment)
    digest = _digest(bucket, ident, rate, window)
    if not settings.USE_TZ:
        ends = timezone.make_naive(ends, datetime.UTC)
    params = [digest, connection.ops.adapt_datetimefield_value(ends)]
    with connection.cursor() as cursor:
        if connection.features.can_return_columns_from_insert:
            returning = connection.ops.quote_name("count")
            cursor.execute(f"{_upsert_sql()} RETURNING {returning}", params)
            count = int(cursor.fetchone()[0])
        else:  # pragma: no cover - SQLite before 3.35
            cursor.execute(_upsert_sql(), params)
            count = RateCounter.objects.filter(digest=digest).values_list("count", flat=True)[0]
    if count == 1 and secrets.randbelow(PURGE_ONE_IN) == 0:
        purge(now=moment)
    return Verdict(count <= rate.limit, count, retry_after)


def peek(bucket: str, ident: str, rate: Rate, *, now: float | None = None) -> Verdict:
    """Whether `ident` is still within `rate` in this window, without counting a request (for
    limits on failures, counted with `hit` only when one happens)."""
    moment = time.time() if now is None else now
    window, _ends, retry_after = _window(rate, moment)
    digest = _digest(bucket, ident, rate, window)
    count = RateCounter.objects.filter(digest=digest).values_list("count", flat=True).first() or 0
    return Verdict(count < rate.limit, count, retry_after)


def seconds_left(rate: Rate, *, now: float | None = None) -> int:
    """Seconds until the current window of `rate` ends (a 429's Retry-After)."""
    return _window(rate, time.time() if now is None else now)[2]


def purge(*, now: float | None = None) -> int:
    """Delete the counters of ended windows; returns how many."""
    moment = datetime.datetime.fromtimestamp(time.time() if now is None else now, datetime.UTC)
    deleted, _by_model = RateCounter.objects.filter(expires_at__lte=moment).delete()
    return deleted
