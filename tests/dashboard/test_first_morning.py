"""What got in a marketer's way on a first morning with the demo, each checked on demo-like data:
ids where names exist, amounts ranked across currencies, fallbacks nobody was told about, a tab
highlighted on the wrong page, messages that cannot tell two connections apart, and CSV totals
that did not say they add up only part of the data."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from unittest.mock import MagicMock, patch

import pytest
from django.test import Client
from django.urls import reverse
from freezegun import freeze_time

from connectors.models import Connection
from dashboard.periods import period_from_params
from dashboard.selectors import pipeline_report
from etl.models import AdPerformanceDaily, SyncRun
from tenancy.models import Membership, Organization
from tests.dashboard import PASSWORD, TODAY, add_lead, add_row, make_connection, make_org, make_user
from tests.dashboard.demo_data import LINKEDIN_IDS, build_demo

pytestmark = pytest.mark.django_db
MONTH = {"days": "30"}
NOON = datetime(TODAY.year, TODAY.month, TODAY.day, 12, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen_today(settings: Any) -> Iterator[date]:
    settings.RETENTION_DAYS = 30
    with freeze_time(f"{TODAY.isoformat()} 12:00:00"):
        yield TODAY


@pytest.fixture
def demo() -> Organization:
    return build_demo(TODAY)


def signed_in(organization: Organization, *, admin: bool = False, username: str = "ann") -> Client:
    user = make_user(username, organization=organization)
    if admin:
        Membership.objects.filter(user_id=user.pk).update(role=Membership.Role.ADMIN)
    client = Client()
    assert client.login(username=username, password=PASSWORD)
    return client


def read_csv(client: Client, table: str, params: dict[str, str] | None = None) -> list[dict[str, str]]:
    response = client.get(reverse("dashboard:export_csv", args=[table]), {**MONTH, **(params or {})})
    assert response.status_code == 200, table
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def html_of(client: Client, name: str, params: dict[str, str] | None = None) -> str:
    response = client.get(reverse(f"dashboard:{name}"), params or {})
    assert response.status_code == 200, name
    return response.content.decode()


# --------------------------------------------------------------------------------------------
# Names, not ids
# --------------------------------------------------------------------------------------------


def test_leads_and_deals_by_campaign_show_the_ad_campaigns_name(demo: Organization) -> None:
    report = pipeline_report(organization=demo, period=period_from_params(MONTH, today=TODAY))
    names = dict(
        AdPerformanceDaily.objects.filter(organization_id=demo.pk, campaign_id__in=LINKEDIN_IDS)
        .values_list("campaign_id", "campaign_name")
        .distinct()
    )
    for groups in (report.leads_by_campaign, report.deals_by_campaign):
        assert not [g.label for g in groups if g.label in LINKEDIN_IDS]  # no raw id left
        named = [g for g in groups if g.ad_campaign_id]
        assert named
        for group in named:
            assert group.label == names[group.ad_campaign_id]
            assert group.ad_platform_name == "LinkedIn Ads"
        # CRM campaigns and UTM slugs that name no ad campaign keep their own words.
        assert {"(not set)", "Partner Summit 2025 #3"} <= {g.label for g in groups if not g.ad_campaign_id}

    client = signed_in(demo)
    html = html_of(client, "pipeline", MONTH)
    group = next(g for g in report.leads_by_campaign if g.ad_campaign_id)
    assert f'title="LinkedIn Ads campaign ID {group.ad_campaign_id}"' in html
    assert not re.search(r"<td>\s*4001000\d\d\s*<", html)  # no cell that is only an id

    rows = read_csv(client, "leads_by_campaign")
    [line] = [r for r in rows if r["ad_campaign_id"] == group.ad_campaign_id]
    assert (line["group"], line["ad_platform"]) == (group.label, "LinkedIn Ads")
    assert next(r for r in rows if r["group"] == "(not set)")["ad_campaign_id"] == ""
    deals = read_csv(client, "deals_by_campaign")
    assert {"ad_campaign_id", "ad_platform"} <= set(deals[0])
    assert not [r for r in deals if r["group"] in LINKEDIN_IDS]


def test_an_id_no_ad_campaign_has_stays_as_it_is() -> None:
    org = make_org("Northwind")
    zoho = make_connection(org, platform="zoho_crm", account_id="z1")
    add_lead(zoho, lead_id="l1", created=NOON, utm_campaign="999999999")
    report = pipeline_report(organization=org, period=period_from_params(MONTH, today=TODAY))
    [group] = report.leads_by_campaign
    assert (group.label, group.ad_campaign_id) == ("999999999", "")


# --------------------------------------------------------------------------------------------
# Amounts are ranked within their currency
# --------------------------------------------------------------------------------------------


def test_the_campaign_table_groups_currencies_when_sorted_by_an_amount(demo: Organization) -> None:
    client = signed_in(demo)
    html = html_of(client, "campaigns", MONTH)
    assert re.findall(r'<tr class="table__group" data-currency="([A-Z]{3})">', html) == ["USD", "EUR", "GBP"]
    assert "ranked within each currency, never across currencies" in html
    by_clicks = html_of(client, "campaigns", {**MONTH, "sort": "clicks"})
    assert "table__group" not in by_clicks  # clicks compare across currencies
    overview = html_of(client, "overview", MONTH)
    assert "Top campaigns by spend, in each currency" in overview
    assert re.findall(r'<tr class="table__group" data-currency="([A-Z]{3})">', overview) == [
        "USD",
        "EUR",
        "GBP",
    ]
    # The CSV keeps the page's order: one block per currency, highest spend first in each.
    lines = read_csv(client, "campaigns")
    currencies = [line["currency"] for line in lines]
    assert currencies == sorted(currencies, key=["USD", "EUR", "GBP"].index)
    for currency in ("USD", "EUR", "GBP"):
        spends = [Decimal(line["spend"]) for line in lines if line["currency"] == currency]
        assert spends == sorted(spends, reverse=True)


# --------------------------------------------------------------------------------------------
# Fallbacks are said
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "said"),
    [
        ({"days": "90"}, "The last 90 days are not offered"),
        ({"start": "yesterday", "end": "2025-03-20"}, "The start date “yesterday” is not a date"),
        ({"start": "2025-03-10"}, "The end date is missing"),
    ],
)
@pytest.mark.parametrize("page", ["overview", "campaigns", "email", "pipeline", "accounts"])
def test_every_page_says_what_it_shows_instead(
    demo: Organization, page: str, params: dict[str, str], said: str
) -> None:
    html = html_of(signed_in(demo), page, params)
    assert said in html
    assert "so the last 30 days are shown instead." in html


# --------------------------------------------------------------------------------------------
# Navigation and messages
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [reverse("dashboard:connect_choose"), reverse("dashboard:connect_platform", args=["demandbase"])],
)
def test_the_connect_pages_highlight_their_own_tab(url: str) -> None:
    client = signed_in(make_org("Northwind"), admin=True)
    html = client.get(url).content.decode()
    current = re.findall(r'<a class="tabs__item[^"]*is-current[^"]*"[^>]*>([^<]+)</a>', html)
    assert current == ["+ Connect an account"]
    sync_health = client.get(reverse("dashboard:sync_health")).content.decode()
    assert re.findall(r'<a class="tabs__item[^"]*is-current[^"]*"[^>]*>([^<]+)</a>', sync_health) == [
        "Sync health"
    ]


def test_sync_now_names_the_platform_of_connections_that_share_a_name() -> None:
    org = make_org("Northwind")
    linkedin = make_connection(org, platform="linkedin_ads", account_id="508000001", name="Northwind Traders")
    zoho = make_connection(org, platform="zoho_crm", account_id="20099001", name="Northwind Traders")
    nameless = make_connection(org, platform="google_ads", account_id="1234567890")
    client = signed_in(org)
    said = {}
    with patch("dashboard.views.sync_start", return_value=MagicMock(spec=SyncRun)):
        for connection in (linkedin, zoho, nameless):
            response = client.post(
                reverse("dashboard:connection_sync_now", args=[connection.pk]), follow=True
            )
            [message] = [str(m) for m in response.context["messages"]]
            said[connection.platform] = message
    assert said == {
        "linkedin_ads": "Sync started for Northwind Traders (LinkedIn Ads, account 508000001).",
        "zoho_crm": "Sync started for Northwind Traders (Zoho CRM, account 20099001).",
        "google_ads": "Sync started for Google Ads account 1234567890.",
    }
    Connection.objects.filter(pk=zoho.pk).update(status=Connection.Status.PAUSED)
    response = client.post(reverse("dashboard:connection_sync_now", args=[zoho.pk]), follow=True)
    assert "Northwind Traders (Zoho CRM, account 20099001) is paused" in response.content.decode()


def test_the_reauthorization_banner_names_the_platform() -> None:
    org = make_org("Northwind")
    make_connection(
        org,
        platform="zoho_crm",
        account_id="20099001",
        name="Northwind Traders",
        status=Connection.Status.NEEDS_REAUTH,
    )
    html = html_of(signed_in(org), "overview")
    assert (
        "<strong>Northwind Traders (Zoho CRM, account 20099001)</strong> needs you to sign in again" in html
    )


# --------------------------------------------------------------------------------------------
# CSV totals over partly missing data say so
# --------------------------------------------------------------------------------------------


def test_ad_exports_count_the_campaign_days_without_conversion_data() -> None:
    org = make_org("Northwind")
    ads = make_connection(org, platform="linkedin_ads", account_id="1")
    add_row(ads, day=TODAY, campaign_id="a", spend="10", conversions="2", conversion_value="30")
    add_row(ads, day=TODAY.replace(day=30), campaign_id="a", spend="10")  # nothing reported
    add_row(ads, day=TODAY, campaign_id="b", spend="5")  # never reports conversions
    client = signed_in(org)

    totals = {r["metric"]: r for r in read_csv(client, "overview_totals")}
    assert totals["conversions"]["value"] == "2.0000"
    assert (totals["conversions"]["campaign_days"], totals["conversions"]["campaign_days_without_data"]) == (
        "3",
        "2",
    )
    assert totals["conversions"]["note"] == (
        "2 of 3 campaign days without conversions; the figure counts the others"
    )
    assert (
        totals["roas"]["note"]
        == "2 of 3 campaign days without conversion value; the figure counts the others"
    )
    assert (totals["spend"]["campaign_days_without_data"], totals["spend"]["note"]) == ("0", "")

    campaigns = {r["campaign_id"]: r for r in read_csv(client, "campaigns")}
    assert campaigns["a"]["conversions"] == "2.0000"  # a sum over part of the days ...
    assert (campaigns["a"]["campaign_days"], campaigns["a"]["campaign_days_without_conversions"]) == (
        "2",
        "1",
    )
    assert campaigns["b"]["conversions"] == ""  # ... and no figure at all: empty, never 0
    assert (campaigns["b"]["campaign_days"], campaigns["b"]["campaign_days_without_conversions"]) == (
        "1",
        "1",
    )
    for table in ("overview_platforms", "overview_daily"):
        lines = read_csv(client, table)
        assert sum(int(line["campaign_days_without_conversion_value"]) for line in lines) == 2, table
        assert sum(int(line["campaign_days"]) for line in lines) == 3, table
    days = read_csv(client, "campaign_daily", {"connection": str(ads.pk), "campaign": "a"})
    today = next(line for line in days if line["date"] == TODAY.isoformat())
    assert (today["campaign_days"], today["campaign_days_without_conversions"]) == ("1", "0")


def test_a_total_without_any_conversion_data_says_so() -> None:
    org = make_org("Northwind")
    add_row(make_connection(org), day=TODAY, campaign_id="a", spend="10")
    totals = {r["metric"]: r for r in read_csv(signed_in(org), "overview_totals")}
    assert totals["conversions"]["value"] == ""
    assert totals["conversions"]["note"] == "no campaign day has conversions"
