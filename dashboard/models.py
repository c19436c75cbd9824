"""The dashboard reads the warehouse through selectors; its one table of its own holds the
login-failure counts (``dashboard.login_throttle``)."""

from __future__ import annotations

from django.db import models


class LoginFailure(models.Model):
    """Recent failed log-ins of one username from one address, until ``expires_at``.

    ``key`` is a hash of the pair, so usernames typed by strangers are not stored in clear. A row
    whose ``expires_at`` has passed counts as no row at all; such rows are removed as new ones come.
    """

    key = models.CharField(max_length=64, primary_key=True)
    failures = models.PositiveIntegerField(default=0)
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.failures} failed log-ins until {self.expires_at:%Y-%m-%d %H:%M:%S}"
