"""The Demandbase token exchange: an API key set (client id + secret) for an 8-hour bearer token.

``POST {DEMANDBASE_TOKEN_URL}`` with the JSON body ``{"grantType": "client_credentials", "clientId",
"clientSecret"}`` (camelCase, not a form) answers ``{"accessToken", "tokenType": "bearer", "expiresIn":
28800}``. There is no refresh token: when the access token expires the exchange is simply run again with
the same key set. The key set lives in ``TokenSet.extra`` (``client_id``, ``client_secret``); only the
access token is ever sent as the bearer, never the secret.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from connectors.auth import TokenSet
from connectors.demandbase.policy import KeySetPolicy
from connectors.errors import AuthError, MalformedResponse
from connectors.http import ApiClient, require_secure_url
from connectors.platform_settings import value

GRANT_TYPE = "client_credentials"


def key_set(tokens: TokenSet) -> tuple[str, str]:
    client_id = str(tokens.extra.get("client_id") or "").strip()
    client_secret = str(tokens.extra.get("client_secret") or "").strip()
    if not client_id or not client_secret:
        raise AuthError(
            "This Demandbase connection has no API key set (client_id and client_secret). "
            "Reconnect it with a key set created in Demandbase's API key settings."
        )
    return client_id, client_secret


def exchange_key_set(tokens: TokenSet, *, token_url: str | None = None) -> TokenSet:
    """Run the client-credentials exchange; retries throttling and 5xx, maps a refusal to AuthError."""
    client_id, client_secret = key_set(tokens)
    url = token_url or str(value("demandbase", "TOKEN_URL"))
    require_secure_url(url)
    client = ApiClient(
        base_url=url,
        auth=None,
        policy=KeySetPolicy(),
        platform="demandbase",
        headers={"Accept": "application/json"},
    )
    body = client.post_json(
        url, json={"grantType": GRANT_TYPE, "clientId": client_id, "clientSecret": client_secret}
    )
    return token_set_from_exchange(body, previous=tokens)


def token_set_from_exchange(body: Any, *, previous: TokenSet) -> TokenSet:
    """The TokenSet for an exchange answer (camelCase keys), keeping the key set and other extras."""
    if not isinstance(body, dict) or not isinstance(body.get("accessToken"), str) or not body["accessToken"]:
        raise MalformedResponse("Demandbase's token endpoint answered without an accessToken")
    lifetime = body.get("expiresIn")
    if isinstance(lifetime, bool) or not isinstance(lifetime, int | float) or lifetime <= 0:
        lifetime = None
    extra = dict(previous.extra)
    if isinstance(body.get("tokenType"), str):
        extra["token_type"] = body["tokenType"]
    return replace(
        previous,
        access_token=body["accessToken"],
        refresh_token="",
        expires_at=time.time() + float(lifetime) if lifetime else None,
        extra=extra,
    )
