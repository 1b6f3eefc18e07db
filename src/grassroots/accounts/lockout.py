"""Sign-in lockout: an account after a few wrong passwords, an address only after many.

django-axes counts failures per lockout parameter and compares the largest count with one
limit. Counting the client address against the same 5 failures meant that one person mistyping
their password five times locked every colleague behind the same office router (a township
office often shares one address) for an hour. Here the account is locked after
AXES_FAILURE_LIMIT failures (AXES_LOCKOUT_PARAMETERS = ["username"]), and the address only
after AXES_ADDRESS_FAILURE_LIMIT failures on any accounts within the cool-off time: someone
trying one password on many accounts (password spraying) is still stopped.
"""

from __future__ import annotations

import math
from typing import Any

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_failure_limit
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Sum


class AccountAndAddressHandler(AxesDatabaseHandler):
    def get_failures(self, request: Any, credentials: dict[str, Any] | None = None) -> int:
        account = super().get_failures(request, credentials)
        address = getattr(request, "axes_ip_address", None)
        if not address:
            return account
        attempts = AccessAttempt.objects.filter(ip_address=address)
        if settings.AXES_COOLOFF_TIME is not None:
            attempts = attempts.filter(attempt_time__gte=get_cool_off_threshold(request))
        from_address = attempts.aggregate(n=Sum("failures_since_start"))["n"] or 0
        # Scaled to the account's limit: the address counts as locked at its own limit.
        limit = get_failure_limit(request, credentials)
        scaled = math.floor(from_address * limit / settings.AXES_ADDRESS_FAILURE_LIMIT)
        return max(account, scaled)
