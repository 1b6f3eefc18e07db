"""What the core keeps in the database for the other apps: the counters of the rate limits."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class RateCounter(models.Model):
    """The requests one client made in one fixed window of one rate limit (core/ratelimit.py).

    `digest` is a keyed hash (HMAC with SECRET_KEY) of the limit's name, the client (an address,
    an API key's id) and the window: the table never holds an address or a key.
    """

    digest = models.CharField(max_length=64, unique=True)
    count = models.PositiveIntegerField(default=0)
    # The end of the window: rows past it are deleted now and then (ratelimit.purge).
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = _("rate limit counter")
        verbose_name_plural = _("rate limit counters")

    def __str__(self) -> str:
        return f"{self.digest[:8]}… {self.count}"
