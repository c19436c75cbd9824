"""The google-ads client library, set up for one connection: credentials, endpoint, TLS, services.

``GoogleAdsClient`` is built from a validated dict config (developer token only when one is set:
Google ignores it since 2026-09-09; ``login_customer_id`` when the calls go through a manager) and
a ``google.oauth2.credentials.Credentials`` carrying the access token that the shared OAuth
machinery keeps fresh. The library never refreshes on its own: it gets no refresh token.

``GoogleAdsClient.get_service`` cannot be given channel credentials, so a custom trust root
(``GOOGLE_ADS_CA_CERT``, e.g. for the sandbox or a TLS-inspecting proxy) would be impossible with
it. The session therefore assembles the same stack ``get_service`` does, from the library's own
parts: the service's generated gRPC transport and its ``create_channel`` (with
``grpc.ssl_channel_credentials``, the system roots when no certificate is configured), wrapped in
the library's metadata (developer-token, login-customer-id), logging and exception interceptors.
One code path serves the real API and the sandbox.
"""

from __future__ import annotations

import logging
from importlib import import_module, metadata
from pathlib import Path
from typing import Any

import grpc
from google.ads.googleads import config as ads_config
from google.ads.googleads.client import GoogleAdsClient
from google.ads.googleads.interceptors import ExceptionInterceptor, LoggingInterceptor, MetadataInterceptor
from google.api_core.gapic_v1.client_info import ClientInfo
from google.oauth2.credentials import Credentials

from connectors.errors import PermanentError
from connectors.google_ads import API_VERSION
from connectors.platform_settings import value

# The library's logger: one WARNING line per failed call, request and response bodies at DEBUG.
library_logger = logging.getLogger("google.ads.googleads.client")

# The channel options the library itself uses (large metadata for error details, large batches).
CHANNEL_OPTIONS = (
    ("grpc.max_metadata_size", 16 * 1024 * 1024),
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
)


def _client_info() -> ClientInfo:
    try:
        return ClientInfo(client_library_version=metadata.version("google-ads"))
    except metadata.PackageNotFoundError:  # pragma: no cover - the package is a dependency
        return ClientInfo()


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() and i else c.lower() for i, c in enumerate(name))


def trusted_roots() -> bytes | None:
    """The PEM of GOOGLE_ADS_CA_CERT, or None for the system's trust store."""
    path = str(value("google_ads", "CA_CERT") or "")
    if not path:
        return None
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise PermanentError(
            f"GOOGLE_ADS_CA_CERT points at {path}, which cannot be read ({exc.strerror})"
        ) from None


class AdsSession:
    """Service clients of one connection, one channel per login customer id, closed together."""

    def __init__(self) -> None:
        self.credentials = Credentials(token=None)
        self._services: dict[tuple[str, str | None], Any] = {}

    def use_token(self, access_token: str) -> None:
        """Every call reads the token from these credentials, so open channels pick it up too."""
        self.credentials.token = access_token or None

    def google_ads(self, login_customer_id: str | None) -> Any:
        return self.service("GoogleAdsService", login_customer_id)

    def customers(self) -> Any:
        return self.service("CustomerService", None)

    def service(self, name: str, login_customer_id: str | None) -> Any:
        key = (name, login_customer_id)
        if key not in self._services:
            self._services[key] = self._build(name, self._client(login_customer_id))
        return self._services[key]

    def close(self) -> None:
        services, self._services = self._services, {}
        for service in services.values():
            service.transport.close()

    def _client(self, login_customer_id: str | None) -> GoogleAdsClient:
        config: dict[str, Any] = {"use_proto_plus": True, "endpoint": str(value("google_ads", "API_ENDPOINT"))}
        developer_token = value("google_ads", "DEVELOPER_TOKEN")
        if developer_token:
            config["developer_token"] = str(developer_token)
        if login_customer_id:
            config["login_customer_id"] = login_customer_id
        try:
            checked = ads_config.load_from_dict(config)
        except ValueError as exc:
            raise PermanentError(f"The Google Ads client configuration is invalid: {exc}") from None
        return GoogleAdsClient(
            credentials=self.credentials,
            developer_token=checked.get("developer_token"),
            endpoint=checked.get("endpoint"),
            login_customer_id=checked.get("login_customer_id"),
            use_proto_plus=bool(checked["use_proto_plus"]),
            version=API_VERSION,
        )

    @staticmethod
    def _build(name: str, client: GoogleAdsClient) -> Any:
        module = import_module(f"google.ads.googleads.{API_VERSION}.services.services.{_snake(name)}")
        client_class = getattr(module, f"{name}Client")
        transport_class = client_class.get_transport_class("grpc")
        channel = transport_class.create_channel(
            host=client.endpoint,
            credentials=client.credentials,
            ssl_credentials=grpc.ssl_channel_credentials(root_certificates=trusted_roots()),
            options=list(CHANNEL_OPTIONS),
        )
        channel = grpc.intercept_channel(
            channel,
            MetadataInterceptor(client.developer_token, client.login_customer_id, client.linked_customer_id),
            LoggingInterceptor(library_logger, API_VERSION, client.endpoint),
            ExceptionInterceptor(API_VERSION, use_proto_plus=client.use_proto_plus),
        )
        transport = transport_class(channel=channel, client_info=_client_info())
        return client_class(transport=transport)
