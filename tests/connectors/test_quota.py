"""Each platform's documented daily budget per credential, overridable by a setting; the count of
what is spent, shared by every worker (one upsert per request, into real PostgreSQL or SQLite), per
UTC hour so that both a UTC day and a rolling 24 hours can be answered; retries count too."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection as db
from django.db import connections

from connectors.models import Connection
from connectors.platform_settings import declared
from connectors.quota import QuotaBudget, QuotaExhausted, quota_check, quota_spend, quota_spent
from connectors.registry import connector_classes, get_connector_class
from sandbox.zoho_crm import ZohoCrmSandbox
from tests.sandboxes import run_sync


def test_every_budget_is_documented_and_has_its_setting() -> None:
    for platform, cls in connector_classes().items():
        budget = cls.quota_budget()
        if budget is None:
            continue
        names = {setting.name for setting in declared()[platform]}
        assert "DAILY_QUOTA" in names and budget.setting == f"{platform.upper()}_DAILY_QUOTA", platform
        assert budget.unit and budget.holder and budget.source, platform


def test_the_documented_budgets() -> None:
    google = get_connector_class("google_ads").quota_budget()
    assert google is not None and (google.amount, google.unit, google.rolling) == (15_000, "operations", True)
    zoho = get_connector_class("zoho_crm").quota_budget()
    assert zoho is not None and (zoho.amount, zoho.unit, zoho.rolling) == (50_000, "credits", True)
    demandbase = get_connector_class("demandbase").quota_budget()
    assert demandbase is not None and (demandbase.amount, demandbase.rolling) == (60, False)
    linkedin = get_connector_class("linkedin_ads").quota_budget()
    assert linkedin is not None and linkedin.amount is None  # LinkedIn publishes no number
    assert get_connector_class("mailchimp").quota_budget() is None  # concurrency only
    assert get_connector_class("mailchimp").max_concurrent_requests == 10


def test_a_setting_overrides_the_budget(settings: Any) -> None:
    settings.GOOGLE_ADS_DAILY_QUOTA = 2880  # Explorer access
    budget = get_connector_class("google_ads").quota_budget()
    assert budget is not None and budget.amount == 2880
    settings.GOOGLE_ADS_DAILY_QUOTA = 0  # Standard access: no daily limit
    budget = get_connector_class("google_ads").quota_budget()
    assert budget is not None and budget.amount is None and budget.days_for(10**9, 0) is None


def test_only_job_creations_count_for_demandbase() -> None:
    cls = get_connector_class("demandbase")
    assert cls.call_cost("POST /data/export/v1/job") == 1
    assert cls.call_cost("GET /data/export/v1/job/123") == 0
    assert cls.call_cost("POST /data/intent/v1/companies/intent/query") == 0


def test_days_needed_within_a_budget() -> None:
    budget = QuotaBudget(100, "calls", "app", False, "docs", "X_DAILY_QUOTA")
    assert budget.days_for(40, 60) == 1  # fits today exactly
    assert budget.days_for(41, 60) == 2
    assert budget.days_for(250, 0) == 3
    assert budget.days_for(1, 500) == 2  # overspent today: from tomorrow
    noon = datetime(2026, 12, 7, 12, 30, tzinfo=UTC)
    assert budget.resets_at(noon) == datetime(2026, 12, 8, tzinfo=UTC)
    rolling = QuotaBudget(100, "calls", "app", True, "docs", "X_DAILY_QUOTA")
    assert rolling.day_start(noon) == datetime(2026, 12, 6, 13, tzinfo=UTC)


@pytest.mark.django_db(transaction=True)
def test_workers_share_one_count(settings: Any) -> None:
    """Threads with their own database connections add to the same rows, and lose nothing."""
    credential = get_connector_class("zoho_crm").quota_credential("20001")
    assert credential is not None

    def spend() -> None:
        try:
            for _ in range(25):
                quota_spend(platform="zoho_crm", credential=credential.label)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=spend) for _ in range(4 if db.vendor == "postgresql" else 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert quota_spent(credential=credential) == 25 * len(threads)


@pytest.mark.django_db
def test_a_utc_day_and_a_rolling_day_count_differently() -> None:
    now = datetime.now(tz=UTC)
    linkedin = get_connector_class("linkedin_ads").quota_credential("1")
    google = get_connector_class("google_ads").quota_credential("5550001000")
    assert linkedin is not None and google is not None
    quota_spend(platform="linkedin_ads", credential=linkedin.label, amount=7, now=now - timedelta(days=1))
    quota_spend(platform="linkedin_ads", credential=linkedin.label, amount=3, now=now)
    assert quota_spent(credential=linkedin, now=now) == 3  # since 00:00 UTC
    quota_spend(platform="google_ads", credential=google.label, amount=5, now=now - timedelta(hours=23))
    quota_spend(platform="google_ads", credential=google.label, amount=9, now=now - timedelta(hours=25))
    assert quota_spent(credential=google, now=now) == 5  # the last 24 hours


@pytest.mark.django_db
def test_the_check_refuses_what_would_exceed_the_budget(settings: Any) -> None:
    settings.ZOHO_CRM_DAILY_QUOTA = 10
    credential = get_connector_class("zoho_crm").quota_credential("20001")
    assert credential is not None
    quota_spend(platform="zoho_crm", credential=credential.label, amount=8)
    quota_check(credential=credential, cost=2)
    with pytest.raises(QuotaExhausted) as refused:
        quota_check(credential=credential, cost=3)
    assert "8 of 10 credits" in refused.value.message and 0 < (refused.value.retry_after or 0) <= 86_400


@pytest.mark.embedded
@pytest.mark.django_db(transaction=True)
def test_every_request_of_a_sync_is_counted_retries_included(
    zoho_connection: Connection, zoho_app: ZohoCrmSandbox
) -> None:
    zoho_app.faults.add("server_error", times=1, path="/crm/v8/Deals")  # answered, then retried
    run = run_sync(zoho_connection)
    assert run.status == "succeeded", run.error_message
    credential = get_connector_class("zoho_crm").quota_credential(zoho_connection.account_id)
    assert credential is not None
    api_requests = sum(n for name, n in zoho_app.state()["requests"].items() if name != "token")
    assert quota_spent(credential=credential) == api_requests > 2
