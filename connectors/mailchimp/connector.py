"""Mailchimp: sent-campaign reports from the Marketing API v3.0 into the email campaign table.

One stream, ``campaigns``, feeds ``email_campaign``: ``GET /3.0/reports`` paged with
``offset``/``count`` (at most 1000) until ``total_items``, limited to campaigns sent within the
sync window with ``since_send_time``/``before_send_time``. Mailchimp reports keep changing for weeks
after a send (opens and clicks accumulate), so every sync reads every campaign sent in its window
again; the pipeline's window covers the retention period on the first sync and the restatement
period (MAILCHIMP_RESTATEMENT_DAYS) afterwards.

Platform facts encoded here (docs/platform-apis.md, section 3):

- OAuth access tokens never expire and there is no refresh token (the token endpoint answers
  ``expires_in: 0``); a token that stops working needs the account to be connected again.
- Each account lives in one data centre. It is found with ``GET`` on the OAuth metadata endpoint
  (``Authorization: OAuth <token>``), which reports a bad token as HTTP 200 with
  ``{"error": "invalid_token"}``. The API host is ``https://<dc>.api.mailchimp.com``; a token sent to
  another data centre gets 401 "API Key Invalid". MAILCHIMP_API_BASE_URL may replace the host, as a
  literal base or as a template with a ``{dc}`` placeholder.
- At most 10 simultaneous connections per account (shared across workers through
  ``max_concurrent_requests``). Throttling is a 429, or a 403 without a JSON body; a 403 with a
  problem document is a real refusal. No Retry-After is ever sent.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, ClassVar

from connectors.auth import OAuthSpec
from connectors.base import (
    ApiVersion,
    BaseConnector,
    GrantLifetimes,
    Option,
    Page,
    PlatformTotal,
    StreamSpec,
    Window,
)
from connectors.errors import AuthError, ConnectorError, MalformedResponse, PermanentError, RateLimited
from connectors.http import ErrorPolicy, Response, safe_json
from connectors.mailchimp import mapping
from connectors.paginators import OffsetPaginator
from connectors.platform_settings import value

DEFAULT_API_BASE_URL = "https://{dc}.api.mailchimp.com"
MAX_PAGE_SIZE = 1000
DATA_CENTRE_RE = re.compile(r"[a-z]{2,10}[0-9]{1,4}")
# Error bodies are small; large successful answers (report pages) are not searched for one.
SMALL_BODY_BYTES = 4096


def api_base_url(dc: str) -> str:
    """The API host for a data centre, from MAILCHIMP_API_BASE_URL (literal or ``{dc}`` template)."""
    template = str(value("mailchimp", "API_BASE_URL") or DEFAULT_API_BASE_URL)
    return template.replace("{dc}", dc).rstrip("/").removesuffix("/3.0")


def send_time_param(day: date) -> str:
    """Midnight UTC of a day, in the ISO 8601 form Mailchimp's send-time filters take."""
    return f"{day.isoformat()}T00:00:00+00:00"


def report_pages(stream: StreamSpec) -> OffsetPaginator:
    """``offset``/``count`` paging, ``Connector.page_size`` reports at a time, until ``total_items``."""
    limit = max(1, min(Connector.page_size, MAX_PAGE_SIZE))
    return OffsetPaginator(limit=limit, records_path=stream.records_path, total_path=("total_items",))


def bounces_total(bounces: Any) -> Any:
    """Hard + soft bounces + syntax errors.

    ``None`` when Mailchimp gave none of them; an unreadable part is returned as it came, so the
    normalizer quarantines the record with that value in its reason instead of loading a wrong sum.
    """
    if not isinstance(bounces, dict):
        return bounces
    total, seen = 0, False
    for part in mapping.BOUNCE_PARTS:
        value = bounces.get(part)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            return value
        if isinstance(value, float) and not value.is_integer():
            return value
        total += int(value)
        seen = True
    return total if seen else None


def annotate_report(report: Any) -> Any:
    """A report with the keys the mapping reads but cannot compute (see ``mapping``)."""
    if not isinstance(report, dict):
        return report  # left for the normalizer to quarantine with its reason
    send_time = report.get("send_time")
    return {
        **report,
        "_bounces_total": bounces_total(report.get("bounces")),
        "_send_time": None if send_time == "" else send_time,
    }


def absent_report_parts(report: Any) -> Iterator[tuple[str, str]]:
    """(report object, campaign type) for each optional object this report leaves out: some campaign
    types' reports have no ``opens`` or ``clicks`` (their counts then load empty, not 0)."""
    if not isinstance(report, dict):
        return
    for key in mapping.OPTIONAL_REPORT_PARTS:
        if key not in report or report[key] is None:
            yield key, str(report.get("type") or "unknown")


