"""Writes on organizations and connections, and the bridge from a Connection row to its connector."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from connectors.auth import TokenSet
from connectors.base import BaseConnector
from connectors.crypto import decrypt_json, encrypt_json
from connectors.errors import AuthError
from connectors.models import Connection, Organization
from connectors.registry import get_connector_class

logger = logging.getLogger(__name__)


def organization_get_or_create(*, slug: str, name: str | None = None) -> Organization:
    organization, _ = Organization.objects.get_or_create(
        slug=slugify(slug), defaults={"name": name or slug.replace("-", " ").title()}
    )
    return organization


def connection_credentials(connection: Connection) -> dict[str, Any]:
    return decrypt_json(connection.credentials_encrypted)


def connection_tokens(connection: Connection) -> TokenSet:
    return TokenSet.from_dict(connection_credentials(connection))


def connection_save_tokens(*, connection_id: int, tokens: TokenSet) -> None:
    """Persist new tokens at once, in their own transaction: a rotated refresh token is never lost,
    even if the step that refreshed it fails afterwards."""
    with transaction.atomic():
        connection = Connection.objects.select_for_update().get(pk=connection_id)
        credentials = {**connection_credentials(connection), **tokens.to_dict()}
        connection.credentials_encrypted = encrypt_json(credentials)
        connection.token_expires_at = (
            datetime.fromtimestamp(tokens.expires_at, tz=UTC) if tokens.expires_at else None
        )
        connection.save(update_fields=["credentials_encrypted", "token_expires_at", "updated_at"])


def connector_for(
    connection: Connection,
    *,
    state: Mapping[str, Any] | None = None,
    on_state: Callable[[dict[str, Any]], None] | None = None,
    sync_key: str = "",
) -> BaseConnector:
    """The connection's connector, with its tokens; refreshed tokens are saved as they come."""
    cls = get_connector_class(connection.platform)
    return cls(
        account_id=connection.account_id,
        tokens=connection_tokens(connection),
        options=connection.options,
        on_tokens=lambda tokens: connection_save_tokens(connection_id=connection.pk, tokens=tokens),
        state=state,
        on_state=on_state,
        sync_key=sync_key,
    )


def connection_create(
    *,
    organization: Organization,
    platform: str,
    account_id: str,
    credentials: Mapping[str, Any],
    options: Mapping[str, Any] | None = None,
    name: str = "",
    check: bool = True,
) -> Connection:
    """Register (or update) a connection; with ``check`` the credentials are tried first."""
    cls = get_connector_class(platform)
    tokens = TokenSet.from_dict(dict(credentials))
    if check:
        connector = cls(account_id=account_id, tokens=tokens, options=options)
        connector.refresh_tokens()
        name = name or connector.check()
        tokens = connector.auth.tokens
    connection, _ = Connection.objects.update_or_create(
        organization=organization,
        platform=platform,
        account_id=account_id,
        defaults={
            "name": name or f"{cls.display_name} {account_id}",
            "options": dict(options or {}),
            "credentials_encrypted": encrypt_json(tokens.to_dict()),
            "token_expires_at": datetime.fromtimestamp(tokens.expires_at, tz=UTC) if tokens.expires_at else None,
            "status": Connection.Status.ACTIVE,
            "status_message": "",
        },
    )
    return connection


def connection_refresh_token(
    *, connection: Connection, force: bool = False, margin_seconds: float | None = None
) -> bool:
    """Refresh the access token if it is missing or expires within the margin (or always, with
    ``force``). Returns whether a refresh happened.

    A refusal from the platform marks the connection as needing re-authorization and re-raises.
    """
    connector = connector_for(connection)
    before = connector.auth.tokens
    try:
        return connector.refresh_tokens(force=force, margin_seconds=margin_seconds) is not before
    except AuthError as exc:
        connection_mark_needs_reauth(connection=connection, reason=exc.message)
        raise


def connection_mark_needs_reauth(*, connection: Connection, reason: str) -> None:
    Connection.objects.filter(pk=connection.pk).update(
        status=Connection.Status.NEEDS_REAUTH, status_message=reason, updated_at=timezone.now()
    )
    logger.warning("connection.needs_reauth", extra={"connection_id": connection.pk, "platform": connection.platform})


def connection_mark_failing(*, connection: Connection, reason: str) -> None:
    Connection.objects.filter(pk=connection.pk).exclude(status=Connection.Status.NEEDS_REAUTH).update(
        status=Connection.Status.FAILING, status_message=reason, updated_at=timezone.now()
    )


def connection_mark_succeeded(*, connection: Connection) -> None:
    Connection.objects.filter(pk=connection.pk).update(
        status=Connection.Status.ACTIVE, status_message="", last_success_at=timezone.now(), updated_at=timezone.now()
    )
