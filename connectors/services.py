"""Writes on connections, and the bridge from a Connection row to its connector."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from connectors.auth import TokenSet
from connectors.base import BaseConnector
from connectors.crypto import decrypt_json, encrypt_json
from connectors.errors import AuthError, ConnectorError
from connectors.models import Connection
from connectors.quota import QuotaMeter
from connectors.redaction import redact
from connectors.registry import get_connector_class
from connectors.selectors import connection_list_tokens_expiring
from tenancy.models import Organization

logger = logging.getLogger(__name__)

# The columns' own limits, checked here so SQLite (which does not enforce them) and PostgreSQL
# refuse the same input with the same message.
CONNECTION_NAME_MAX_LENGTH = int(Connection._meta.get_field("name").max_length or 200)
OPTION_VALUE_MAX_LENGTH = 500


@dataclass(frozen=True)
class ConnectionInput:
    """What someone entered to register a connection, normalized and checked."""

    account_id: str
    options: dict[str, Any]
    credentials: dict[str, str] | None
    name: str


def connection_input_clean(
    *,
    platform: str,
    account_id: str,
    credentials: Mapping[str, Any] | None = None,
    options: Mapping[str, Any] | None = None,
    name: str = "",
) -> ConnectionInput:
    """The one place that normalizes and checks a connection's input, for the connect form and
    ``add_connection`` alike (``connection_create`` calls it too), the same on every database.

    The account id is put in its platform's canonical form (trimmed; Google's without hyphens) and
    must match the format its connector declares; option and credential keys must be the
    connector's, their values are trimmed, an empty option is dropped and an empty credential
    refused; nothing may exceed its column. ``credentials=None`` skips them (a sign-in page
    supplies the tokens). Raises a ValidationError whose ``message_dict`` is keyed by
    ``account_id``, ``credentials``, ``options`` and ``name``.
    """
    cls = get_connector_class(platform)
    errors: dict[str, list[str]] = {}
    try:
        clean_account_id = cls.clean_account_id(account_id)
    except ValidationError as exc:
        errors["account_id"] = exc.messages
        clean_account_id = ""

    clean_name = str(name or "").strip()
    if len(clean_name) > CONNECTION_NAME_MAX_LENGTH:
        errors["name"] = [
            f"A connection name has at most {CONNECTION_NAME_MAX_LENGTH} characters (got {len(clean_name)})."
        ]

    clean_options: dict[str, Any] = {}
    option_problems = []
    unknown = sorted(set(options or {}) - set(cls.option_specs))
    if unknown:
        accepted = ", ".join(sorted(cls.option_specs)) or "none"
        option_problems.append(f"{cls.platform} does not take option(s) {unknown}; accepted: {accepted}")
    for key, value in (options or {}).items():
        if key in unknown:
            continue
        if isinstance(value, str):
            value = value.strip()
            if not value:
                continue
            if len(value) > OPTION_VALUE_MAX_LENGTH:
                option_problems.append(f"Option {key} has at most {OPTION_VALUE_MAX_LENGTH} characters.")
                continue
        choices = cls.option_specs[key].choices
        if choices and isinstance(value, str):
            value = value.rstrip("/")
            if "://" not in value and f"https://{value}" in dict(choices):
                value = f"https://{value}"
            allowed = [choice for choice, _ in choices if choice]
            if value not in allowed:
                option_problems.append(f"Option {key} must be one of {', '.join(allowed)} (or left out).")
                continue
        clean_options[key] = value
    if option_problems:
        errors["options"] = option_problems

    clean_credentials: dict[str, str] | None = None
    if credentials is not None:
        clean_credentials = {}
        problems = []
        unknown = sorted(set(credentials) - set(cls.credential_specs))
        if unknown:
            accepted = ", ".join(sorted(cls.credential_specs)) or "none"
            problems.append(f"{cls.platform} does not take credential(s) {unknown}; accepted: {accepted}")
        for key, value in credentials.items():
            if key in unknown:
                continue
            text = str(value if value is not None else "").strip()
            if not text:
                problems.append(f"Credential {key} is empty: give its value, or leave it out.")
            else:
                clean_credentials[key] = text
        if not credentials:
            problems.append(
                f"Give at least one credential; {cls.platform} takes: {', '.join(cls.credential_specs)}"
            )
        if problems:
            errors["credentials"] = problems

    if errors:
        raise ValidationError(errors)
    return ConnectionInput(
        account_id=clean_account_id, options=clean_options, credentials=clean_credentials, name=clean_name
    )


def connection_credentials(connection: Connection) -> dict[str, Any]:
    return decrypt_json(connection.credentials_encrypted)


def connection_tokens(connection: Connection) -> TokenSet:
    return TokenSet.from_dict(connection_credentials(connection))


def _moment(epoch: float | None) -> datetime | None:
    return datetime.fromtimestamp(epoch, tz=UTC) if epoch else None


def grant_expiry(*, platform: str, authorized_at: datetime, tokens: TokenSet) -> datetime | None:
    """When the authorization given at ``authorized_at`` ends; None where it is not known to end.

    The platform's own word where its token answer gives one (LinkedIn's
    ``refresh_token_expires_in``), else the platform's documented grant lifetime from the moment
    of authorization. A connection with an access token and no refresh token ends with its token.
    """
    if tokens.refresh_expires_at:
        return _moment(tokens.refresh_expires_at)
    lifetimes = get_connector_class(platform).grant_lifetimes()
    if lifetimes.grant is None:
        return None
    if tokens.refresh_token:
        return authorized_at + lifetimes.grant
    if tokens.expires_at:
        return _moment(tokens.expires_at)
    return authorized_at + lifetimes.access if lifetimes.access else None


def connection_grant_expires_at(connection: Connection) -> datetime | None:
    """When the connection's authorization ends: as recorded, or (a connection recorded before the
    end was) its authorization plus the platform's documented grant lifetime; None: not known to end."""
    if connection.grant_expires_at is not None or connection.authorized_at is None:
        return connection.grant_expires_at
    lifetime: timedelta | None = get_connector_class(connection.platform).grant_lifetimes().grant
    return connection.authorized_at + lifetime if lifetime else None


