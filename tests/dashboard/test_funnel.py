"""The funnel page: ad spend → email → leads → deals → target accounts for the period, with cost per
lead and per won deal where records join, each join explained; a stage not connected is "—"."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from freezegun import freeze_time

from dashboard.periods import period_from_params
from dashboard.selectors.funnel import funnel_report
from tenancy.models import Organization
from tests.dashboard import (
    PASSWORD,
    TODAY,
    add_account,
    add_deal,
    add_email,
    add_engagement,
    add_lead,
    add_row,
    make_connection,
    make_org,
    make_user,
)

pytestmark = [pytest.mark.django_db, pytest.mark.embedded]

NOON = datetime(TODAY.year, TODAY.month, TODAY.day, 12, tzinfo=UTC)
WEEK = {"days": "7"}


@pytest.fixture(autouse=True)
def frozen_today(settings: Any) -> Iterator[None]:
    settings.RETENTION_DAYS = 30
    with freeze_time(f"{TODAY.isoformat()} 12:00:00"):
        yield


def whole_funnel(org: Organization) -> None:
    """Spring (LinkedIn, 300 USD) gets two of three leads and one won deal; Summer (Google, 90 EUR)
    gets one lead; one won deal names no campaign; the won deals' accounts are targets or not."""
    li = make_connection(org, platform="linkedin_ads", account_id="11")
    google = make_connection(org, platform="google_ads", account_id="123-456-7890")
    for back in range(3):
        add_row(li, day=TODAY - timedelta(days=back), campaign_id="501", campaign_name="Spring", spend="100")
    add_row(google, day=TODAY, campaign_id="777", campaign_name="Summer", spend="90", currency="EUR")
    mailchimp = make_connection(org, platform="mailchimp", account_id="us1")
    add_email(
        mailchimp, campaign_id="e1", send_time=NOON, emails_sent=1000, unique_opens=300, unique_clicks=50
    )
    zoho = make_connection(org, platform="zoho_crm", account_id="org1")
    add_lead(zoho, lead_id="l1", created=NOON, utm_campaign="501")  # rule 1: UTM = ad campaign ID
    add_lead(zoho, lead_id="l2", created=NOON, utm_campaign="spring")  # rule 2: UTM = name
    add_lead(zoho, lead_id="l3", created=NOON, campaign_name="Summer")  # rule 3: CRM campaign = name
    add_lead(zoho, lead_id="l4", created=NOON)  # no campaign at all
    won = {"stage": "Closed Won", "currency": "USD"}
    add_deal(
        zoho,
        deal_id="d1",
        created=NOON,
        utm_campaign="501",
        amount=Decimal("5000"),
        account_name="Acme",
        **won,
    )
    add_deal(zoho, deal_id="d2", created=NOON, amount=Decimal("1000"), account_name="Globex Ltd", **won)
    add_deal(
        zoho, deal_id="d3", created=NOON, stage="Negotiation/Review", currency="USD", amount=Decimal("9")
    )
    demandbase = make_connection(org, platform="demandbase", account_id="tenant")
    add_account(demandbase, account_id="a1", name="ACME")
    add_account(demandbase, account_id="a2", name="Initech")
    add_engagement(demandbase, account_id="a1", day=TODAY, engagement_minutes=Decimal("4"))


def test_every_stage_and_the_costs_where_records_join() -> None:
    org = make_org("Northwind")
    whole_funnel(org)
    other = make_org("Other")
    add_lead(make_connection(other, platform="zoho_crm", account_id="x"), lead_id="theirs", created=NOON)

    report = funnel_report(organization=org, period=period_from_params(WEEK))

    assert report.ads is not None
    usd, eur = sorted(report.ads, key=lambda s: s.currency, reverse=True)
    assert (usd.currency, usd.totals.spend, usd.leads, usd.won_deals) == ("USD", Decimal("300.00"), 2, 1)
    assert usd.cost_per_lead == Decimal("150") and usd.cost_per_won_deal == Decimal("300")
    assert (eur.currency, eur.leads, eur.cost_per_lead) == ("EUR", 1, Decimal("90"))
    assert eur.won_deals == 0 and eur.cost_per_won_deal is None  # nothing joined: "—", not 0
    assert report.email is not None and report.email.emails_sent == 1000
    assert report.leads == 4  # the other organization's lead is not counted
    assert report.deals is not None
    [deals] = report.deals
    assert (deals.deals, deals.won, deals.won_amount) == (3, 2, Decimal("6000.00"))
    assert report.accounts is not None
    assert (report.accounts.target_accounts, report.accounts.engaged) == (2, 1)

    joins = {j.key: j for j in report.joins}
    assert (joins["leads"].of, joins["leads"].matched, joins["leads"].without_key) == (4, 3, 1)
    assert (joins["won_deals"].of, joins["won_deals"].matched, joins["won_deals"].without_key) == (2, 1, 1)
    assert (joins["won_accounts"].of, joins["won_accounts"].matched, joins["won_accounts"].unmatched) == (
        2,
        1,
        1,
    )


