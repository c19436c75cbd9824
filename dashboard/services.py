"""Orchestration: starting syncs (guarded), refreshing tokens, installing the schedule."""

from __future__ import annotations

import json
import logging
import random
import secrets
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from celery import chain
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from connectors.auth import TokenSet, authorization_code_exchange, authorization_url
from connectors.errors import AuthError, ConnectorError
from connectors.models import Connection, Organization
from connectors.registry import get_connector_class
from connectors.selectors import connection_list_syncable, connection_list_tokens_expiring
from connectors.services import connection_create, connection_input_clean, connection_refresh_token
from dashboard.schedules import periodic_schedules
from etl.models import SyncRun
from etl.services import (
    sync_run_add_task_ids,
    sync_run_create_if_idle,
    sync_run_fail,
    sync_runs_take_over_stale,
)

logger = logging.getLogger(__name__)


def sync_chain(*, sync_run_id: int) -> chain:
    from dashboard.tasks import extract_task, load_task, normalize_task, prune_task, refresh_token_task

    return chain(
        refresh_token_task.si(sync_run_id),
        extract_task.si(sync_run_id),
        normalize_task.si(sync_run_id),
        load_task.si(sync_run_id),
        prune_task.si(sync_run_id),
    )


def sync_start(*, connection_id: int, trigger: str = "manual") -> SyncRun | None:
    """Queue one sync of a connection; None if one is already in flight (or it cannot sync)."""
    with transaction.atomic():
        run = sync_run_create_if_idle(connection_id=connection_id, trigger=trigger)
        if run is None:
            return None
        steps = sync_chain(sync_run_id=run.pk)
        # Each step gets its id now, so the run can name its tasks before they are sent.
        task_ids = [str(task.freeze().id) for task in steps.tasks]
        sync_run_add_task_ids(sync_run_id=run.pk, task_ids=task_ids)
        run.task_ids = task_ids
        transaction.on_commit(lambda: _enqueue(run.pk, steps))
    return run


def _enqueue(sync_run_id: int, steps: chain) -> None:
    """Send the chain. In-process mode runs it here: a failed step has already recorded itself on
    the run, so the exception is not raised again. If the broker cannot be reached, the run fails
    with that reason instead of staying queued."""
    try:
        steps.apply_async()
    except Exception as exc:
        run = SyncRun.objects.filter(pk=sync_run_id).only("status").first()
        if run is not None and run.status != SyncRun.Status.FAILED:
            sync_run_fail(sync_run_id=sync_run_id, exc=exc)
        logger.warning("sync.enqueue_failed", extra={"sync_run_id": sync_run_id, "error": type(exc).__name__})


@dataclass
class SyncBatch:
    started: list[SyncRun] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)  # connection ids already in flight or not syncable


# How many connections are looked at together when a batch checks which ones already have a sync.
START_BATCH_SIZE = 100


def syncs_start(
    *, platform: str | None = None, organization_slug: str | None = None, trigger: str = "manual"
) -> SyncBatch:
    """Queue one sync of every syncable connection (of a platform, of an organization).

    Schedules overlap (00:00 fires every schedule) and a manual run may start at the same moment,
    so several batches often walk the same connections together. Each batch therefore asks, for
    every hundred connections at once, which already have a sync in flight, and skips those
    without trying; the database guard in ``sync_start`` still decides every start it does try.
    Each batch also begins at a random hundred (and wraps around), so batches running together
    mostly start different connections instead of waiting on each other's guard, connection by
    connection.
    """
    if platform:
        get_connector_class(platform)  # raises UnknownPlatform with the list of known ones
    batch = SyncBatch()
    sync_runs_take_over_stale()  # so that a dead run does not count as in flight below
    connection_ids = list(
        connection_list_syncable(platform=platform, organization_slug=organization_slug).values_list(
            "pk", flat=True
        )
    )
    chunks = [
        connection_ids[i : i + START_BATCH_SIZE] for i in range(0, len(connection_ids), START_BATCH_SIZE)
    ]
    first = random.randrange(len(chunks)) if chunks else 0
    for chunk in chunks[first:] + chunks[:first]:
        in_flight = _connections_in_flight(chunk)
        for connection_id in chunk:
            run = (
                None
                if connection_id in in_flight
                else sync_start(connection_id=connection_id, trigger=trigger)
            )
            if run is None:
                batch.skipped.append(connection_id)
            else:
                batch.started.append(run)
    return batch