def absent_parts_note(lacking: dict[str, set[str]]) -> str | None:
    """In plain words: which counts some campaigns' reports did not have (their columns stay empty)."""
    if not lacking:
        return None
    parts = [mapping.OPTIONAL_REPORT_PARTS[key] for key in mapping.OPTIONAL_REPORT_PARTS if key in lacking]
    kinds = sorted(set().union(*lacking.values()))
    named = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " or " + parts[-1]
    return (
        f"Mailchimp: the reports of some {', '.join(kinds)} campaigns have no {named}; "
        "those columns stay empty for them."
    )


class MailchimpErrorPolicy(ErrorPolicy):
    platform_name = "Mailchimp"

    def classify(self, response: Response) -> ConnectorError | None:
        status = response.status_code
        if status == 403:
            return self._forbidden(response)
        if status == 401:
            return AuthError(
                f"Mailchimp rejected the access token ({self.describe(response)}). "
                "Reconnect the Mailchimp account.",
                status=401,
                code=self.error_code(response),
                expired=self.is_expired_token(response),
            )
        if status == 503 and self.error_code(response) == "ComplianceRelated":
            return PermanentError(
                f"{self.describe(response)}. Mailchimp has disabled API access for this account "
                "(usually a compliance review); the account owner has to contact Mailchimp.",
                status=503,
                code="ComplianceRelated",
            )
        return super().classify(response)

    def _forbidden(self, response: Response) -> ConnectorError:
        if not isinstance(safe_json(response), dict):
            # Under heavy load Mailchimp throttles with a bare 403 (or 429) and no problem document.
            return RateLimited("Mailchimp is throttling requests for this account (HTTP 403)", status=403)
        return PermanentError(
            f"{self.describe(response)}. The connected Mailchimp user needs access to the account's "
            "campaign reports.",
            status=403,
            code=self.error_code(response),
        )

    def error_in_successful_body(self, response: Response) -> ConnectorError | None:
        """The OAuth metadata endpoint reports errors with HTTP 200 and an ``error`` key."""
        if len(response.content) > SMALL_BODY_BYTES:
            return None
        body = safe_json(response)
        error = body.get("error") if isinstance(body, dict) else None
        if not isinstance(error, str) or not error:
            return None
        if error == "invalid_token":
            return AuthError(
                "Mailchimp no longer accepts this connection's access token (invalid_token): the "
                "authorization was revoked or the app was removed from the account. Reconnect the "
                "Mailchimp account.",
                status=response.status_code,
                code=error,
            )
        return PermanentError(
            f"Mailchimp answered with an error: {error}", status=response.status_code, code=error
        )

    def is_expired_token(self, response: Response) -> bool:
        return False  # Mailchimp tokens do not expire and cannot be refreshed

    def error_code(self, response: Response) -> str | None:
        body = safe_json(response)
        if isinstance(body, dict):
            for key in ("title", "error"):
                if isinstance(body.get(key), str) and body[key]:
                    return str(body[key])
        return None

    def describe(self, response: Response) -> str:
        """Problem documents carry a ``title`` and a ``detail``; both are worth reading."""
        body = safe_json(response)
        if isinstance(body, dict):
            parts = [body[key] for key in ("title", "detail") if isinstance(body.get(key), str) and body[key]]
            if parts:
                return f"Mailchimp answered HTTP {response.status_code}: " + " – ".join(parts)
        return super().describe(response)


