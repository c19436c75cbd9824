"""Sync health's daily API budgets: per credential the organization's connections spend from, what
is spent of it in its budget's day against the budget; platforms without a budget say so; another
organization's credentials are not shown."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from connectors.quota import quota_spend
from connectors.registry import get_connector_class
from tests.dashboard import PASSWORD, make_connection, make_org, make_user

pytestmark = [pytest.mark.embedded, pytest.mark.django_db]


def budgets_table(client: Client) -> str:
    html = client.get(reverse("dashboard:sync_health")).content.decode()
    found = re.search(r'<table class="table" id="api-budgets">(.*?)</table>', html, re.S)
    assert found, "Sync health has no API budgets table"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(1)))


def test_sync_health_shows_spent_today_against_each_budget(settings: Any) -> None:
    settings.GOOGLE_ADS_CLIENT_ID = "1234-ads.apps.googleusercontent.com"
    settings.GOOGLE_ADS_DAILY_QUOTA = 2880  # Explorer access
    org, other = make_org("Northwind"), make_org("Contoso")
    make_connection(org, platform="google_ads", account_id="5550001000", name="Northwind MCC")
    make_connection(org, platform="zoho_crm", account_id="20001", name="Northwind CRM")
    make_connection(org, platform="mailchimp", account_id="40118001", name="Newsletter")
    make_connection(other, platform="zoho_crm", account_id="90009", name="Contoso CRM")
    google = get_connector_class("google_ads").quota_credential("5550001000")
    assert google is not None
    quota_spend(platform="google_ads", credential=google.label, amount=2400)
    quota_spend(
        platform="google_ads", credential=google.label, amount=100, now=timezone.now() - timedelta(hours=30)
    )
    quota_spend(platform="zoho_crm", credential="20001", amount=125)
    quota_spend(platform="zoho_crm", credential="90009", amount=777)
    make_user("ana", organization=org)
    client = Client()
    assert client.login(username="ana", password=PASSWORD)

    table = budgets_table(client)
    # Google: the last 24 hours only (the 100 from 30 hours ago no longer count), of Explorer's 2,880.
    assert "Google Cloud project OAuth client 1234-ads.apps.googleusercontent.com" in table
    assert "2400 in the last 24 hours 2880 operations 83% spent" in table
    assert (
        "Zoho CRM organization 20001 Northwind CRM 125 in the last 24 hours 50000 credits 0% spent" in table
    )
    assert "90009" not in table and "777" not in table and "Contoso" not in table  # another organization's
    assert "Mailchimp" not in table  # no daily budget: concurrency only


def test_a_spent_budget_says_until_when(settings: Any) -> None:
    settings.ZOHO_CRM_DAILY_QUOTA = 100
    org = make_org("Northwind")
    make_connection(org, platform="zoho_crm", account_id="20001", name="Northwind CRM")
    quota_spend(platform="zoho_crm", credential="20001", amount=100)
    make_user("ana", organization=org)
    client = Client()
    assert client.login(username="ana", password=PASSWORD)
    table = budgets_table(client)
    assert re.search(r"100 in the last 24 hours 100 credits spent until \d\d:00 UTC", table), table


def test_a_platform_without_a_published_budget_shows_a_dash(settings: Any) -> None:
    org = make_org("Northwind")
    make_connection(org, platform="linkedin_ads", account_id="508000001", name="Northwind Ads")
    make_user("ana", organization=org)
    client = Client()
    assert client.login(username="ana", password=PASSWORD)
    table = budgets_table(client)
    assert "LinkedIn app" in table and "— no published budget" in table
