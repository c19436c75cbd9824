"""How Demandbase's answers map to the shared errors.

Platform facts encoded here (docs/platform-apis.md, section 5):

- Errors come as ``{"errorCode": "<status>-<seq>", "errorMessage", "diagnosticCode"}``; the first three
  digits of the code are the HTTP status. ``diagnosticCode`` is an opaque id for support, kept in the
  message so an operator can quote it.
- The 401 body differs by API: the Export API uses the envelope (``401-100``), the Intent API answers
  ``{"status": "Authentication Failed - Unauthorized."}``. Both mean the bearer token is not (or no
  longer) valid, which a new token exchange cures.
- 429 carries no Retry-After and no rate-limit headers. ``429-100`` is the concurrent-query limit (a
  short back-off helps), ``429-101`` the 24-hour export quota (nothing helps before it resets),
  ``429-102`` the one-export-job-at-a-time limit (wait for the running job).
- 403 means the API key set lacks a permission or the tenant an entitlement: a person has to change it.
- The token endpoint answers 400 to missing or incorrect parameters (its body is not documented):
  for a stored key set that means it was deleted, rotated or mistyped.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from connectors.errors import AuthError, ConnectorError, PermanentError
from connectors.http import ErrorPolicy, Response, safe_json

CONCURRENT_QUERY = "429-100"
EXPORT_QUOTA = "429-101"
CONCURRENT_EXPORT_JOB = "429-102"
# How long to wait before asking again when another export job of the tenant is running.
CONCURRENT_JOB_WAIT_SECONDS = 30.0


def seconds_until_utc_midnight(now: datetime | None = None) -> float:
    now = now or datetime.now(tz=UTC)
    tomorrow = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(60.0, (tomorrow - now).total_seconds())


class DemandbaseErrorPolicy(ErrorPolicy):
    platform_name = "Demandbase"

    def classify(self, response: Response) -> ConnectorError | None:
        if response.status_code == 403:
            return PermanentError(
                f"{self.describe(response)}. Give the Demandbase API key set access to the Data Export "
                "and Intent APIs (and an Export collection that includes the account fields) in "
                "Demandbase's API key settings, then sync again.",
                status=403,
                code=self.error_code(response),
            )
        return super().classify(response)

    def is_expired_token(self, response: Response) -> bool:
        # Both 401 bodies (Export's errorCode envelope and Intent's {"status": ...}) are cured by a new
        # token exchange; the client tries that once and then gives up.
        return True

    def error_code(self, response: Response) -> str | None:
        body = safe_json(response)
        if isinstance(body, dict) and isinstance(body.get("errorCode"), str):
            return str(body["errorCode"])
        return None

    def retry_after_from_body(self, response: Response) -> float | None:
        code = self.error_code(response)
        if code == EXPORT_QUOTA:
            return seconds_until_utc_midnight()
        if code == CONCURRENT_EXPORT_JOB:
            return CONCURRENT_JOB_WAIT_SECONDS
        return None

    def describe(self, response: Response) -> str:
        code = self.error_code(response)
        if code == EXPORT_QUOTA:
            return (
                "Demandbase's 24-hour export quota for this tenant is used up; "
                "the accounts are exported again once it resets"
            )
        if code == CONCURRENT_EXPORT_JOB:
            return "Another Demandbase export job of this tenant is still running (one at a time is allowed)"
        body = safe_json(response)
        detail = ""
        if isinstance(body, dict):
            detail = str(body.get("errorMessage") or body.get("status") or body.get("message") or "")
            if body.get("diagnosticCode"):
                detail += f" (diagnostic code {body['diagnosticCode']})"
        head = f"{self.platform_name} answered HTTP {response.status_code}" + (f" ({code})" if code else "")
        return head + (f": {detail.strip()}" if detail.strip() else "")


class KeySetPolicy(DemandbaseErrorPolicy):
    """The token endpoint: a refusal means the stored key set no longer works."""

    platform_name = "Demandbase's token endpoint"

    def classify(self, response: Response) -> ConnectorError | None:
        if response.status_code in (400, 401, 403):
            return AuthError(
                f"{self.describe(response)}. Demandbase refused the connection's API key set (client id and "
                "secret): it was deleted, rotated or mistyped. Create or copy a valid key set in Demandbase "
                "and reconnect the account.",
                status=response.status_code,
                code=self.error_code(response) or "invalid_key_set",
            )
        return super().classify(response)


class DownloadPolicy(DemandbaseErrorPolicy):
    """The signed link of an export's result file (not an API endpoint: no bearer, storage errors)."""

    platform_name = "Demandbase's export download"

    def classify(self, response: Response) -> ConnectorError | None:
        if response.status_code in (400, 401, 403, 404):
            return PermanentError(
                f"{self.describe(response)}: the export's download link was refused (signed links "
                "expire after 24 hours)",
                status=response.status_code,
                code="download_refused",
            )
        return super().classify(response)
