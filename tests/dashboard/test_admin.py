"""The admin: users with their organizations, connections without their tokens, read-only pipeline
and warehouse pages, and django-celery-beat's periodic tasks."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.test import Client
from django.urls import reverse

from connectors.crypto import encrypt_json
from tests.dashboard import (
    PASSWORD,
    TODAY,
    add_account,
    add_deal,
    add_email,
    add_engagement,
    add_lead,
    make_connection,
    make_org,
    make_user,
)


@pytest.fixture
def admin_client_() -> Client:
    make_user("root", is_staff=True, is_superuser=True)
    client = Client()
    assert client.login(username="root", password=PASSWORD)
    return client


@pytest.mark.django_db
def test_user_page_lists_and_edits_memberships(admin_client_: Client) -> None:
    org = make_org("Northwind")
    ann = make_user("ann", organization=org)
    listing = admin_client_.get(reverse("admin:auth_user_changelist")).content.decode()
    assert "Northwind (Member)" in listing
    change = admin_client_.get(reverse("admin:auth_user_change", args=[ann.pk])).content.decode()
    assert "memberships-TOTAL_FORMS" in change


@pytest.mark.django_db
def test_connection_page_says_tokens_are_stored_but_never_shows_them(admin_client_: Client) -> None:
    org = make_org("Northwind")
    conn = make_connection(org, credentials_encrypted=encrypt_json({"access_token": "tok-very-secret"}))
    html = admin_client_.get(reverse("admin:connectors_connection_change", args=[conn.pk])).content.decode()
    assert "Stored encrypted (not shown)" in html
    assert "tok-very-secret" not in html and conn.credentials_encrypted not in html


@pytest.mark.django_db
def test_warehouse_tables_are_read_only(admin_client_: Client) -> None:
    org = make_org("Northwind")
    noon = datetime(TODAY.year, TODAY.month, TODAY.day, 12, tzinfo=UTC)
    add_email(make_connection(org, platform="mailchimp"), campaign_id="e", send_time=noon)
    zoho = make_connection(org, platform="zoho_crm", account_id="z")
    add_lead(zoho, lead_id="l", created=noon)
    add_deal(zoho, deal_id="d", created=noon)
    db = make_connection(org, platform="demandbase", account_id="t")
    add_account(db, account_id="a")
    add_engagement(db, account_id="a", day=TODAY)
    for name in ("emailcampaign", "crmlead", "crmdeal", "abmaccount", "abmengagementdaily"):
        assert admin_client_.get(reverse(f"admin:etl_{name}_changelist")).status_code == 200
        assert admin_client_.get(reverse(f"admin:etl_{name}_add")).status_code == 403


@pytest.mark.django_db
def test_periodic_tasks_are_in_the_admin(admin_client_: Client) -> None:
    assert admin_client_.get(reverse("admin:django_celery_beat_periodictask_changelist")).status_code == 200
    assert (
        admin_client_.get(reverse("admin:django_celery_beat_crontabschedule_changelist")).status_code == 200
    )
