"""The sandbox's gRPC services: ``GoogleAdsService`` (SearchStream, Search) and ``CustomerService``
(ListAccessibleCustomers), registered under their real names with the protobuf messages the
installed ``google-ads`` package ships for the pinned API version, served over TLS.

Failures are sent the way the API sends them: a gRPC status and message, the serialized
``GoogleAdsFailure`` in the ``google.ads.googleads.<version>.errors.googleadsfailure-bin`` trailer,
the same failure packed in ``grpc-status-details-bin`` (a ``google.rpc.Status``) and a
``request-id`` trailer. Throttles carry ``quota_error_details`` with ``rate_scope``, ``rate_name``
and ``retry_delay``. SearchStream sends up to ``stream_batch_rows`` rows per message (10,000 on the
real service); ``query_resource_consumption`` is only in the last one.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import import_module
from typing import TYPE_CHECKING, Any, Final, NoReturn

import grpc
from google.protobuf import any_pb2
from google.rpc import status_pb2

from connectors.google_ads import API_VERSION
from sandbox.google_ads import reports
from sandbox.google_ads.tls import SandboxTls
from sandbox.paging import offset_token, page_of, token_offset

if TYPE_CHECKING:
    from sandbox.google_ads.app import GoogleAdsSandbox

SERVICES: Final = f"google.ads.googleads.{API_VERSION}.services"
GOOGLE_ADS_SERVICE: Final = f"{SERVICES}.GoogleAdsService"
CUSTOMER_SERVICE: Final = f"{SERVICES}.CustomerService"
SEARCH_STREAM: Final = f"/{GOOGLE_ADS_SERVICE}/SearchStream"
SEARCH: Final = f"/{GOOGLE_ADS_SERVICE}/Search"
LIST_ACCESSIBLE: Final = f"/{CUSTOMER_SERVICE}/ListAccessibleCustomers"
FAILURE_KEY: Final = f"google.ads.googleads.{API_VERSION}.errors.googleadsfailure-bin"
SUMMARY_ROW_WITH_RESULTS: Final = 3  # SummaryRowSettingEnum: summary rows are not imitated

_ads_types = import_module(f"{SERVICES}.types.google_ads_service")
_customer_types = import_module(f"{SERVICES}.types.customer_service")
_errors = import_module(f"google.ads.googleads.{API_VERSION}.errors.types.errors")
StreamRequest: Final[Any] = _ads_types.SearchGoogleAdsStreamRequest.pb()
StreamResponse: Final[Any] = _ads_types.SearchGoogleAdsStreamResponse.pb()
SearchRequest: Final[Any] = _ads_types.SearchGoogleAdsRequest.pb()
SearchResponse: Final[Any] = _ads_types.SearchGoogleAdsResponse.pb()
AccessibleRequest: Final[Any] = _customer_types.ListAccessibleCustomersRequest.pb()
AccessibleResponse: Final[Any] = _customer_types.ListAccessibleCustomersResponse.pb()
GoogleAdsFailure: Final[Any] = _errors.GoogleAdsFailure.pb()

USER_PERMISSION_NOTE: Final = (
    "User doesn't have permission to access customer. Note: If you're accessing a client customer, the "
    "manager's customer id must be set in the 'login-customer-id' header. See "
    "https://developers.google.com/google-ads/api/docs/concepts/call-structure#cid"
)


@dataclass
class RpcFailure(Exception):
    """One failed call: its gRPC status and the one GoogleAdsError it carries (if any)."""

    status: grpc.StatusCode
    message: str
    family: str = ""  # ErrorCode oneof field; empty: a bare status without GoogleAdsFailure
    name: str = ""
    retry_delay: float | None = None
    rate_name: str = ""
    rate_scope: str = "DEVELOPER"


class _Status(grpc.Status):
    def __init__(
        self, code: grpc.StatusCode, details: str, trailing_metadata: tuple[tuple[str, Any], ...]
    ) -> None:
        self.code = code
        self.details = details
        self.trailing_metadata = trailing_metadata


def _failure_message(failure: RpcFailure, request_id: str) -> Any:
    ads_failure = GoogleAdsFailure(request_id=request_id)
    error = ads_failure.errors.add(message=failure.message)
    reports.set_field(error.error_code, failure.family, failure.name)
    if failure.retry_delay is not None:
        details = error.details.quota_error_details
        reports.set_field(details, "rate_scope", failure.rate_scope)
        details.rate_name = failure.rate_name
        details.retry_delay.seconds = int(failure.retry_delay)
        details.retry_delay.nanos = int(round((failure.retry_delay - int(failure.retry_delay)) * 1e9))
    return ads_failure


def status_of(failure: RpcFailure, request_id: str) -> grpc.Status:
    trailers: list[tuple[str, Any]] = [("request-id", request_id)]
    status = status_pb2.Status(code=failure.status.value[0], message=failure.message)
    if failure.family:
        ads_failure = _failure_message(failure, request_id)
        packed = any_pb2.Any()
        packed.Pack(ads_failure)
        status.details.append(packed)
        trailers.append((FAILURE_KEY, ads_failure.SerializeToString()))
    trailers.append(("grpc-status-details-bin", status.SerializeToString()))
    return _Status(failure.status, failure.message, tuple(trailers))


def _abort(context: grpc.ServicerContext, failure: RpcFailure, request_id: str) -> NoReturn:
    context.abort_with_status(status_of(failure, request_id))
    raise AssertionError("abort_with_status returns only by raising")  # pragma: no cover


def report_failure(exc: reports.ReportError | reports.NotImitated) -> RpcFailure:
    if isinstance(exc, reports.NotImitated):
        return RpcFailure(grpc.StatusCode.UNIMPLEMENTED, f"Not imitated by the sandbox: {exc}")
    return RpcFailure(exc.status, exc.message, exc.family, exc.name)


def request_id() -> str:
    return secrets.token_urlsafe(16)


def _query_digest(customer_id: str, query: str) -> str:
    return hashlib.sha256(f"{customer_id}\n{query}".encode()).hexdigest()[:16]


def _page_token(customer_id: str, query: str, offset: int) -> str:
    return offset_token(_query_digest(customer_id, query), offset, padded=True)


def _page_offset(token: str, customer_id: str, query: str) -> int:
    """The offset of a token this server issued for this query, to the letter."""
    if not token:
        return 0
    offset = token_offset(token, _query_digest(customer_id, query))
    if offset is not None and _page_token(customer_id, query, offset) == token:
        return offset
    raise RpcFailure(
        grpc.StatusCode.INVALID_ARGUMENT, "Page token is invalid.", "request_error", "INVALID_PAGE_TOKEN"
    )


class GoogleAdsServicer:
    """The handlers; every rule about callers, tokens and faults lives in the app."""

    def __init__(self, app: GoogleAdsSandbox) -> None:
        self.app = app

    def search_stream(self, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        rid = request_id()
        context.send_initial_metadata((("request-id", rid),))  # where the library looks for a stream's id
        try:
            faults = self.app.admit(SEARCH_STREAM, context)
            report = self._report(request.customer_id, request.query, context)
            if request.summary_row_setting >= SUMMARY_ROW_WITH_RESULTS:
                raise RpcFailure(grpc.StatusCode.UNIMPLEMENTED, "Not imitated by the sandbox: summary rows")
        except RpcFailure as failure:
            _abort(context, failure, rid)
        rows = report.rows
        self.app.maybe_malform(SEARCH_STREAM, rows)
        size = self.app.stream_batch_rows
        batches = [rows[i : i + size] for i in range(0, len(rows), size)] or [[]]
        for index, batch in enumerate(batches):
            if faults.cut_after is not None and index == faults.cut_after:
                _abort(context, self.app.cut_failure(faults, context), rid)
            response = StreamResponse(request_id=rid)
            response.results.extend(self.app.silent_gap(SEARCH_STREAM, batch))
            response.field_mask.paths.extend(report.field_paths)
            if index == len(batches) - 1:
                response.query_resource_consumption = 50 + len(rows) // 20
            self.app.served(request.customer_id, report.resource, len(batch))
            yield response
        if faults.cut_after is not None:
            _abort(context, self.app.cut_failure(faults, context), rid)
        context.set_trailing_metadata((("request-id", rid),))

    def search(self, request: Any, context: grpc.ServicerContext) -> Any:
        rid = request_id()
        try:
            faults = self.app.admit(SEARCH, context)
            if faults.cut_after is not None:
                raise self.app.cut_failure(faults, context)
            if request.page_size:
                raise RpcFailure(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    "Setting the page size is not supported. Search Responses will have fixed page size of "
                    "'10000' rows.",
                    "request_error",
                    "PAGE_SIZE_NOT_SUPPORTED",
                )
            if request.search_settings.return_summary_row:
                raise RpcFailure(grpc.StatusCode.UNIMPLEMENTED, "Not imitated by the sandbox: summary rows")
            report = self._report(request.customer_id, request.query, context)
            offset = _page_offset(request.page_token, request.customer_id, request.query)
        except RpcFailure as failure:
            _abort(context, failure, rid)
        rows = [] if request.validate_only else report.rows
        page = page_of(rows, offset, self.app.search_page_rows)
        response = SearchResponse(query_resource_consumption=50 + len(rows) // 20)
        response.results.extend(page.items)
        response.field_mask.paths.extend(report.field_paths)
        if page.next_offset is not None:
            response.next_page_token = _page_token(request.customer_id, request.query, page.next_offset)
        if request.search_settings.return_total_results_count:
            response.total_results_count = len(rows)
        self.app.served(request.customer_id, report.resource, len(page.items))
        context.set_trailing_metadata((("request-id", rid),))
        return response

    def list_accessible_customers(self, request: Any, context: grpc.ServicerContext) -> Any:
        rid = request_id()
        try:
            faults = self.app.admit(LIST_ACCESSIBLE, context)
            if faults.cut_after is not None:
                raise self.app.cut_failure(faults, context)
        except RpcFailure as failure:
            _abort(context, failure, rid)
        context.set_trailing_metadata((("request-id", rid),))
        return AccessibleResponse(resource_names=[f"customers/{c.id}" for c in self.app.accessible()])

    def _report(self, customer_id: str, query: str, context: grpc.ServicerContext) -> reports.Report:
        customer = self.app.target(customer_id, context)
        try:
            return reports.run(
                query,
                customer,
                self.app.today_for(customer),
                unreported=self.app.unreported_metrics,
                refused=self.app.refused_metrics.get(customer.id, frozenset()),
                restated=self.app.restated_metrics,
            )
        except (reports.ReportError, reports.NotImitated) as exc:
            raise report_failure(exc) from None


def _serialize(message: Any) -> bytes:
    return bytes(message.SerializeToString())


def start_server(app: GoogleAdsSandbox, tls: SandboxTls, host: str, port: int) -> tuple[grpc.Server, int]:
    """Serve the services over TLS on ``host:port`` (0: any free port); returns the server and port."""
    servicer = GoogleAdsServicer(app)
    server = grpc.server(ThreadPoolExecutor(max_workers=16, thread_name_prefix="google-ads-sandbox"))
    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                GOOGLE_ADS_SERVICE,
                {
                    "SearchStream": grpc.unary_stream_rpc_method_handler(
                        servicer.search_stream,
                        request_deserializer=StreamRequest.FromString,
                        response_serializer=_serialize,
                    ),
                    "Search": grpc.unary_unary_rpc_method_handler(
                        servicer.search,
                        request_deserializer=SearchRequest.FromString,
                        response_serializer=_serialize,
                    ),
                },
            ),
            grpc.method_handlers_generic_handler(
                CUSTOMER_SERVICE,
                {
                    "ListAccessibleCustomers": grpc.unary_unary_rpc_method_handler(
                        servicer.list_accessible_customers,
                        request_deserializer=AccessibleRequest.FromString,
                        response_serializer=_serialize,
                    )
                },
            ),
        )
    )
    credentials = grpc.ssl_server_credentials([(tls.server_key_pem, tls.server_cert_pem)])
    bound = server.add_secure_port(f"{host}:{port}", credentials)
    if not bound:
        raise OSError(f"the Google Ads sandbox could not listen on {host}:{port}")
    server.start()
    return server, bound