def connection_save_tokens(*, connection_id: int, tokens: TokenSet) -> None:
    """Persist refreshed tokens at once, in their own transaction: a rotated refresh token is never
    lost, even if the step that refreshed it fails afterwards. Records when the refresh succeeded,
    and the authorization's end where the platform's answer states it."""
    with transaction.atomic():
        connection = Connection.objects.select_for_update().get(pk=connection_id)
        credentials = {**connection_credentials(connection), **tokens.to_dict()}
        connection.credentials_encrypted = encrypt_json(credentials)
        connection.token_expires_at = _moment(tokens.expires_at)
        connection.token_refreshed_at = timezone.now()
        fields = ["credentials_encrypted", "token_expires_at", "token_refreshed_at", "updated_at"]
        if tokens.refresh_expires_at:
            connection.grant_expires_at = _moment(tokens.refresh_expires_at)
            fields.append("grant_expires_at")
        connection.save(update_fields=fields)


def connector_for(
    connection: Connection,
    *,
    state: Mapping[str, Any] | None = None,
    on_state: Callable[[dict[str, Any]], None] | None = None,
    sync_key: str = "",
) -> BaseConnector:
    """The connection's connector, with its tokens; refreshed tokens are saved as they come, and
    every request it sends is counted against its credential's daily budget (``connectors.quota``)."""
    cls = get_connector_class(connection.platform)
    connector = cls(
        account_id=connection.account_id,
        tokens=connection_tokens(connection),
        options=connection.options,
        on_tokens=lambda tokens: connection_save_tokens(connection_id=connection.pk, tokens=tokens),
        state=state,
        on_state=on_state,
        sync_key=sync_key,
    )
    credential = cls.quota_credential(connection.account_id)
    if credential is not None:
        connector.client.spend = QuotaMeter(credential, cls.call_cost)
    return connector


