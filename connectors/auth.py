"""Tokens and OAuth: what a connector needs to authenticate, and how tokens are refreshed.

``TokenSet`` is the plain-data form of a connection's credentials. ``OAuthSpec`` says, per
platform, where and how to refresh. ``refresh_token_set`` performs the refresh with
requests-oauthlib, maps every failure to the shared error types and keeps a rotated refresh
token when the platform sends one (and the old one when it does not).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import requests
from django.conf import settings
from oauthlib.oauth2 import OAuth2Error
from requests_oauthlib import OAuth2Session

from connectors.errors import AuthError, ConnectorError, PermanentError, RateLimited, TransientError
from connectors.http import require_secure_url, retrying


@dataclass(frozen=True)
class TokenSet:
    access_token: str = ""
    refresh_token: str = ""
    expires_at: float | None = None  # epoch seconds
    refresh_expires_at: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # anything else a platform returns or needs

    def expires_within(self, seconds: float) -> bool:
        if not self.access_token:
            return True
        return self.expires_at is not None and self.expires_at - time.time() < seconds

    def to_dict(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "expires_at": self.expires_at,
            "refresh_expires_at": self.refresh_expires_at,
            **self.extra,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TokenSet:
        known = {"access_token", "refresh_token", "expires_at", "refresh_expires_at"}
        return cls(
            access_token=data.get("access_token") or "",
            refresh_token=data.get("refresh_token") or "",
            expires_at=_float_or_none(data.get("expires_at")),
            refresh_expires_at=_float_or_none(data.get("refresh_expires_at")),
            extra={k: v for k, v in data.items() if k not in known},
        )


def _float_or_none(value: Any) -> float | None:
    return None if value in (None, "") else float(value)


@dataclass(frozen=True)
class OAuthSpec:
    """How a platform authorizes and refreshes.

    Its URLs and app credentials are the platform's settings (``connectors/<platform>/settings.py``):
    ``<PREFIX>_TOKEN_URL``, ``<PREFIX>_CLIENT_ID``, ``<PREFIX>_CLIENT_SECRET`` and, for a platform with a
    consent page, ``<PREFIX>_AUTHORIZE_URL``. The prefix is the connector's platform in capitals,
    filled in when the connector class is defined.
    """

    scopes: tuple[str, ...] = ()
    refreshable: bool = True
    rotates_refresh_token: bool = False
    extra_authorize_params: dict[str, str] = field(default_factory=dict)
    settings_prefix: str = ""

    def setting_name(self, name: str) -> str:
        return f"{self.settings_prefix}_{name}"

    def _setting(self, name: str) -> str:
        return str(getattr(settings, self.setting_name(name), "") or "")

    @property
    def token_url(self) -> str:
        return self._setting("TOKEN_URL")

    @property
    def client_id(self) -> str:
        return self._setting("CLIENT_ID")

    @property
    def client_secret(self) -> str:
        return self._setting("CLIENT_SECRET")

    @property
    def has_consent_page(self) -> bool:
        """Whether accounts are connected through the platform's consent page (else: API credentials)."""
        return hasattr(settings, self.setting_name("AUTHORIZE_URL"))

    @property
    def authorize_url(self) -> str:
        return self._setting("AUTHORIZE_URL")


def _check_token_response(response: requests.Response) -> requests.Response:
    """Compliance hook: turn HTTP-level failures of the token endpoint into our errors."""
    if response.status_code == 429:
        raise RateLimited("The platform's token endpoint is throttling requests", status=429)
    if response.status_code >= 500:
        raise TransientError(
            f"The platform's token endpoint failed with HTTP {response.status_code}",
            status=response.status_code,
        )
    return response


def _token_error(exc: OAuth2Error) -> ConnectorError:
    code = getattr(exc, "error", "") or ""
    if code in {"invalid_grant", "invalid_request", "invalid_code", "invalid_token", "unauthorized_client"}:
        return AuthError(
            "The platform refused to renew access (the authorization was revoked or has expired). "
            "Reconnect the account.",
            code=code,
        )
    if code == "invalid_client":
        return PermanentError(
            "The platform rejected this installation's OAuth client id or secret; "
            "check the <PLATFORM>_CLIENT_ID and <PLATFORM>_CLIENT_SECRET settings.",
            code=code,
        )
    return AuthError(f"Token refresh failed ({code or type(exc).__name__}). Reconnect the account.", code=code)


def refresh_token_set(spec: OAuthSpec, tokens: TokenSet, *, token_url: str | None = None) -> TokenSet:
    """Exchange the refresh token for a new access token."""
    if not spec.refreshable or not tokens.refresh_token:
        raise AuthError("The access token has expired and this account has no refresh token. Reconnect it.")
    url = token_url or spec.token_url
    require_secure_url(url)

    def attempt() -> dict[str, Any]:
        session = OAuth2Session(client_id=spec.client_id)
        session.register_compliance_hook("refresh_token_response", _check_token_response)
        try:
            return dict(
                session.refresh_token(
                    url,
                    refresh_token=tokens.refresh_token,
                    client_id=spec.client_id,
                    client_secret=spec.client_secret,
                    timeout=(settings.HTTP_CONNECT_TIMEOUT_SECONDS, settings.HTTP_READ_TIMEOUT_SECONDS),
                )
            )
        except OAuth2Error as exc:
            raise _token_error(exc) from None
        except (requests.Timeout, requests.ConnectionError) as exc:
            raise TransientError(f"The token endpoint could not be reached ({type(exc).__name__})") from None
        except ValueError as exc:  # a body that is not JSON
            raise TransientError(f"The token endpoint returned an unreadable answer ({exc})") from None

    body = retrying(attempt, what="token refresh")
    return token_set_from_response(body, previous=tokens)


