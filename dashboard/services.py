"""Orchestration: starting syncs (guarded), refreshing tokens, installing the schedule."""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from connectors.auth import TokenSet, authorization_code_exchange, authorization_url
from connectors.errors import ConnectorError
from connectors.models import Connection
from connectors.registry import get_connector_class
from connectors.services import connection_create, connection_input_clean
from dashboard.schedules import periodic_schedules
from etl.pipeline import sync_start
from tenancy.models import Membership, Organization

logger = logging.getLogger(__name__)


def periodic_tasks_install(*, every_seconds: int | None = None) -> int:
    """Write the declared schedule into django-celery-beat's tables; running it again changes nothing.

    Rows are matched by name; an operator's later edit of a row's timing or an enabled flag in the
    admin is overwritten only for the fields declared here (task, crontab, arguments).
    ``every_seconds`` installs a short test schedule instead: every entry runs at that interval
    (``setup_periodic_tasks --every``); the next install without it restores the declared times.
    """
    from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

    interval = (
        IntervalSchedule.objects.get_or_create(every=every_seconds, period=IntervalSchedule.SECONDS)[0]
        if every_seconds
        else None
    )
    count = 0
    for schedule in periodic_schedules():
        crontab = None
        if interval is None:
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
                "interval": interval,
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
    return spec is not None and spec.has_consent_page


def connect_missing_settings(platform: str) -> list[str]:
    """The settings this installation still needs before the platform can be connected."""
    spec = get_connector_class(platform).oauth
    if spec is None or not connect_uses_oauth(platform):
        return []
    return [
        name
        for name in (spec.setting_name("CLIENT_ID"), spec.setting_name("CLIENT_SECRET"))
        if not getattr(settings, name, "")
    ]


def _oauth_urls(platform: str, account_id: str, options: Mapping[str, str]) -> tuple[str | None, str | None]:
    """The authorize and token URLs for this account, as its connector decides them (a Zoho data
    centre decides them per account)."""
    connector = get_connector_class(platform)(account_id=account_id, tokens=TokenSet(), options=dict(options))
    return connector.authorize_url(), connector.token_url()


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
        options = {k: v for k, v in options.items() if k in cls.option_specs}
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


def dashboard_cache_warm_schedule(*, organization_id: int, sync_run_id: int, **_: Any) -> None:
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


# --------------------------------------------------------------------------------------------------
# Authorizations about to end: a daily mail to each organization's admins
# --------------------------------------------------------------------------------------------------


def reconnect_link(connection: Connection) -> str:
    """The absolute address of the connection's notice on Sync health, which carries its Reconnect
    button (reconnecting is a form post, so a mail links to the button, not to the post)."""
    path = reverse("dashboard:sync_health")
    return f"{settings.DASHBOARD_BASE_URL}{path}#authorization-{connection.pk}"


def organization_admin_emails(*, organization_id: int) -> list[str]:
    """The addresses of the organization's active admins that have one."""
    emails = (
        Membership.objects.filter(organization_id=organization_id, role=Membership.Role.ADMIN, user__is_active=True)
        .exclude(user__email="")
        .order_by("user__email")
        .values_list("user__email", flat=True)
    )
    return list(dict.fromkeys(emails))


def authorizations_expiring_warn(*, now: datetime | None = None) -> dict[str, int]:
    """Mail each organization's admins about every connection whose authorization ends within
    TOKEN_EXPIRY_WARNING_DAYS, at most once per connection per (UTC) day. Returns counts."""
    from dashboard.selectors.tokens import token_health_ending

    moment = now or timezone.now()
    day_start = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    outcome = {"connections": 0, "mails": 0}
    for health in token_health_ending(now=moment):
        connection = health.connection
        recipients = organization_admin_emails(organization_id=connection.organization_id)
        if not recipients:
            continue
        previous = connection.expiry_warned_at
        claimed = (
            Connection.objects.filter(pk=connection.pk)
            .filter(Q(expiry_warned_at__isnull=True) | Q(expiry_warned_at__lt=day_start))
            .update(expiry_warned_at=moment)
        )
        if not claimed:  # warned already today (another run of the task, a second worker)
            continue
        subject = f"{health.forecast[:1].upper()}{health.forecast[1:]}"
        body = (
            f"{health.forecast}.\n\n"
            f"Organization: {connection.organization.name}\n"
            f"Authorization ends: {health.grant_expires_at:%-d %b %Y, %H:%M} UTC\n\n"
            "After that the platform refuses to renew access and syncs of this account stop. "
            "An admin of the organization can sign in again with the platform (Reconnect):\n"
            f"{reconnect_link(connection)}\n"
        )
        try:
            for email in recipients:
                send_mail(subject, body, None, [email])
                outcome["mails"] += 1
        except Exception as exc:  # the mail server is down: try again on the next run
            Connection.objects.filter(pk=connection.pk).update(expiry_warned_at=previous)
            logger.warning(
                "authorization.expiry_mail_failed",
                extra={"connection_id": connection.pk, "error": type(exc).__name__},
            )
            continue
        outcome["connections"] += 1
        logger.info("authorization.expiry_warned", extra={"connection_id": connection.pk})
    return outcome