def test_the_page_is_in_the_navigation_and_explains_each_join() -> None:
    org = make_org("Northwind")
    whole_funnel(org)
    make_user("ana", organization=org)
    client = Client()
    assert client.login(username="ana", password=PASSWORD)

    overview = client.get(reverse("dashboard:overview")).content.decode()
    assert f'href="{reverse("dashboard:funnel")}' in overview

    page = client.get(reverse("dashboard:funnel"), WEEK).content.decode()
    assert 'data-join="leads"' in page and "3 of 4 matched" in page
    assert 'data-join="won_accounts"' in page and "deal account name = target account name" in page
    assert "150.00 USD" in page and "300.00 USD" in page  # cost per lead and per won deal


def test_a_stage_not_connected_is_a_dash_not_zero() -> None:
    org = make_org("Ads only")
    li = make_connection(org, platform="linkedin_ads", account_id="11")
    add_row(li, day=TODAY, campaign_id="501", spend="10")
    make_user("ana", organization=org)
    client = Client()
    assert client.login(username="ana", password=PASSWORD)

    report = funnel_report(organization=org, period=period_from_params(WEEK))
    assert report.email is None and report.leads is None and report.deals is None and report.accounts is None
    [ads] = report.ads or []
    assert ads.cost_per_lead is None and ads.cost_per_won_deal is None

    page = client.get(reverse("dashboard:funnel"), WEEK).content.decode()
    assert "No CRM is connected" in page and "No email platform is connected" in page
    assert 'data-figure="leads">—' in page


def funnel_csv(client: Client) -> dict[tuple[str, str, str], dict[str, str]]:
    response = client.get(reverse("dashboard:export_csv", args=["funnel"]), WEEK)
    assert response.status_code == 200
    rows = csv.DictReader(io.StringIO(response.content.decode()))
    return {(r["stage"], r["currency"], r["metric"]): r for r in rows}


def test_the_csv_has_every_figure_of_the_page() -> None:
    org = make_org("Northwind")
    whole_funnel(org)
    make_user("ana", organization=org)
    client = Client()
    assert client.login(username="ana", password=PASSWORD)

    page = client.get(reverse("dashboard:funnel"), WEEK).content.decode()
    assert reverse("dashboard:export_csv", args=["funnel"]) in page

    rows = funnel_csv(client)
    assert rows[("ads", "USD", "spend")]["value"] == "300.00"
    assert rows[("ads", "USD", "cost_per_lead")]["value"] == "150.00"
    assert rows[("ads", "EUR", "cost_per_won_deal")]["value"] == ""  # nothing joined: empty, not 0
    assert rows[("ads", "USD", "matched_leads_spend")]["of"] == "2"
    assert rows[("email", "", "emails_sent")]["value"] == "1000"
    assert rows[("leads", "", "leads")]["value"] == "4"
    assert rows[("deals", "USD", "won_amount")]["value"] == "6000.00"
    assert rows[("accounts", "", "engaged_accounts")]["value"] == "1"
    leads = rows[("join:leads", "", "matched")]
    assert (leads["value"], leads["of"]) == ("3", "4") and "1 named none" in leads["note"]


def test_the_csv_says_which_stage_is_not_connected() -> None:
    org = make_org("Ads only")
    add_row(
        make_connection(org, platform="linkedin_ads", account_id="11"),
        day=TODAY,
        campaign_id="501",
        spend="10",
    )
    make_user("ana", organization=org)
    client = Client()
    assert client.login(username="ana", password=PASSWORD)

    rows = funnel_csv(client)
    assert (
        rows[("leads", "", "leads")]["value"] == ""
        and rows[("leads", "", "leads")]["note"] == "No CRM is connected."
    )
    assert rows[("email", "", "emails_sent")]["note"] == "No email platform is connected."
    assert rows[("ads", "USD", "spend")]["value"] == "10.00"