def token_set_from_response(body: dict[str, Any], *, previous: TokenSet | None = None) -> TokenSet:
    """Build a TokenSet from a token endpoint's answer; keep the old refresh token if none came."""
    now = time.time()
    expires_in = body.get("expires_in")
    refresh_expires_in = body.get("refresh_token_expires_in")
    extra = dict(previous.extra) if previous else {}
    for key in ("api_domain", "scope", "token_type"):
        if body.get(key):
            extra[key] = body[key]
    lifetime = _float_or_none(expires_in)
    refresh_lifetime = _float_or_none(refresh_expires_in)
    return replace(
        previous or TokenSet(),
        access_token=body["access_token"],
        refresh_token=body.get("refresh_token") or (previous.refresh_token if previous else ""),
        # Mailchimp answers expires_in 0: its tokens never expire.
        expires_at=now + lifetime if lifetime else None,
        refresh_expires_at=(
            now + refresh_lifetime
            if refresh_lifetime is not None
            else (previous.refresh_expires_at if previous else None)
        ),
        extra=extra,
    )


class TokenAuth:
    """Holds the current tokens of one connection, injects them, and refreshes when told to.

    ``on_refresh`` is called with every new TokenSet so the caller can persist it (a rotated
    refresh token must never be lost).
    """

    def __init__(
        self,
        tokens: TokenSet,
        *,
        scheme: str = "Bearer",
        refresher: Callable[[TokenSet], TokenSet] | None = None,
        on_refresh: Callable[[TokenSet], None] | None = None,
    ) -> None:
        self.tokens = tokens
        self.scheme = scheme
        self._refresher = refresher
        self._on_refresh = on_refresh

    @property
    def can_refresh(self) -> bool:
        return self._refresher is not None

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"{self.scheme} {self.tokens.access_token}"} if self.tokens.access_token else {}

    def refresh(self) -> TokenSet:
        if self._refresher is None:
            raise AuthError("The access token was rejected and cannot be renewed. Reconnect the account.")
        self.tokens = self._refresher(self.tokens)
        if self._on_refresh is not None:
            self._on_refresh(self.tokens)
        return self.tokens

    def ensure_fresh(self, margin_seconds: float) -> None:
        if self.tokens.expires_within(margin_seconds) and self.can_refresh:
            self.refresh()


# -- the authorization-code flow (connecting an account) -------------------------------------------


def authorization_url(
    spec: OAuthSpec, *, redirect_uri: str, state: str, authorize_url: str | None = None
) -> str:
    """The platform's consent page for this installation's OAuth app, carrying ``state``.

    ``authorize_url`` overrides the spec's setting (a platform whose accounts server depends on
    the customer's data centre passes its own).
    """
    url = authorize_url or spec.authorize_url
    if not url:
        raise PermanentError(f"No authorization URL is configured ({spec.setting_name('AUTHORIZE_URL')}).")
    require_secure_url(url)
    session = OAuth2Session(
        client_id=spec.client_id, redirect_uri=redirect_uri, scope=list(spec.scopes) or None, state=state
    )
    address, _ = session.authorization_url(url, **spec.extra_authorize_params)
    return str(address)


def authorization_code_exchange(
    spec: OAuthSpec, *, code: str, redirect_uri: str, token_url: str | None = None
) -> TokenSet:
    """Exchange the code the platform sent back for tokens (not retried: a code works once)."""
    url = token_url or spec.token_url
    require_secure_url(url)
    # No scope on this session: platforms answer with their own spelling of the granted scopes
    # (LinkedIn joins them with commas, Mailchimp sends null), which is not an error here.
    session = OAuth2Session(client_id=spec.client_id, redirect_uri=redirect_uri)
    session.register_compliance_hook("access_token_response", _check_token_response)
    try:
        body = session.fetch_token(
            url,
            code=code,
            client_secret=spec.client_secret,
            include_client_id=True,
            timeout=(settings.HTTP_CONNECT_TIMEOUT_SECONDS, settings.HTTP_READ_TIMEOUT_SECONDS),
        )
    except OAuth2Error as exc:
        code_name = getattr(exc, "error", "") or type(exc).__name__
        if code_name == "invalid_client":
            raise _token_error(exc) from None
        raise AuthError(
            f"The platform did not accept the sign-in ({code_name}). Start the connection again.",
            code=code_name,
        ) from None
    except (requests.Timeout, requests.ConnectionError) as exc:
        raise TransientError(f"The token endpoint could not be reached ({type(exc).__name__})") from None
    except ValueError as exc:  # a body that is not JSON
        raise TransientError(f"The token endpoint returned an unreadable answer ({exc})") from None
    return token_set_from_response(dict(body))
