"""Google Ads failures, as the client library raises them, → the shared connector errors.

A failed call reaches the connector in one of three shapes: ``GoogleAdsException`` (the library
decoded the ``GoogleAdsFailure`` trailer: most errors), a ``google.api_core`` exception (the
library lets ``INTERNAL`` and ``RESOURCE_EXHAUSTED`` through undecoded and the generated client
wraps them), or a bare ``grpc.RpcError``. All three are read the same way: the gRPC status, and
each ``GoogleAdsError`` of the failure (its ``error_code`` family and name, its message and, for
quota errors, ``quota_error_details.retry_delay``).

- ``RESOURCE_EXHAUSTED`` → RateLimited, waiting the delay the error carries.
- ``UNAUTHENTICATED`` with an OAuth token error → AuthError(expired=True): refresh once, retry.
- ``PERMISSION_DENIED``, invalid customer ids, rejected queries → PermanentError saying what to fix.
- A query refused for a metric that does not fit it (``PROHIBITED_METRIC_IN_SELECT_OR_WHERE_CLAUSE``,
  ``PROHIBITED_FIELD_OR_SEGMENT_WITH_METRIC``) → ``MetricsRefused``, a PermanentError naming the
  metrics Google quoted, so the connector can ask again without them.
- ``INTERNAL``, ``UNAVAILABLE``, ``DEADLINE_EXCEEDED`` (and ``ABORTED``/``UNKNOWN``) → TransientError.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import import_module
from typing import Any

import grpc
from google.ads.googleads.errors import GoogleAdsException
from google.api_core import exceptions as core_exceptions
from google.auth import exceptions as auth_exceptions
from google.rpc import error_details_pb2

from connectors.errors import AuthError, ConnectorError, PermanentError, RateLimited, TransientError
from connectors.google_ads import API_VERSION
from connectors.google_ads.records import format_customer_id
from connectors.redaction import redact

FAILURE_KEY = f"google.ads.googleads.{API_VERSION}.errors.googleadsfailure-bin"
FAILURE_TYPE = f"type.googleapis.com/google.ads.googleads.{API_VERSION}.errors.GoogleAdsFailure"
RETRY_INFO_TYPE = "type.googleapis.com/google.rpc.RetryInfo"

TRANSIENT = {
    grpc.StatusCode.INTERNAL,
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.ABORTED,
    grpc.StatusCode.UNKNOWN,
}
HTTP_EQUIVALENT = {
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
}
# Authentication errors a token refresh cannot cure: the user or account is the problem.
WRONG_USER = {
    "NOT_ADS_USER",
    "GOOGLE_ACCOUNT_DELETED",
    "GOOGLE_ACCOUNT_USER_AND_ADS_USER_MISMATCH",
    "TWO_STEP_VERIFICATION_NOT_ENROLLED",
    "ADVANCED_PROTECTION_NOT_ENROLLED",
}
BAD_CUSTOMER = {"CUSTOMER_NOT_FOUND", "CLIENT_CUSTOMER_ID_INVALID", "INVALID_CUSTOMER_ID"}
APP_NOT_APPROVED = {
    "DEVELOPER_TOKEN_NOT_ON_ALLOWLIST",
    "DEVELOPER_TOKEN_PROHIBITED",
    "DEVELOPER_TOKEN_NOT_APPROVED",
    "DEVELOPER_TOKEN_INVALID",
    "PROJECT_DISABLED",
    "CLOUD_PROJECT_NOT_APPROVED_FOR_PRODUCTION",
    "CLOUD_PROJECT_NOT_UNDER_ORGANIZATION",
    "ORGANIZATION_NOT_APPROVED",
    "ORGANIZATION_NOT_RECOGNIZED",
    "ORGANIZATION_NOT_ASSOCIATED_WITH_DEVELOPER_TOKEN",
}
NOT_ENABLED = {"CUSTOMER_NOT_ENABLED", "ACTION_NOT_PERMITTED_FOR_SUSPENDED_ACCOUNT"}
# Query errors for a metric Google cannot give with the query's resource, fields or segments.
METRIC_REFUSED = {"PROHIBITED_METRIC_IN_SELECT_OR_WHERE_CLAUSE", "PROHIBITED_FIELD_OR_SEGMENT_WITH_METRIC"}
# How those errors name the metrics: "Cannot select or filter on the following metrics: 'conversions'
# (could not support requested resources: 'CAMPAIGN'), ...": metric names are quoted snake_case
# (sometimes with their ``metrics.`` prefix), resources quoted in capitals.
QUOTED_METRIC = re.compile(r"'(?:metrics\.)?([a-z][a-z0-9_]*)'")


class MetricsRefused(PermanentError):
    """The query was refused for metrics that do not fit it; ``metrics`` are their GAQL names
    without ``metrics.`` (empty when Google's message did not name them), ``said`` Google's words."""

    def __init__(
        self,
        message: str,
        *,
        metrics: tuple[str, ...],
        said: str = "",
        status: int | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message, status=status, code=code)
        self.metrics = metrics
        self.said = redact(said)


@dataclass(frozen=True)
class AdsError:
    family: str  # the ErrorCode oneof: "authorization_error", "quota_error", ...
    name: str  # the enum value: "USER_PERMISSION_DENIED"
    message: str
    retry_delay: float | None = None

    @property
    def code(self) -> str:
        return f"{self.family}.{self.name}" if self.family else self.name


@dataclass(frozen=True)
class Failure:
    status: grpc.StatusCode | None
    details: str
    errors: tuple[AdsError, ...]
    request_id: str | None
    retry_delay: float | None

    def names(self) -> set[str]:
        return {error.name for error in self.errors}

    def families(self) -> set[str]:
        return {error.family for error in self.errors}

    @property
    def code(self) -> str | None:
        if self.errors:
            return self.errors[0].code
        return self.status.name if self.status is not None else None

    @property
    def message(self) -> str:
        text = "; ".join(dict.fromkeys(e.message for e in self.errors if e.message)) or self.details
        reference = f" (request id {self.request_id})" if self.request_id else ""
        return f"{text}{reference}" if text else reference.strip()


@dataclass(frozen=True)
class CallContext:
    """What the failed call was about, for messages that say what to fix."""

    customer_id: str
    login_customer_id: str | None = None


def _seconds(delay: Any) -> float | None:
    if isinstance(delay, datetime.timedelta):
        return delay.total_seconds() or None
    seconds = getattr(delay, "seconds", None)
    if seconds is None:
        return None
    return (float(seconds) + float(getattr(delay, "nanos", 0)) / 1e9) or None


def _failure_module() -> Any:
    return import_module(f"google.ads.googleads.{API_VERSION}.errors.types.errors")


def _ads_errors(failure: Any) -> tuple[AdsError, ...]:
    found = []
    for error in getattr(failure, "errors", ()):
        code = type(error.error_code).pb(error.error_code)
        family = code.WhichOneof("error_code") or ""
        name = ""
        if family:
            number = getattr(code, family)
            enum_type = code.DESCRIPTOR.fields_by_name[family].enum_type
            value = enum_type.values_by_number.get(number)
            name = value.name if value is not None else str(number)
        delay = None
        if "quota_error_details" in error.details:
            delay = _seconds(error.details.quota_error_details.retry_delay)
        found.append(AdsError(family, name, str(error.message or ""), delay))
    return tuple(found)


def _failure_from_metadata(metadata: Iterable[tuple[str, Any]] | None) -> Any:
    for key, raw in metadata or ():
        if key == FAILURE_KEY and isinstance(raw, bytes):
            try:
                return _failure_module().GoogleAdsFailure.deserialize(raw)
            except Exception:  # an unreadable trailer counts as absent
                return None
    return None


def _from_status_details(details: Sequence[Any]) -> tuple[Any, float | None]:
    """The GoogleAdsFailure and RetryInfo delay packed in ``grpc-status-details-bin``, if any."""
    failure, delay = None, None
    for item in details or ():
        type_url = getattr(item, "type_url", "")
        if type_url == FAILURE_TYPE and failure is None:
            try:
                failure = _failure_module().GoogleAdsFailure.deserialize(item.value)
            except Exception:
                failure = None
        elif type_url == RETRY_INFO_TYPE:
            info = error_details_pb2.RetryInfo()
            if item.Unpack(info):
                delay = _seconds(info.retry_delay)
        elif isinstance(item, error_details_pb2.RetryInfo):
            delay = _seconds(item.retry_delay)
    return failure, delay


def _metadata_of(call: Any) -> Any:
    reader = getattr(call, "trailing_metadata", None)
    try:
        return reader() if callable(reader) else None
    except Exception:  # a call without trailers yet
        return None


def _request_id(metadata: Iterable[tuple[str, Any]] | None) -> str | None:
    for key, raw in metadata or ():
        if key == "request-id":
            return raw.decode() if isinstance(raw, bytes) else str(raw)
    return None


def read_failure(exc: BaseException) -> Failure | None:
    """The status and Google Ads errors of a failed library call; None for anything else."""
    if isinstance(exc, GoogleAdsException):
        status = exc.error.code() if hasattr(exc.error, "code") else None
        details = exc.error.details() if hasattr(exc.error, "details") else ""
        errors = _ads_errors(exc.failure)
        return Failure(status, details or "", errors, exc.request_id, _first_delay(errors, None))
    if isinstance(exc, core_exceptions.GoogleAPICallError):
        metadata = _metadata_of(exc.response)
        failure = _failure_from_metadata(metadata)
        detail_failure, delay = _from_status_details(exc.details)
        errors = _ads_errors(failure or detail_failure)
        request_id = _request_id(metadata) or getattr(failure or detail_failure, "request_id", None) or None
        return Failure(
            exc.grpc_status_code, exc.message or "", errors, request_id, _first_delay(errors, delay)
        )
    if isinstance(exc, grpc.RpcError) and hasattr(exc, "code"):
        metadata = _metadata_of(exc)
        errors = _ads_errors(_failure_from_metadata(metadata))
        details = exc.details() if hasattr(exc, "details") else ""
        return Failure(exc.code(), details or "", errors, _request_id(metadata), _first_delay(errors, None))
    return None


def _first_delay(errors: Sequence[AdsError], fallback: float | None) -> float | None:
    return next((e.retry_delay for e in errors if e.retry_delay), fallback)


def translate(exc: BaseException, context: CallContext) -> ConnectorError | None:
    """The shared error for a failed call, or None when the exception is not an API failure."""
    if isinstance(exc, auth_exceptions.RefreshError):
        return AuthError(
            "Google refused the access token and it could not be renewed. Reconnect the account."
        )
    if isinstance(exc, auth_exceptions.TransportError):
        return TransientError("Google's sign-in service could not be reached")
    failure = read_failure(exc)
    if failure is None:
        return None
    return classify(failure, context)


def classify(failure: Failure, context: CallContext) -> ConnectorError:
    status, families, names = failure.status, failure.families(), failure.names()
    http = HTTP_EQUIVALENT.get(status) if status is not None else None
    code = failure.code
    said = f"Google Ads answered {status.name if status else 'an error'}: {failure.message}".rstrip(": ")
    if status == grpc.StatusCode.RESOURCE_EXHAUSTED or "quota_error" in families:
        return RateLimited(_quota_message(failure), retry_after=failure.retry_delay, status=429, code=code)
    if names & BAD_CUSTOMER:
        return PermanentError(_bad_customer_message(context, said), status=http, code=code)
    if names & APP_NOT_APPROVED:
        return PermanentError(_app_message(said), status=http, code=code)
    if status == grpc.StatusCode.UNAUTHENTICATED or "authentication_error" in families:
        if names & WRONG_USER:
            return AuthError(
                f"{said}. Reconnect with a Google user who has access to this account.",
                status=http,
                code=code,
            )
        return AuthError(f"{said}. The access token was rejected.", status=http, code=code, expired=True)
    if status in TRANSIENT or "internal_error" in families:
        return TransientError(said, status=http, code=code)
    if status == grpc.StatusCode.PERMISSION_DENIED or "authorization_error" in families:
        return PermanentError(_permission_message(failure, context, said), status=http, code=code)
    if "query_error" in families:
        message = (
            f"{said}. The report query does not fit Google Ads API {API_VERSION}; the connector's field list "
            "(connectors/google_ads/mapping.py) needs updating for this version."
        )
        if names & METRIC_REFUSED:
            return MetricsRefused(
                message, metrics=refused_metrics(failure), said=said, status=http, code=code
            )
        return PermanentError(message, status=http, code=code)
    if status == grpc.StatusCode.UNIMPLEMENTED:
        return PermanentError(
            f"{said}. Google Ads may no longer serve API {API_VERSION}: upgrade the google-ads package and "
            "API_VERSION in connectors/google_ads/__init__.py.",
            status=http,
            code=code,
        )
    return PermanentError(said, status=http, code=code)


def refused_metrics(failure: Failure) -> tuple[str, ...]:
    """The metrics a refused query's errors quote, in order, once each."""
    found = [
        name
        for error in failure.errors
        if error.name in METRIC_REFUSED
        for name in QUOTED_METRIC.findall(error.message)
    ]
    return tuple(dict.fromkeys(found))


def _quota_message(failure: Failure) -> str:
    wait = f"; Google asks to wait {failure.retry_delay:g} s" if failure.retry_delay else ""
    return f"Google Ads API quota exhausted ({failure.message or 'RESOURCE_EXHAUSTED'}){wait}"


def _bad_customer_message(context: CallContext, said: str) -> str:
    return (
        f"{said}. {format_customer_id(context.customer_id)} is not a Google Ads customer id this user can "
        "reach: use the account's 10-digit id (shown as 123-456-7890 in Google Ads), and set the "
        "login_customer_id option to the manager account's id when the account is reached through a manager."
    )


def _app_message(said: str) -> str:
    return (
        f"{said}. This installation's Google Cloud project (the one owning GOOGLE_ADS_CLIENT_ID) is not "
        "allowed to call the Google Ads API in production: enable the API on the project and apply for "
        "Basic or Standard access. A GOOGLE_ADS_DEVELOPER_TOKEN, if set, must be valid or left empty."
    )


def _permission_message(failure: Failure, context: CallContext, said: str) -> str:
    account = format_customer_id(context.customer_id)
    if failure.names() & NOT_ENABLED:
        return (
            f"{said}. Google Ads account {account} is not enabled (cancelled, suspended or not set up yet)."
        )
    if context.login_customer_id and context.login_customer_id != context.customer_id:
        manager = format_customer_id(context.login_customer_id)
        return (
            f"{said}. Account {account} cannot be reached through manager {manager}: check that it is a "
            "client of that manager (the login_customer_id option) and that the connected Google user can "
            "open the manager."
        )
    return (
        f"{said}. The connected Google user cannot open account {account}. If the account is managed "
        "through a manager (MCC) account, set the login_customer_id option to the manager's id; otherwise "
        "reconnect with a user who has access to the account."
    )


def no_access_message(entry: str, login: str | None, customer_id: str) -> str:
    """For an account (or manager) missing from the user's ListAccessibleCustomers answer."""
    if login:
        return (
            f"The connected Google user cannot open manager account {format_customer_id(entry)} (the "
            "login_customer_id option). Check the id, or reconnect with a Google user who has access to "
            "that manager."
        )
    return (
        f"The connected Google user cannot open account {format_customer_id(customer_id)} directly. If the "
        "account is managed through a manager (MCC) account, set the login_customer_id option to the "
        "manager's id; otherwise reconnect with a Google user who has access to the account."
    )