def _connections_in_flight(connection_ids: list[int]) -> set[int]:
    runs = SyncRun.objects.filter(connection_id__in=connection_ids, status__in=SyncRun.IN_FLIGHT)
    return set(runs.values_list("connection_id", flat=True))


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


def periodic_tasks_install() -> int:
    """Write the declared schedule into django-celery-beat's tables; running it again changes nothing.

    Rows are matched by name; an operator's later edit of a row's timing or an enabled flag in the
    admin is overwritten only for the fields declared here (task, crontab, arguments).
    """
    from django_celery_beat.models import CrontabSchedule, PeriodicTask

    count = 0
    for schedule in periodic_schedules():
        crontab, _ = CrontabSchedule.objects.get_or_create(
            minute=schedule.minute,
            hour=schedule.hour,
            day_of_week="*",
            day_of_month="*",
            month_of_year="*",
            timezone="UTC",
        )
        PeriodicTask.objects.update_or_create(
            name=schedule.name,
            defaults={
                "task": schedule.task,
                "crontab": crontab,
                "interval": None,
                "kwargs": json.dumps(schedule.kwargs),
                "description": schedule.description,
            },
        )
        count += 1
    return count


# --------------------------------------------------------------------------------------------------
# Connecting an account: the OAuth authorization-code flow, or a credentials form
# --------------------------------------------------------------------------------------------------

CONNECT_INTENT_MAX_AGE_SECONDS = 15 * 60


