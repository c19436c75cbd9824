"""A figure the platform did not report (NULL in the warehouse) is never shown as 0.

Every page and every CSV export is read over a warehouse whose nullable metrics are all NULL: the
cells show "—" and the CSV cells are empty. Then some rows report a figure and others do not: the
totals add up what was reported and say how many rows are without it, and rates divide only what
belongs together.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from html.parser import HTMLParser
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from freezegun import freeze_time

from connectors.models import Connection
from dashboard.charts import ChartPoint, bar_chart
from dashboard.exports import EXPORTS
from dashboard.periods import period_from_params
from dashboard.selectors import accounts_report, email_report, overview_get, pipeline_report
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

pytestmark = [pytest.mark.embedded, pytest.mark.django_db]

NOON = datetime(TODAY.year, TODAY.month, TODAY.day, 12, tzinfo=UTC)
WEEK = {"days": "7"}
DASH = "—"
ZERO = re.compile(r"^0([.,]0+)?(\D|$)")  # 0, 0.0, 0.00, "0.00 USD", "0.0%"

EMAIL_NULLS = {
    "emails_sent": None,
    "bounces": None,
    "unique_opens": None,
    "unique_clicks": None,
    "unsubscribes": None,
    "opens": None,
    "clicks": None,
    "open_rate": None,
    "click_rate": None,
}
ENGAGEMENT_NULLS: dict[str, Any] = {
    "engagement_minutes": None,
    "engagement_points": None,
    "web_minutes": None,
    "email_minutes": None,
    "ad_minutes": None,
    "page_views": None,
    "people_researching": None,
    "intent_strength": None,
    "intent_keywords": None,
}

# Per export, the columns that hold a metric NULL in every row of the all-NULL warehouse (or
# derived from one), which must be empty cells. Every export must be listed, so a new one is
# checked too.
NULL_COLUMNS: dict[str, set[str]] = {
    "overview_platforms": {"conversions", "cost_per_conversion", "conversion_value", "roas"},
    "overview_daily": {"conversions", "cost_per_conversion", "conversion_value", "roas"},
    "campaigns": {"conversions", "cost_per_conversion", "conversion_value", "roas"},
    "campaign_daily": {"conversions", "cost_per_conversion", "conversion_value", "roas"},
    "email_campaigns": {
        "emails_sent",
        "delivered",
        "unique_opens",
        "open_rate_percent",
        "unique_clicks",
        "click_rate_percent",
        "unsubscribes",
        "unsubscribe_rate_percent",
        "bounces",
    },
    "leads_by_source": {"converted", "converted_percent"},
    "leads_by_campaign": {"converted", "converted_percent"},
    "deals_by_stage": {"amount"},
    "deals_by_source": {"amount"},
    "deals_by_campaign": {"amount"},
    "cost_per_lead": {"converted"},
    "accounts_top": {
        "engagement_points_7d",
        "engagement_points_30d",
        "engagement_minutes_7d",
        "engagement_minutes_30d",
        "intent_score",
        "intent_keyword_count",
    },
    "accounts_engagement": {
        "engagement_minutes",
        "engagement_points",
        "web_minutes",
        "email_minutes",
        "ad_minutes",
        "page_views",
        "accounts_engaged",
        "people_researching",
    },
    # Rows of metrics (checked below by metric), or no warehouse metric at all.
    "overview_totals": set(),
    "funnel": set(),
    "accounts_keywords": set(),
    "accounts_stages": set(),
    "sync_connections": set(),
    "sync_runs": set(),
    # An empty new value is a figure the platform stopped reporting (logged as gone), not a missing one.
    "restatement_log": set(),
}
NULL_KPIS = {"conversions", "cost_per_conversion", "conversion_value", "roas"}


@pytest.fixture(autouse=True)
def frozen_today() -> Iterator[date]:
    with freeze_time(f"{TODAY.isoformat()} 12:00:00"):
        yield TODAY


def client_for(organization: Organization) -> Client:
    make_user("ann", organization=organization)
    client = Client()
    assert client.login(username="ann", password=PASSWORD)
    return client


def read_csv(client: Client, table: str, params: dict[str, str] | None = None) -> list[dict[str, str]]:
    response = client.get(reverse("dashboard:export_csv", args=[table]), {**WEEK, **(params or {})})
    assert response.status_code == 200, table
    return list(csv.DictReader(io.StringIO(response.content.decode())))


class _Figures(HTMLParser):
    """The text of every element with a ``data-figure`` attribute, children included, and of each
    KPI's value (``kpi:<name>``) and whole card (``kpi-card:<name>``)."""

    VOID = {"br", "img", "input", "meta", "link", "hr", "source", "wbr"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[tuple[str, str | None]] = []
        self.open: dict[int, list[str]] = {}
        self.found: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.VOID:
            return
        named = dict(attrs)
        key = named.get("data-figure")
        if named.get("data-kpi"):
            key = f"kpi-card:{named['data-kpi']}"
        elif "kpi__value" in (named.get("class") or "").split():
            cards = [k for _, k in self.stack if k and k.startswith("kpi-card:")]
            key = f"kpi:{cards[-1].partition(':')[2]}" if cards else None
        self.stack.append((tag, key))
        if key:
            self.open[len(self.stack)] = []

    def handle_endtag(self, tag: str) -> None:
        if tag in self.VOID or not self.stack:
            return
        depth = len(self.stack)
        _, key = self.stack.pop()
        parts = self.open.pop(depth, None)
        if key and parts is not None:
            self.found.append((key, " ".join("".join(parts).split())))

    def handle_data(self, data: str) -> None:
        for parts in self.open.values():
            parts.append(data)


def figures(html: str) -> list[tuple[str, str]]:
    parser = _Figures()
    parser.feed(html)
    return parser.found


def page(client: Client, name: str, *args: Any, params: dict[str, str] | None = None) -> str:
    response = client.get(reverse(f"dashboard:{name}", args=args), {**WEEK, **(params or {})})
    assert response.status_code == 200, name
    return response.content.decode()


# --------------------------------------------------------------------------------------------
# Every nullable metric NULL
# --------------------------------------------------------------------------------------------


@pytest.fixture
def all_null() -> Organization:
    org = make_org("Nulls")
    li = make_connection(org, platform="linkedin_ads", account_id="11")
    mc = make_connection(org, platform="mailchimp", account_id="u1")
    zoho = make_connection(org, platform="zoho_crm", account_id="org1")
    db = make_connection(org, platform="demandbase", account_id="tenant")
    for back in (0, 2):
        add_row(
            li,
            day=TODAY - timedelta(days=back),
            campaign_id="501",
            campaign_name="Spring",
            spend="40",
            impressions=1000,
            clicks=10,
        )
    add_email(mc, campaign_id="e1", send_time=NOON, **EMAIL_NULLS)
    add_lead(zoho, lead_id="l1", created=NOON, lead_source="Web", utm_campaign="501")
    add_deal(zoho, deal_id="d1", created=NOON, stage="Negotiation", currency="USD", lead_source="Web")
    add_deal(zoho, deal_id="d2", created=NOON, stage="Negotiation", lead_source="Web")  # no currency either
    add_account(db, account_id="a1", name="Acme")
    for back in range(3):
        add_engagement(db, account_id="a1", day=TODAY - timedelta(days=back), **ENGAGEMENT_NULLS)
    add_engagement(db, account_id="a2", day=TODAY, **{**ENGAGEMENT_NULLS, "intent_keywords": "etl"})
    return org


def test_every_export_is_classified() -> None:
    assert set(NULL_COLUMNS) == set(EXPORTS)


def test_pages_show_a_dash_for_every_null_metric(all_null: Organization) -> None:
    client = client_for(all_null)
    li = Connection.objects.get(organization=all_null, platform="linkedin_ads")
    htmls = {
        "overview": page(client, "overview"),
        "campaigns": page(client, "campaigns"),
        "campaign": page(client, "campaign", li.pk, "501"),
        "email": page(client, "email"),
        "pipeline": page(client, "pipeline"),
        "funnel": page(client, "funnel"),
        "accounts": page(client, "accounts"),
    }
    page(client, "sync_health")  # no warehouse metric; it still renders

    null_figures = {
        "conversions",
        "conversion_value",
        "emails_sent",
        "open_rate",
        "unique_opens",
        "click_rate",
        "unique_clicks",
        "unsubscribes",
        "unsubscribe_rate",
        "bounces",
        "converted",
        "conversion_percent",
        "amount",
        "engagement_points_7d",
        "engagement_points_30d",
        "engagement_minutes_30d",
        "intent_score",
        "intent_keyword_count",
        "minutes",
        "points",
        "page_views",
        "accounts",
        "people_researching",
        *(f"kpi:{k}" for k in ("conversions", "cost_per_conversion", "conversion_value", "roas")),
        *(f"kpi:{k}" for k in ("emails_sent", "open_rate", "click_rate", "unsubscribes", "bounces")),
        "kpi:converted",
    }
    seen: set[str] = set()
    for name, html in htmls.items():
        for key, text in figures(html):
            if key in null_figures:
                seen.add(key)
                assert text.startswith(DASH), (name, key, text)
            # Accounts with intent is a real 0 on the days without any row (intent is reported today).
            assert not ZERO.match(text) or key == "intent_accounts", (name, key, text)
    # The figures checked above were on the pages (the daily engagement columns are left out).
    assert {"conversions", "conversion_value", "emails_sent", "open_rate", "bounces"} <= seen
    assert {"converted", "conversion_percent", "amount", "intent_score", "kpi:conversions"} <= seen
    assert {"kpi:emails_sent", "kpi:converted", "engagement_points_30d"} <= seen
    funnel = dict(figures(htmls["funnel"]))
    assert funnel["emails_sent"] == funnel["unique_opens"] == funnel["won_amount"] == DASH
    assert funnel["cost_per_won_deal"] == DASH  # no won deal joined: nothing to divide by

    accounts = htmls["accounts"]
    assert "This tenant reports no engagement minutes" in accounts
    assert 'data-figure="minutes"' not in accounts  # said in words, not a column of dashes
    assert 'data-kpi="engagement_minutes"' not in accounts
    assert ">0.0<" not in accounts and ">0.0 minutes" not in accounts
    assert 'data-figure="intent_accounts"' in accounts  # intent was reported (one account, one day)
    assert "no data" in accounts or "Engagement minutes per day" not in accounts


def test_exports_leave_null_metrics_empty(all_null: Organization) -> None:
    client = client_for(all_null)
    li = Connection.objects.get(organization=all_null, platform="linkedin_ads")
    special = {"campaign_daily": {"connection": str(li.pk), "campaign": "501"}}
    for table, columns in NULL_COLUMNS.items():
        rows = read_csv(client, table, special.get(table))
        if columns:
            assert rows, table
        for row in rows:
            for column in columns:
                assert row[column] == "", (table, column, row)

    totals = read_csv(client, "overview_totals")
    assert {r["metric"] for r in totals} >= NULL_KPIS
    for row in totals:
        if row["metric"] in NULL_KPIS:
            assert row["value"] == "" and row["previous_period_value"] == "", row

    funnel = {(r["stage"], r["metric"]): r for r in read_csv(client, "funnel")}
    for metric in ("emails_sent", "unique_opens", "unique_clicks"):
        assert funnel[("email", metric)]["value"] == "", metric
    assert funnel[("deals", "won_amount")]["value"] == ""  # no deal was won: nothing to add up
    assert funnel[("ads", "cost_per_won_deal")]["value"] == ""  # no won deal to divide by: "—", not 0

    [deals] = [r for r in read_csv(client, "deals_by_stage") if r["currency"] == "USD"]
    assert deals["deals_without_amount"] == "1"
    [leads] = read_csv(client, "leads_by_source")
    assert leads["leads_without_status"] == "1"
    days = {r["date"]: r for r in read_csv(client, "accounts_engagement")}
    assert days[(TODAY - timedelta(days=1)).isoformat()]["accounts_with_intent"] == ""  # rows without it
    assert days[TODAY.isoformat()]["accounts_with_intent"] == "1"


def test_null_engagement_is_unknown_not_zero(all_null: Organization) -> None:
    report = accounts_report(organization=all_null, period=period_from_params(WEEK))
    today = report.days[-1]
    assert today.minutes is None and today.page_views is None and today.accounts is None
    assert report.days[0].minutes is None  # a day without rows: nothing reported on any day
    assert report.total_minutes is None and report.engaged_accounts is None
    assert "engagement minutes" in report.unreported_figures
    assert today.intent_accounts == 1
    assert report.days[-2].intent_accounts is None  # its rows left the keywords out
    assert report.days[0].intent_accounts == 0  # no row that day, and other days report intent


# --------------------------------------------------------------------------------------------
# Some rows NULL, some not
# --------------------------------------------------------------------------------------------


def test_partial_conversions_are_summed_and_said(all_null: Organization) -> None:
    li = Connection.objects.get(organization=all_null, platform="linkedin_ads")
    add_row(
        li,
        day=TODAY,
        campaign_id="502",
        campaign_name="Tracked",
        spend="100",
        conversions="2",
        conversion_value="50",
    )
    client = client_for(all_null)

    overview = overview_get(organization=all_null, period=period_from_params(WEEK))
    [usd] = overview.totals
    assert usd.spend == Decimal("180") and usd.conversions == Decimal("2")
    assert (usd.conversions_missing, usd.rows) == (2, 3)
    assert usd.cost_per_conversion == Decimal("50")  # the spend of the row that counted them
    assert usd.roas == Decimal("0.5")

    html = page(client, "overview")
    found = dict(figures(html))
    assert (
        found["kpi:conversions"] == "2"
        and "2 of 3 campaign days without data" in found["kpi-card:conversions"]
    )
    assert "50.00" in found["kpi:cost_per_conversion"]

    totals = {r["metric"]: r for r in read_csv(client, "overview_totals")}
    assert totals["conversions"]["value"] == "2.0000"
    assert totals["cost_per_conversion"]["value"] == "50.00"
    assert totals["roas"]["value"] == "0.5000"
    campaigns = {r["campaign_id"]: r for r in read_csv(client, "campaigns")}
    assert campaigns["501"]["conversions"] == "" and campaigns["502"]["conversions"] == "2.0000"


def test_partial_email_counts(all_null: Organization) -> None:
    mc = Connection.objects.get(organization=all_null, platform="mailchimp")
    add_email(mc, campaign_id="e2", send_time=NOON, emails_sent=1000, bounces=0, unique_opens=250)
    client = client_for(all_null)
    report = email_report(organization=all_null, period=period_from_params(WEEK))
    totals = report.totals
    assert (totals.campaigns, totals.emails_sent, totals.unique_opens) == (2, 1000, 250)
    assert totals.open_rate_percent == Decimal(25)  # over the campaign that has both counts
    assert totals.notes["emails_sent"] == "1 of 2 campaigns without data"

    html = page(client, "email")
    found = dict(figures(html))
    assert "1 of 2 campaigns without data" in found["kpi-card:emails_sent"]
    assert found["kpi:open_rate"].startswith("25.0%")
    rows = {r["campaign_id"]: r for r in read_csv(client, "email_campaigns")}
    assert rows["e1"]["emails_sent"] == "" and rows["e2"]["emails_sent"] == "1000"


def test_partial_deal_amounts_and_conversion_status(all_null: Organization) -> None:
    zoho = Connection.objects.get(organization=all_null, platform="zoho_crm")
    add_deal(zoho, deal_id="d3", created=NOON, stage="Negotiation", currency="USD", amount=Decimal("100"))
    add_lead(zoho, lead_id="l2", created=NOON, lead_source="Web", converted=True)
    add_lead(zoho, lead_id="l3", created=NOON, lead_source="Web", converted=False)
    report = pipeline_report(organization=all_null, period=period_from_params(WEEK))
    [usd] = [d for d in report.deals if d.currency == "USD"]
    assert (usd.deals, usd.amount, usd.without_amount) == (2, Decimal("100"), 1)
    assert (report.leads, report.converted, report.converted_unknown) == (3, 1, 1)
    [web] = report.leads_by_source
    assert web.conversion_percent == Decimal(50)  # 1 of the 2 leads with a status

    client = client_for(all_null)
    html = page(client, "pipeline")
    assert "1 of 2 deals without amount" in html
    assert "1 of 3 leads without conversion status" in html
    [row] = [r for r in read_csv(client, "deals_by_stage") if r["currency"] == "USD"]
    assert (row["amount"], row["deals_without_amount"]) == ("100.00", "1")


def test_partial_engagement_days(all_null: Organization) -> None:
    db = Connection.objects.get(organization=all_null, platform="demandbase")
    add_engagement(db, account_id="a3", day=TODAY, engagement_minutes=Decimal("10"), page_views=4)
    report = accounts_report(organization=all_null, period=period_from_params(WEEK))
    days = {d.day: d for d in report.days}
    assert days[TODAY].minutes == Decimal("10") and days[TODAY].accounts == 1
    assert days[TODAY - timedelta(days=1)].minutes is None  # its rows left the minutes out
    assert days[TODAY - timedelta(days=5)].minutes == 0  # no row: no engagement that day
    assert report.total_minutes == Decimal("10")
    assert report.days_without_minutes == 2  # yesterday and the day before

    client = client_for(all_null)
    html = page(client, "accounts")
    cells = [text for key, text in figures(html) if key == "minutes"]
    assert cells[:3] == ["10.0", DASH, DASH] and cells[-1] == "0.0"
    assert "2 of 7 days without data" in html
    assert "This tenant reports no engagement points" in html
    rows = {r["date"]: r for r in read_csv(client, "accounts_engagement")}
    yesterday = (TODAY - timedelta(days=1)).isoformat()
    assert rows[TODAY.isoformat()]["engagement_minutes"] == "10.0000"
    assert rows[yesterday]["engagement_minutes"] == "" and rows[yesterday]["engagement_points"] == ""


def test_a_chart_day_without_data_has_no_bar() -> None:
    chart = bar_chart([ChartPoint(TODAY, None), ChartPoint(TODAY + timedelta(days=1), Decimal("4"))])
    assert chart.bars[0].value is None and chart.bars[0].height == 0
    assert chart.bars[1].height > 0