class Connector(BaseConnector):
    platform = "mailchimp"
    display_name = "Mailchimp"
    oauth = OAuthSpec(
        refreshable=False,
    )
    streams = (
        StreamSpec(
            "campaigns",
            "email_campaign",
            mapping.EMAIL_CAMPAIGN,
            path="/3.0/reports",
            params={"exclude_fields": ",".join(mapping.EXCLUDED_REPORT_FIELDS)},
            records_path=("reports",),
            paginator=report_pages,
        ),
    )
    account_id_pattern = r"[0-9]{1,20}"
    account_id_format = "the account's user id: digits only (user_id in Mailchimp's OAuth metadata)"
    policy = MailchimpErrorPolicy()
    min_restatement_days = 30
    min_restatement_source = (
        "opens and clicks keep arriving for weeks after a send; reports are re-read for about 30 days "
        "(Mailchimp Marketing API reports, common practice)"
    )
    account_id_help = (
        "The Mailchimp user id of the account; it is checked against the account you sign in to."
    )
    credential_specs = {
        "access_token": Option(
            "OAuth access token of the Mailchimp account (it never expires; there is no refresh token)",
            secret=True,
        ),
    }
    max_concurrent_requests = 10
    # Reports per page (Mailchimp allows up to 1000); tests lower it to force many pages.
    page_size: ClassVar[int] = MAX_PAGE_SIZE

    @classmethod
    def api_version(cls) -> ApiVersion:
        return ApiVersion("3.0", None, "Mailchimp has announced no end of service for Marketing API 3.0")

    @classmethod
    def grant_lifetimes(cls) -> GrantLifetimes:
        # Mailchimp's OAuth access tokens never expire (mailchimp.com/developer, "Access Data on
        # Behalf of Other Users with OAuth 2"); they end only when the user revokes the app.
        return GrantLifetimes(None, None, "Mailchimp OAuth: tokens do not expire")

    def base_url(self) -> str:
        """The data centre's API host once it is known (it is learnt from the metadata endpoint)."""
        dc = self.state.get("dc")
        return api_base_url(dc) if isinstance(dc, str) and DATA_CENTRE_RE.fullmatch(dc) else ""

    # -- endpoints ------------------------------------------------------------------------------
    def account(self) -> dict[str, Any]:
        """The account behind the token: data centre, API endpoint, name and user id.

        Asked once per sync: the answer is kept in the sync's state, so a retried step goes
        straight to the API.
        """
        if not self.base_url():
            self.save_state(**self._metadata())
        self.client.base_url = self.base_url()
        return {key: self.state.get(key) for key in ("dc", "api_endpoint", "account_name", "user_id")}

    def _metadata(self) -> dict[str, Any]:
        body = self.client.get_json(
            str(self.setting("METADATA_URL")),
            headers={"Authorization": f"OAuth {self.auth.tokens.access_token}"},
        )
        dc = body.get("dc") if isinstance(body, dict) else None
        if not isinstance(dc, str) or not DATA_CENTRE_RE.fullmatch(dc):
            raise MalformedResponse("Mailchimp's OAuth metadata does not name the account's data centre")
        user_id = body.get("user_id")
        name = body.get("accountname")
        if user_id is not None and str(user_id) != self.account_id:
            raise PermanentError(
                f"This access token belongs to the Mailchimp account {name!r} (user id {user_id}), not to "
                f"{self.account_id!r}. Register the connection with account id {user_id}."
            )
        return {
            "dc": dc,
            "api_endpoint": body.get("api_endpoint"),
            "account_name": name if isinstance(name, str) else None,
            "user_id": None if user_id is None else str(user_id),
        }

    # -- the contract ---------------------------------------------------------------------------
    def check(self) -> str:
        account = self.account()
        self.client.get_json("/3.0/reports", params={"count": 1, "fields": "total_items"})
        return str(account["account_name"] or f"Mailchimp {self.account_id}")

    def platform_totals(self, window: Window) -> list[PlatformTotal]:
        """The report list's own count (``total_items``) of the campaigns sent within the window,
        asked for alone (``count=1``), beside the campaigns the warehouse holds as sent then.
        Mailchimp has no account-level sum of a report's figures: each campaign's figures come only
        in its own report, the very records the sync read, so only the count is independent."""
        self.account()
        body = self.client.get_json(
            "/3.0/reports",
            params={
                "count": 1,
                "fields": "total_items",
                "since_send_time": send_time_param(window.start),
                "before_send_time": send_time_param(window.end + timedelta(days=1)),
            },
        )
        total = body.get("total_items") if isinstance(body, dict) else None
        if not isinstance(total, int) or isinstance(total, bool):
            raise MalformedResponse("Mailchimp's report list does not say its total_items")
        return [
            PlatformTotal(
                "email_campaign",
                PlatformTotal.ROWS,
                Decimal(total),
                window_column="send_time",
                scope="campaigns sent in the window (the report list's total_items)",
            )
        ]

    def stream_params(self, stream: StreamSpec, window: Window) -> dict[str, Any]:
        """The campaigns sent within the window; the account's data centre is learnt first."""
        self.account()
        self._lacking: dict[str, set[str]] = {}  # report object → campaign types whose reports lack it
        return {
            "since_send_time": send_time_param(window.start),
            "before_send_time": send_time_param(window.end + timedelta(days=1)),
        }

    def on_records(self, stream: StreamSpec, records: list[Any]) -> Page:
        for report in records:
            for key, kind in absent_report_parts(report):
                self._lacking.setdefault(key, set()).add(kind)
        return [annotate_report(report) for report in records]

    def on_stream_end(self, stream: StreamSpec) -> None:
        note = absent_parts_note(self._lacking)
        if note is not None:
            self.note_once(note)
