"""Every table's total equals the sum of its rows, to the cent, on demo-like data.

The demo's amounts have six decimals (the platforms' micros), so a total rounded on its own and
rows rounded one by one would drift apart by a cent here and there. The dashboard counts money in
cents instead: each campaign's day (and each deal) rounded to the cent, then added up exactly, so
whichever way a total is cut (per platform, per day, per campaign, per stage), on the page or in
the CSV, its rows add up to it. Checked on the read models and on the CSV cells a marketer sums.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from freezegun import freeze_time

from connectors.models import Connection
from dashboard.periods import Period, period_from_params
from dashboard.selectors import (
    CampaignFilters,
    accounts_report,
    campaign_detail,
    campaign_list_all,
    email_report,
    overview_get,
    pipeline_report,
)
from etl.models import AdPerformanceDaily, CrmDeal
from tenancy.models import Organization
from tests.dashboard import PASSWORD, TODAY, make_user
from tests.dashboard.demo_data import build_demo

# The sums run in SQL: on the embedded default (SQLite) as on PostgreSQL.
pytestmark = [pytest.mark.embedded, pytest.mark.django_db]

CENT = Decimal("0.01")
ADDITIVE = ("spend", "impressions", "clicks", "conversions", "conversion_value", "rows")
MONEY_COLUMNS = ("spend", "conversion_value")
PERIODS = [{"days": "7"}, {"days": "14"}, {"days": "30"}, {"start": "2025-03-10", "end": "2025-03-24"}]


@pytest.fixture(autouse=True)
def thirty_day_retention(settings: Any) -> None:
    settings.RETENTION_DAYS = 30


@pytest.fixture(autouse=True)
def frozen_today() -> Iterator[date]:
    """The exports read the period from the request, against the real clock: the demo's today."""
    with freeze_time(f"{TODAY.isoformat()} 12:00:00"):
        yield TODAY


@pytest.fixture
def demo() -> Organization:
    return build_demo(TODAY)


def period(params: dict[str, str]) -> Period:
    return period_from_params(params, today=TODAY)


def sums(lines: Iterable[Any], *, by: str = "currency") -> dict[str, dict[str, Any]]:
    """The additive figures of ``lines`` added up per currency (None stays None if every line has it)."""
    found: dict[str, dict[str, Any]] = defaultdict(dict)
    for line in lines:
        total = found[getattr(line, by)]
        for name in ADDITIVE:
            value = getattr(line, name)
            if value is None:
                total.setdefault(name, None)
            else:
                total[name] = value if total.get(name) is None else total[name] + value
    return dict(found)


def figures(metrics: Any) -> dict[str, Any]:
    return {name: getattr(metrics, name) for name in ADDITIVE}


def read_csv(client: Client, table: str, params: dict[str, str]) -> list[dict[str, str]]:
    response = client.get(reverse("dashboard:export_csv", args=[table]), params)
    assert response.status_code == 200, table
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def csv_sums(lines: list[dict[str, str]], columns: Iterable[str]) -> dict[str, dict[str, Decimal]]:
    found: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for line in lines:
        for column in columns:
            if line[column]:
                found[line["currency"]][column] += Decimal(line[column])
    return {currency: dict(values) for currency, values in found.items()}


def test_the_demo_amounts_have_more_decimals_than_cents(demo: Organization) -> None:
    """The premise: summing rounded rows and rounding the sum would disagree on this data."""
    spends = list(AdPerformanceDaily.objects.filter(organization=demo).values_list("spend", flat=True))
    exact = sum(spends, Decimal("0"))
    assert any(spend != spend.quantize(CENT) for spend in spends)
    assert exact.quantize(CENT) != sum((s.quantize(CENT, rounding=ROUND_HALF_UP) for s in spends), Decimal(0))


@pytest.mark.parametrize("params", PERIODS, ids=lambda p: "-".join(p.values()))
def test_overview_totals_equal_their_platforms_days_and_campaigns(
    demo: Organization, params: dict[str, str]
) -> None:
    shown = period(params)
    overview = overview_get(organization=demo, period=shown)
    totals = {m.currency: figures(m) for m in overview.totals}
    assert set(totals) == {"USD", "EUR", "GBP"}
    assert sums(overview.by_platform) == totals
    assert sums(day for series in overview.daily for day in series.days if day.rows) == totals
    campaigns = campaign_list_all(organization=demo, period=shown, filters=CampaignFilters())
    assert sums(campaigns) == totals
    # Every amount is whole cents, so rounding at display changes nothing.
    for line in [*overview.totals, *overview.by_platform, *campaigns]:
        for name in MONEY_COLUMNS:
            value = getattr(line, name)
            assert value is None or value == value.quantize(CENT), (line, name)
    # A platform's campaigns add up to the platform's line.
    for line in overview.by_platform:
        filtered = campaign_list_all(
            organization=demo,
            period=shown,
            filters=CampaignFilters.from_params({"platform": line.platform, "currency": line.currency}),
        )
        assert sums(filtered)[line.currency] == figures(line), line.platform