def connection_create(
    *,
    organization: Organization,
    platform: str,
    account_id: str,
    credentials: Mapping[str, Any] | None = None,
    options: Mapping[str, Any] | None = None,
    name: str = "",
    check: bool = True,
    tokens: TokenSet | None = None,
) -> Connection:
    """Register (or update) a connection; with ``check`` the credentials are tried first.

    ``credentials`` are what a person entered (``add_connection``, the credentials form), checked
    by ``connection_input_clean``; ``tokens`` are what a platform's token endpoint answered at the
    end of a sign-in. The account id is stored in its canonical form, so the same account typed
    twice is one connection. Raises ValidationError on bad input, ConnectorError if the check fails.
    """
    cls = get_connector_class(platform)
    entered = connection_input_clean(
        platform=platform,
        account_id=account_id,
        credentials=(credentials or {}) if tokens is None else None,
        options=options,
        name=name,
    )
    account_id, options, name = entered.account_id, entered.options, entered.name
    if tokens is None:
        tokens = TokenSet.from_dict(dict(entered.credentials or {}))
    if check:
        connector = cls(account_id=account_id, tokens=tokens, options=options)
        connector.refresh_tokens()
        name = name or connector.check()[:CONNECTION_NAME_MAX_LENGTH]
        tokens = connector.auth.tokens
    authorized_at = timezone.now()
    connection, _ = Connection.objects.update_or_create(
        organization=organization,
        platform=platform,
        account_id=account_id,
        defaults={
            "name": name or f"{cls.display_name} {account_id}",
            "options": dict(options),
            "credentials_encrypted": encrypt_json(tokens.to_dict()),
            "token_expires_at": _moment(tokens.expires_at),
            # A connect or a reconnect is a new authorization: its own end, and no warning sent yet.
            "authorized_at": authorized_at,
            "grant_expires_at": grant_expiry(platform=platform, authorized_at=authorized_at, tokens=tokens),
            "expiry_warned_at": None,
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


# The reasons below often quote a platform; they are redacted as log records are before they are
# stored, so every reader (Sync health, its CSV, the commands, the admin) gets the redacted text.


def connection_mark_needs_reauth(*, connection: Connection, reason: str) -> None:
    Connection.objects.filter(pk=connection.pk).update(
        status=Connection.Status.NEEDS_REAUTH, status_message=redact(reason), updated_at=timezone.now()
    )
    logger.warning(
        "connection.needs_reauth", extra={"connection_id": connection.pk, "platform": connection.platform}
    )


def connection_mark_failing(*, connection: Connection, reason: str) -> None:
    Connection.objects.filter(pk=connection.pk).exclude(status=Connection.Status.NEEDS_REAUTH).update(
        status=Connection.Status.FAILING, status_message=redact(reason), updated_at=timezone.now()
    )


def connection_mark_partial(*, connection: Connection) -> None:
    """A sync loaded some streams but not all: the connection works, but its last complete sync
    stays where it was."""
    Connection.objects.filter(pk=connection.pk).update(
        status=Connection.Status.ACTIVE, status_message="", updated_at=timezone.now()
    )


def connection_mark_succeeded(*, connection: Connection) -> None:
    Connection.objects.filter(pk=connection.pk).update(
        status=Connection.Status.ACTIVE,
        status_message="",
        last_success_at=timezone.now(),
        updated_at=timezone.now(),
    )


def tokens_refresh_expiring(*, within_seconds: int) -> dict[str, int]:
    """Refresh every access token that expires within the horizon; returns counts by outcome."""
    outcome = {"refreshed": 0, "needs_reauth": 0, "failed": 0}
    for connection in connection_list_tokens_expiring(within_seconds=within_seconds):
        try:
            if connection_refresh_token(connection=connection, margin_seconds=within_seconds):
                outcome["refreshed"] += 1
        except ConnectorError as exc:
            outcome["needs_reauth" if isinstance(exc, AuthError) else "failed"] += 1
            logger.warning(
                "token.refresh_failed", extra={"connection_id": connection.pk, "error": type(exc).__name__}
            )
    return outcome


class RestatementWindowRefused(ValueError):
    pass


def connection_set_restatement_days(*, connection: Connection, days: int) -> Connection:
    """Set the days every sync of the connection re-reads: never below the platform's documented
    minimum, nor above its cap (``RestatementWindowRefused`` says why)."""
    connector = get_connector_class(connection.platform)
    if days < connector.min_restatement_days:
        raise RestatementWindowRefused(
            f"{connector.display_name} needs a re-read window of at least {connector.min_restatement_days} "
            f"days: {connector.min_restatement_source}."
        )
    if connector.max_restatement_days and days > connector.max_restatement_days:
        raise RestatementWindowRefused(
            f"{connector.display_name} changes nothing older than {connector.max_restatement_days} days."
        )
    connection.restatement_days = days
    connection.save(update_fields=["restatement_days"])
    return connection
