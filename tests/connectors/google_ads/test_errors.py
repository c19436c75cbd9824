"""The mapping of Google Ads failures to the shared errors, for shapes the sandbox does not send:
bare gRPC errors, RetryInfo details, and error codes of the app's or the user's making."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from google.api_core import exceptions as core_exceptions
from google.auth import exceptions as auth_exceptions
from google.protobuf import any_pb2, duration_pb2
from google.rpc import error_details_pb2

from connectors.errors import AuthError, ConnectorError, PermanentError, RateLimited, TransientError
from connectors.google_ads import errors
from sandbox.google_ads.grpc_service import RpcFailure, status_of

pytestmark = pytest.mark.embedded

CONTEXT = errors.CallContext("5550001001", "5550001000")


class BareRpcError(grpc.RpcError):
    """What gRPC raises when nothing above it decoded the failure."""

    def __init__(self, status: grpc.Status) -> None:
        self._status = status

    def code(self) -> grpc.StatusCode:
        return self._status.code

    def details(self) -> str:
        return str(self._status.details)

    def trailing_metadata(self) -> Any:
        return self._status.trailing_metadata


def bare(status: grpc.StatusCode, family: str = "", name: str = "", **extra: Any) -> BareRpcError:
    return BareRpcError(
        status_of(RpcFailure(status, f"{name or status.name} happened", family, name, **extra), "r1")
    )


def test_a_bare_throttle_carries_its_retry_delay() -> None:
    error = errors.translate(
        bare(
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            "quota_error",
            "RESOURCE_TEMPORARILY_EXHAUSTED",
            retry_delay=2.5,
        ),
        CONTEXT,
    )
    assert isinstance(error, RateLimited) and error.retry_after == 2.5
    assert error.code == "quota_error.RESOURCE_TEMPORARILY_EXHAUSTED" and "request id r1" in error.message


def test_a_retry_info_detail_gives_the_delay_when_the_failure_has_none() -> None:
    info = error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=7))
    packed = any_pb2.Any()
    packed.Pack(info)
    exc = core_exceptions.ResourceExhausted("Resource has been exhausted", details=[packed])
    error = errors.translate(exc, CONTEXT)
    assert isinstance(error, RateLimited) and error.retry_after == 7


@pytest.mark.parametrize(
    ("status", "family", "name", "kind", "words"),
    [
        (grpc.StatusCode.UNAUTHENTICATED, "", "", AuthError, "access token was rejected"),
        (
            grpc.StatusCode.UNAUTHENTICATED,
            "authentication_error",
            "OAUTH_TOKEN_REVOKED",
            AuthError,
            "rejected",
        ),
        (grpc.StatusCode.UNAUTHENTICATED, "authentication_error", "NOT_ADS_USER", AuthError, "Google user"),
        (
            grpc.StatusCode.UNAUTHENTICATED,
            "authentication_error",
            "CUSTOMER_NOT_FOUND",
            PermanentError,
            "10-digit",
        ),
        (
            grpc.StatusCode.PERMISSION_DENIED,
            "authorization_error",
            "CLOUD_PROJECT_NOT_APPROVED_FOR_PRODUCTION",
            PermanentError,
            "GOOGLE_ADS_CLIENT_ID",
        ),
        (
            grpc.StatusCode.PERMISSION_DENIED,
            "authorization_error",
            "DEVELOPER_TOKEN_NOT_APPROVED",
            PermanentError,
            "GOOGLE_ADS_DEVELOPER_TOKEN",
        ),
        (
            grpc.StatusCode.PERMISSION_DENIED,
            "authorization_error",
            "USER_PERMISSION_DENIED",
            PermanentError,
            "manager",
        ),
        (grpc.StatusCode.INVALID_ARGUMENT, "query_error", "UNRECOGNIZED_FIELD", PermanentError, "mapping.py"),
        (
            grpc.StatusCode.INVALID_ARGUMENT,
            "request_error",
            "INVALID_CUSTOMER_ID",
            PermanentError,
            "10-digit",
        ),
        (grpc.StatusCode.UNIMPLEMENTED, "", "", PermanentError, "upgrade the google-ads package"),
        (grpc.StatusCode.INTERNAL, "internal_error", "INTERNAL_ERROR", TransientError, "INTERNAL"),
        (grpc.StatusCode.UNAVAILABLE, "", "", TransientError, "UNAVAILABLE"),
        (grpc.StatusCode.DEADLINE_EXCEEDED, "", "", TransientError, "DEADLINE_EXCEEDED"),
    ],
)
def test_each_failure_maps_to_one_shared_error(
    status: grpc.StatusCode, family: str, name: str, kind: type, words: str
) -> None:
    error = errors.translate(bare(status, family, name), CONTEXT)
    assert isinstance(error, ConnectorError) and words in error.message
    assert type(error) is kind


def test_an_expired_token_may_be_refreshed_but_a_wrong_user_may_not() -> None:
    expired = errors.translate(
        bare(grpc.StatusCode.UNAUTHENTICATED, "authentication_error", "OAUTH_TOKEN_EXPIRED"), CONTEXT
    )
    wrong_user = errors.translate(
        bare(grpc.StatusCode.UNAUTHENTICATED, "authentication_error", "NOT_ADS_USER"), CONTEXT
    )
    assert isinstance(expired, AuthError) and expired.expired and expired.status == 401
    assert isinstance(wrong_user, AuthError) and not wrong_user.expired


def test_google_auth_failures_map_too() -> None:
    assert isinstance(errors.translate(auth_exceptions.RefreshError("no"), CONTEXT), AuthError)
    assert isinstance(errors.translate(auth_exceptions.TransportError("down"), CONTEXT), TransientError)


def test_anything_else_is_not_an_api_failure() -> None:
    assert errors.translate(KeyError("bug"), CONTEXT) is None