def test_the_money_is_each_campaign_day_to_the_cent(demo: Organization) -> None:
    """What the cents are: a campaign's day rounded half away from zero, then added up."""
    shown = period({"days": "30"})
    overview = overview_get(organization=demo, period=shown)
    rows = AdPerformanceDaily.objects.filter(organization=demo, date__gte=shown.current.start)
    for total in overview.totals:
        spends = rows.filter(currency=total.currency).values_list("spend", flat=True)
        assert total.spend == sum((s.quantize(CENT, rounding=ROUND_HALF_UP) for s in spends), Decimal(0))


def test_a_campaigns_days_add_up_to_its_total(demo: Organization) -> None:
    shown = period({"days": "30"})
    for line in campaign_list_all(organization=demo, period=shown, filters=CampaignFilters())[::5]:
        detail = campaign_detail(
            organization=demo, connection_id=line.connection_id, campaign_id=line.campaign_id, period=shown
        )
        assert detail is not None and detail.campaign is not None
        assert figures(detail.campaign) == figures(line)
        assert sums(day for series in detail.series for day in series.days if day.rows) == {
            line.currency: figures(line)
        }


def test_pipeline_totals_equal_their_groups(demo: Organization) -> None:
    report = pipeline_report(organization=demo, period=period({"days": "30"}))
    assert (
        report.leads
        == sum(g.leads for g in report.leads_by_source)
        == sum(g.leads for g in report.leads_by_campaign)
    )
    assert report.converted == sum(g.converted or 0 for g in report.leads_by_source)
    assert report.converted_unknown == sum(g.unknown for g in report.leads_by_campaign)
    stages: dict[str, list[Any]] = defaultdict(lambda: [0, Decimal(0), 0])
    for group in report.deals_by_stage:
        stages[group.currency][0] += group.deals
        stages[group.currency][1] += group.amount or 0
        stages[group.currency][2] += group.without_amount
    assert {d.currency: [d.deals, d.amount, d.without_amount] for d in report.deals} == stages
    # Six-decimal amounts, counted in cents: each deal to the cent, then added up.
    amounts = CrmDeal.objects.filter(organization_id=demo.pk, currency="USD").values_list("amount", flat=True)
    [usd] = [d for d in report.deals if d.currency == "USD"]
    assert usd.amount == sum(
        (a.quantize(CENT, rounding=ROUND_HALF_UP) for a in amounts if a is not None), Decimal(0)
    )
    assert report.match.matched_leads == sum(r.leads for r in report.cost_per_lead)


def test_email_and_engagement_totals_equal_their_rows(demo: Organization) -> None:
    email = email_report(organization=demo, period=period({"days": "30"}))
    for name in ("emails_sent", "bounces", "unique_opens", "unique_clicks", "unsubscribes"):
        assert getattr(email.totals, name) == sum(getattr(c, name) or 0 for c in email.campaigns), name
    accounts = accounts_report(organization=demo, period=period({"days": "30"}))
    assert accounts.total_minutes == sum(d.minutes or 0 for d in accounts.days)


@pytest.mark.parametrize("params", PERIODS[1:3], ids=lambda p: "-".join(p.values()))
def test_every_csv_adds_up_to_its_total(demo: Organization, params: dict[str, str]) -> None:
    make_user("ann", organization=demo)
    client = Client()
    assert client.login(username="ann", password=PASSWORD)
    totals: dict[str, dict[str, Decimal]] = defaultdict(dict)
    for line in read_csv(client, "overview_totals", params):
        if (
            line["metric"] in ("spend", "impressions", "clicks", "conversions", "conversion_value")
            and line["value"]
        ):
            totals[line["currency"]][line["metric"]] = Decimal(line["value"])
    assert set(totals) == {"USD", "EUR", "GBP"}
    columns = ("spend", "impressions", "clicks", "conversions", "conversion_value")
    for table in ("overview_platforms", "overview_daily", "campaigns"):
        assert csv_sums(read_csv(client, table, params), columns) == totals, table
    # One campaign's days add up to its line in the campaigns CSV.
    campaigns = read_csv(client, "campaigns", params)
    line = campaigns[0]
    connection = Connection.objects.get(organization=demo, account_id=line["account_id"])
    days = read_csv(
        client,
        "campaign_daily",
        {**params, "connection": str(connection.pk), "campaign": line["campaign_id"]},
    )
    assert csv_sums(days, ("spend", "clicks", "conversion_value"))[line["currency"]] == {
        column: Decimal(line[column]) for column in ("spend", "clicks", "conversion_value") if line[column]
    }
    # The deals by stage add up to the deal totals of the page, per currency.
    stages: dict[str, Decimal] = defaultdict(Decimal)
    for stage in read_csv(client, "deals_by_stage", params):
        stages[stage["currency"]] += Decimal(stage["amount"] or 0)
    report = pipeline_report(organization=demo, period=period(params))
    assert dict(stages) == {d.currency: d.amount for d in report.deals}


def test_retention_days_are_not_in_the_period(demo: Organization) -> None:
    """A sanity check of the fixture: the 30 days end today, so 7 days hold fewer rows than 30."""
    week = overview_get(organization=demo, period=period({"days": "7"}))
    month = overview_get(organization=demo, period=period({"days": "30"}))
    assert sum(m.rows for m in week.totals) * 4 < sum(m.rows for m in month.totals)
    assert month.date_range.start == TODAY - timedelta(days=29)