class ConnectError(Exception):
    """Connecting an account failed; ``message`` is meant for the person who tried."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class ConnectIntent:
    """What is remembered (in the visitor's session) between "Connect" and the platform's redirect."""

    state: str
    organization_id: int
    platform: str
    account_id: str
    options: dict[str, str]
    connection_id: int | None = None  # set when re-authorizing an existing connection
    created_at: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ConnectIntent:
        return cls(
            state=str(data["state"]),
            organization_id=int(data["organization_id"]),
            platform=str(data["platform"]),
            account_id=str(data["account_id"]),
            options={str(k): str(v) for k, v in dict(data.get("options") or {}).items()},
            connection_id=int(data["connection_id"]) if data.get("connection_id") is not None else None,
            created_at=float(data.get("created_at") or 0.0),
        )

    @property
    def expired(self) -> bool:
        return time.time() - self.created_at > CONNECT_INTENT_MAX_AGE_SECONDS


def connect_uses_oauth(platform: str) -> bool:
    """Whether the platform connects through a consent page (else: a credentials form)."""
    spec = get_connector_class(platform).oauth
    return spec is not None and bool(spec.authorize_url_setting)


def connect_missing_settings(platform: str) -> list[str]:
    """The settings this installation still needs before the platform can be connected."""
    spec = get_connector_class(platform).oauth
    if spec is None or not connect_uses_oauth(platform):
        return []
    return [
        name
        for name in (spec.client_id_setting, spec.client_secret_setting)
        if not getattr(settings, name, "")
    ]


def _oauth_urls(platform: str, account_id: str, options: Mapping[str, str]) -> tuple[str | None, str | None]:
    """The authorize and token URLs for this account when its connector decides them (a Zoho data
    centre), else None for the OAuthSpec's settings."""
    cls = get_connector_class(platform)
    if not callable(getattr(cls, "authorize_url", None)) and not callable(getattr(cls, "token_url", None)):
        return None, None
    connector: Any = cls(account_id=account_id, tokens=TokenSet(), options=dict(options))
    authorize = connector.authorize_url() if callable(getattr(connector, "authorize_url", None)) else None
    token = connector.token_url() if callable(getattr(connector, "token_url", None)) else None
    return authorize, token


def connect_start(
    *,
    organization: Organization,
    platform: str,
    account_id: str,
    options: Mapping[str, str],
    redirect_uri: str,
    connection_id: int | None = None,
) -> tuple[str, ConnectIntent]:
    """Begin the authorization-code flow: the consent page's URL and the intent to remember."""
    cls = get_connector_class(platform)
    spec = cls.oauth
    if spec is None or not connect_uses_oauth(platform):
        raise ConnectError(f"{cls.display_name} is connected with its API credentials, not a sign-in page.")
    missing = connect_missing_settings(platform)
    if missing:
        raise ConnectError(
            f"This installation has no OAuth app for {cls.display_name} yet: set {' and '.join(missing)}."
        )
    if connection_id is not None:  # a re-authorization keeps only the options the platform reads
        options = {k: v for k, v in options.items() if k in cls.option_keys}
    try:
        entered = connection_input_clean(platform=platform, account_id=account_id, options=options)
    except ValidationError as exc:
        raise ConnectError(" ".join(exc.messages)) from None
    intent = ConnectIntent(
        state=secrets.token_urlsafe(32),
        organization_id=organization.pk,
        platform=platform,
        account_id=entered.account_id,
        options={str(k): str(v) for k, v in entered.options.items()},
        connection_id=connection_id,
        created_at=time.time(),
    )
    try:
        authorize_url, _ = _oauth_urls(platform, intent.account_id, intent.options)
        url = authorization_url(
            spec, redirect_uri=redirect_uri, state=intent.state, authorize_url=authorize_url
        )
    except ConnectorError as exc:
        raise ConnectError(exc.message) from None
    return url, intent


def connect_complete(
    *, organization: Organization, intent: ConnectIntent, code: str, redirect_uri: str
) -> Connection:
    """Exchange the code, store the tokens (encrypted), check the account and queue the first sync."""
    if intent.organization_id != organization.pk:
        raise ConnectError("This sign-in was started for another organization.")
    cls = get_connector_class(intent.platform)
    spec = cls.oauth
    if spec is None:
        raise ConnectError(f"{cls.display_name} does not use a sign-in page.")
    try:
        _, token_url = _oauth_urls(intent.platform, intent.account_id, intent.options)
        tokens = authorization_code_exchange(spec, code=code, redirect_uri=redirect_uri, token_url=token_url)
        connection = connection_create(
            organization=organization,
            platform=intent.platform,
            account_id=intent.account_id,
            tokens=tokens,
            options=intent.options,
            check=True,
        )
    except ConnectorError as exc:
        raise ConnectError(exc.message) from None
    except ValidationError as exc:
        raise ConnectError(" ".join(exc.messages)) from None
    sync_start(connection_id=connection.pk, trigger="reconnect" if intent.connection_id else "connect")
    return connection


def connect_with_credentials(
    *,
    organization: Organization,
    platform: str,
    account_id: str,
    credentials: Mapping[str, str],
    options: Mapping[str, str],
) -> Connection:
    """Connect a platform that takes API credentials (Demandbase's key set), then queue the first sync."""
    try:
        connection = connection_create(
            organization=organization,
            platform=platform,
            account_id=account_id.strip(),
            credentials=dict(credentials),
            options=dict(options),
            check=True,
        )
    except ConnectorError as exc:
        raise ConnectError(exc.message) from None
    except ValidationError as exc:
        raise ConnectError(" ".join(exc.messages)) from None
    sync_start(connection_id=connection.pk, trigger="connect")
    return connection


def dashboard_cache_warm_schedule(*, organization_id: int, sync_run_id: int) -> None:
    """After a sync, compute its organization's default views before anyone opens them.

    Sent with a delay, so the connections of one organization that finish close together share
    one warm-up (it does nothing when the data was already warmed). Only with workers: in-process
    mode has no shared cache for it to fill. Only for an organization whose dashboards are in use
    (see ``dashboard.cache_warm``). A warm-up that cannot be queued never fails the sync.
    """
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return
    from dashboard.cache_warm import dashboard_in_use
    from dashboard.tasks import cache_warm_task

    try:
        if not dashboard_in_use(organization_id=organization_id):
            logger.debug("dashboard.cache_warm_skipped", extra={"sync_run_id": sync_run_id, "reason": "not viewed"})
            return
        cache_warm_task.apply_async(
            kwargs={"organization_id": organization_id}, countdown=settings.DASHBOARD_CACHE_WARM_DELAY_SECONDS
        )
    except Exception as exc:  # the cache or the broker is unreachable: the pages compute on first view
        logger.warning(
            "dashboard.cache_warm_not_queued", extra={"sync_run_id": sync_run_id, "error": type(exc).__name__}
        )
