"""Tests of the dashboard app, and the small builders they share.

The builders create rows with the ORM directly so each test states exactly the data it reads.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.utils import timezone

from connectors.models import Connection
from etl.models import AdPerformanceDaily, SyncRun
from tenancy.models import Membership, Organization

TODAY = date(2025, 3, 31)
FIRST_KEPT = date(2025, 3, 2)  # the oldest raw day on TODAY with 30 days kept (``history_kept``)
PASSWORD = "a-long-test-password"


def make_org(name: str) -> Organization:
    return Organization.objects.create(name=name, slug=name.lower().replace(" ", "-"))


def make_user(username: str, *, organization: Organization | None = None, **extra: Any) -> AbstractUser:
    user = get_user_model().objects.create_user(username=username, password=PASSWORD, **extra)
    if organization is not None:
        Membership.objects.create(organization=organization, user=user)
    assert isinstance(user, AbstractUser)
    return user


def make_connection(
    organization: Organization,
    *,
    platform: str = "linkedin_ads",
    account_id: str = "1001",
    name: str = "",
    status: str = Connection.Status.ACTIVE,
    **extra: Any,
) -> Connection:
    return Connection.objects.create(
        organization=organization,
        platform=platform,
        account_id=account_id,
        name=name,
        status=status,
        **extra,
    )


def make_run(
    connection: Connection,
    *,
    status: str = SyncRun.Status.SUCCEEDED,
    step: str = SyncRun.Step.DONE,
    loaded: int = 0,
    error_message: str = "",
    finished_at: datetime | None = None,
) -> SyncRun:
    return SyncRun.objects.create(
        connection=connection,
        status=status,
        step=step,
        window_start=date(2025, 3, 1),
        window_end=TODAY,
        rows={"ad_performance_daily": {"extracted": loaded, "loaded": loaded}},
        error_message=error_message,
        finished_at=finished_at,
    )


def add_row(
    connection: Connection,
    *,
    day: date,
    campaign_id: str = "c1",
    campaign_name: str | None = "Spring launch",
    currency: str = "USD",
    spend: str = "0",
    impressions: int = 0,
    clicks: int = 0,
    conversions: str | None = None,
    conversion_value: str | None = None,
    sync_run_id: int = 1,
) -> AdPerformanceDaily:
    return AdPerformanceDaily.objects.create(
        organization_id=connection.organization_id,
        connection=connection,
        platform=connection.platform,
        sync_run_id=sync_run_id,
        synced_at=timezone.now(),
        account_id=connection.account_id,
        account_name=connection.name or None,
        campaign_id=campaign_id,
        campaign_name=campaign_name,
        date=day,
        currency=currency,
        impressions=impressions,
        clicks=clicks,
        spend=Decimal(spend),
        conversions=Decimal(conversions) if conversions is not None else None,
        conversion_value=Decimal(conversion_value) if conversion_value is not None else None,
    )


def add_email(connection: Connection, *, campaign_id: str, send_time: datetime, **values: Any) -> Any:
    from etl.models import EmailCampaign

    defaults: dict[str, Any] = {
        "campaign_title": f"Campaign {campaign_id}",
        "subject": "Hello",
        "list_name": "Customers",
        "emails_sent": 1000,
        "bounces": 0,
        "unique_opens": 250,
        "unique_clicks": 40,
        "unsubscribes": 2,
    }
    defaults.update(values)
    return EmailCampaign.objects.create(
        organization_id=connection.organization_id,
        connection=connection,
        platform=connection.platform,
        sync_run_id=1,
        synced_at=timezone.now(),
        campaign_id=campaign_id,
        send_time=send_time,
        **defaults,
    )


def add_lead(connection: Connection, *, lead_id: str, created: datetime, **values: Any) -> Any:
    from etl.models import CrmLead

    return CrmLead.objects.create(
        organization_id=connection.organization_id,
        connection=connection,
        platform=connection.platform,
        sync_run_id=1,
        synced_at=timezone.now(),
        lead_id=lead_id,
        created_time=created,
        modified_time=created,
        **values,
    )


def add_deal(connection: Connection, *, deal_id: str, created: datetime, **values: Any) -> Any:
    from etl.models import CrmDeal

    return CrmDeal.objects.create(
        organization_id=connection.organization_id,
        connection=connection,
        platform=connection.platform,
        sync_run_id=1,
        synced_at=timezone.now(),
        deal_id=deal_id,
        created_time=created,
        modified_time=created,
        **values,
    )


def add_account(connection: Connection, *, account_id: str, **values: Any) -> Any:
    from etl.models import AbmAccount

    return AbmAccount.objects.create(
        organization_id=connection.organization_id,
        connection=connection,
        platform=connection.platform,
        sync_run_id=1,
        synced_at=timezone.now(),
        account_id=account_id,
        **values,
    )


def add_engagement(connection: Connection, *, account_id: str, day: date, **values: Any) -> Any:
    from etl.models import AbmEngagementDaily

    return AbmEngagementDaily.objects.create(
        organization_id=connection.organization_id,
        connection=connection,
        platform=connection.platform,
        sync_run_id=1,
        synced_at=timezone.now(),
        account_id=account_id,
        date=day,
        **values,
    )
