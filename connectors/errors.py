"""The only errors a connector raises. The pipeline decides what to do from the class alone.

- ``AuthError``: the credentials no longer work; the connection needs re-authorization.
- ``RateLimited``: the platform asked us to slow down; ``retry_after`` says for how long, if known.
- ``TransientError``: a timeout, a dropped connection or a 5xx; trying again later may work.
- ``PermanentError``: the request itself is wrong (bad account id, missing permission, retired API
  version); retrying cannot help, a person has to change something.
"""

from __future__ import annotations

from connectors.redaction import redact


class ConnectorError(Exception):
    """Base class. ``message`` is written for the marketer who reads the sync status.

    It often quotes the platform's own words, which are not ours to trust: it is redacted as log
    records are, here, so the run's error, the connection's status, Sync health, its CSV and the
    commands all show the redacted text.
    """

    retryable = False

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        message = redact(message)
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code


class AuthError(ConnectorError):
    """Authentication failed. ``expired`` is true when a token refresh may fix it."""

    def __init__(
        self, message: str, *, status: int | None = None, code: str | None = None, expired: bool = False
    ) -> None:
        super().__init__(message, status=status, code=code)
        self.expired = expired


class RateLimited(ConnectorError):
    retryable = True

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        status: int | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message, status=status, code=code)
        self.retry_after = retry_after


class TransientError(ConnectorError):
    retryable = True


class PermanentError(ConnectorError):
    pass


class MalformedResponse(TransientError):
    """A body that is not the JSON the platform documents (truncated, wrong type at the top)."""
