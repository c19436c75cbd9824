"""A warehouse shaped like the demo's: every page has data, and the data is as awkward as real data.

Four ad accounts in three currencies (two platforms, long campaign names, six-decimal amounts as
the platforms' micros give them, fractional conversions, some campaigns without conversion data and
some days without it), a CRM whose leads name LinkedIn campaigns by id in their UTM campaign (as
the demo's do) and whose deals have six-decimal amounts, Mailchimp campaigns and Demandbase
accounts. Two connections share the name "Northwind Traders". Deterministic: the same seed gives the
same rows, so a failing figure can be looked at again.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from django.utils import timezone

from connectors.models import Connection
from etl.models import AbmAccount, AbmEngagementDaily, AdPerformanceDaily, CrmDeal, CrmLead, EmailCampaign
from tenancy.models import Organization

DAYS = 30
MICRO = Decimal("0.000001")

GOOGLE_THEMES = (
    "Brand – Exact",
    "Generic – Analytics Software",
    "Competitor Conquesting",
    "Retargeting – Site Visitors",
    "Webinar Promotion",
    "Free Trial – Always On",
    "Product Launch Q4",
)
MARKETS = ("US", "UK", "DE", "FR", "Nordics", "APAC", "LATAM")
LINKEDIN_THEMES = (
    "Data Platform Launch",
    "Analytics Suite Trial",
    "Webinar: Pipeline Hygiene",
    "Pricing Retargeting",
    "Ebook: Forecasting 101",
    "Brand Always-On",
)
AUDIENCES = ("IT Directors", "CFOs", "Marketing Ops", "Mid-Market EMEA", "Enterprise NA", "Lookalikes")
# The LinkedIn campaigns the CRM's UTM campaigns name by id (the demo's Zoho sandbox does the same).
LINKEDIN_IDS = tuple(str(400_100_001 + n) for n in range(12))


@dataclass(frozen=True)
class AdAccount:
    platform: str
    account_id: str
    name: str
    currency: str
    campaigns: int
    first_campaign_id: int
    conversions: bool  # the account tracks conversions (LinkedIn's often do not)


AD_ACCOUNTS = (
    AdAccount("google_ads", "1234567890", "Northwind – Search US", "USD", 14, 21_000_567_001, True),
    AdAccount("google_ads", "2345678901", "Northwind – Europe", "EUR", 10, 21_000_678_001, True),
    AdAccount("linkedin_ads", "508000001", "Northwind – Demand Gen", "USD", 12, 400_100_001, False),
    AdAccount("linkedin_ads", "508000002", "Northwind Traders", "GBP", 5, 400_200_001, True),
)


def _micros(rng: random.Random, low: float, high: float) -> Decimal:
    return (Decimal(int((low + (high - low) * rng.random()) * 1_000_000)) * MICRO).quantize(MICRO)


def _campaign_name(account: AdAccount, number: int) -> str:
    if account.platform == "google_ads":
        return f"{GOOGLE_THEMES[number % len(GOOGLE_THEMES)]} – {MARKETS[number % len(MARKETS)]} #{number}"
    return (
        f"{LINKEDIN_THEMES[number % len(LINKEDIN_THEMES)]} – {AUDIENCES[number % len(AUDIENCES)]} #{number}"
    )


def _ad_rows(
    connection: Connection, account: AdAccount, today: date, rng: random.Random
) -> list[AdPerformanceDaily]:
    now = timezone.now()
    rows = []
    for number in range(account.campaigns):
        campaign_id = str(account.first_campaign_id + number)
        name = _campaign_name(account, number + 1)
        status = ("ENABLED", "ENABLED", "PAUSED", "ENABLED")[number % 4]
        if account.platform == "linkedin_ads":
            status = {"ENABLED": "ACTIVE"}.get(status, status)
        scale = 0.2 + 2.5 * rng.random()
        # Some campaigns never report conversions; some report them on only part of their days.
        tracks = account.conversions or number % 3 == 0
        partial = number % 5 == 1
        for offset in range(DAYS):
            day = today - timedelta(days=offset)
            impressions = int(2_000 + 55_000 * scale * rng.random())
            clicks = int(impressions * (0.004 + 0.03 * rng.random()))
            spend = _micros(rng, 20 * scale, 1_400 * scale)
            reported = tracks and not (partial and offset % 4 == 0)
            conversions = _micros(rng, 0, 40 * scale) if reported else None
            value = _micros(rng, 0, 6_000 * scale) if reported and account.platform == "google_ads" else None
            rows.append(
                AdPerformanceDaily(
                    organization_id=connection.organization_id,
                    connection=connection,
                    platform=account.platform,
                    sync_run_id=1,
                    synced_at=now,
                    account_id=account.account_id,
                    account_name=account.name,
                    campaign_id=campaign_id,
                    campaign_name=name,
                    campaign_status=status,
                    date=day,
                    currency=account.currency,
                    impressions=impressions,
                    clicks=clicks,
                    spend=spend,
                    conversions=conversions,
                    conversion_value=value,
                )
            )
    return rows


def _moment(today: date, rng: random.Random) -> datetime:
    day = today - timedelta(days=int(rng.random() * DAYS))
    return datetime.combine(day, time(9), tzinfo=UTC) + timedelta(minutes=int(rng.random() * 600))


def _crm(connection: Connection, today: date, rng: random.Random) -> None:
    now = timezone.now()
    common = {
        "organization_id": connection.organization_id,
        "connection": connection,
        "platform": connection.platform,
        "sync_run_id": 1,
        "synced_at": now,
    }
    crm_campaigns = ("Partner Summit 2025 #3", "Customer Stories 2026 #4", "Webinar Series 2025 #7")
    leads = []
    for number in range(240):
        created = _moment(today, rng)
        roll = rng.random()
        attribution: dict[str, str | None] = {}
        if roll < 0.45:
            attribution = {"utm_source": "linkedin", "utm_campaign": rng.choice(LINKEDIN_IDS)}
        elif roll < 0.65:
            attribution = {"campaign_name": rng.choice(crm_campaigns)}
        elif roll < 0.8:
            attribution = {"utm_source": "google", "utm_campaign": "spring_webinar_2025"}
        leads.append(
            CrmLead(
                **common,
                lead_id=str(3_000_000 + number),
                created_time=created,
                modified_time=created,
                company=f"Company {number}",
                lead_source=rng.choice(
                    ("Advertisement", "Web Download", "Seminar Partner", "Cold Call", None)
                ),
                status="Contacted",
                converted=None if number % 17 == 0 else rng.random() < 0.15,
                **attribution,
            )
        )
    CrmLead.objects.bulk_create(leads)
    deals = []
    for number in range(80):
        created = _moment(today, rng)
        deals.append(
            CrmDeal(
                **common,
                deal_id=str(5_000_000 + number),
                deal_name=f"Deal {number}",
                created_time=created,
                modified_time=created,
                stage=rng.choice(("Qualification", "Needs Analysis", "Proposal/Price Quote", "Closed Won")),
                amount=None if number % 11 == 0 else _micros(rng, 1_000, 90_000),
                currency="USD" if number % 4 else "EUR",
                lead_source=rng.choice(("Advertisement", "Web Download", None)),
                utm_campaign=rng.choice(LINKEDIN_IDS) if number % 3 == 0 else None,
                campaign_name=rng.choice(crm_campaigns) if number % 3 == 1 else None,
            )
        )
    CrmDeal.objects.bulk_create(deals)


def _email(connection: Connection, today: date, rng: random.Random) -> None:
    now = timezone.now()
    rows = []
    for number in range(12):
        sent = int(2_000 + 40_000 * rng.random())
        rows.append(
            EmailCampaign(
                organization_id=connection.organization_id,
                connection=connection,
                platform=connection.platform,
                sync_run_id=1,
                synced_at=now,
                campaign_id=f"mc{number:04d}",
                campaign_title=f"Newsletter – {MARKETS[number % len(MARKETS)]} edition #{number}",
                subject="What is new in analytics this month",
                list_name="Customers and prospects",
                send_time=_moment(today, rng),
                emails_sent=sent,
                bounces=int(sent * 0.01),
                opens=int(sent * 0.5),
                unique_opens=int(sent * 0.3),
                clicks=int(sent * 0.06),
                unique_clicks=int(sent * 0.04),
                unsubscribes=int(sent * 0.002),
            )
        )
    EmailCampaign.objects.bulk_create(rows)


def _abm(connection: Connection, today: date, rng: random.Random) -> None:
    now = timezone.now()
    common = {
        "organization_id": connection.organization_id,
        "connection": connection,
        "platform": connection.platform,
        "sync_run_id": 1,
        "synced_at": now,
    }
    accounts, days = [], []
    for number in range(30):
        account_id = f"db{number:05d}"
        accounts.append(
            AbmAccount(
                **common,
                account_id=account_id,
                name=f"Account {number} Holdings",
                domain=f"account{number}.example",
                industry="Software",
                journey_stage=rng.choice(("Qualified", "Engaged", "Opportunity")),
                engagement_points_7d=_micros(rng, 0, 400),
                engagement_points_30d=_micros(rng, 0, 1_600),
                engagement_minutes_7d=_micros(rng, 0, 90),
                engagement_minutes_30d=_micros(rng, 0, 300),
                intent_score=_micros(rng, 0, 100),
                intent_keyword_count=int(rng.random() * 12),
            )
        )
        for offset in range(0, DAYS, 3):
            days.append(
                AbmEngagementDaily(
                    **common,
                    account_id=account_id,
                    date=today - timedelta(days=offset),
                    engagement_minutes=_micros(rng, 0, 30),
                    engagement_points=_micros(rng, 0, 60),
                    page_views=int(rng.random() * 40),
                    intent_keywords="data platform, forecasting" if number % 4 == 0 else None,
                    intent_strength="HIGH" if number % 8 == 0 else "MED",
                )
            )
    AbmAccount.objects.bulk_create(accounts)
    AbmEngagementDaily.objects.bulk_create(days)


def build_demo(today: date, *, name: str = "Northwind Traders", seed: int = 19) -> Organization:
    """An organization with a month of demo-like data on every page, ending ``today``."""
    rng = random.Random(seed)
    organization = Organization.objects.create(name=name, slug=name.lower().replace(" ", "-"))
    facts = []
    for account in AD_ACCOUNTS:
        connection = Connection.objects.create(
            organization=organization,
            platform=account.platform,
            account_id=account.account_id,
            name=account.name,
        )
        facts += _ad_rows(connection, account, today, rng)
    AdPerformanceDaily.objects.bulk_create(facts)
    # The CRM shares its name with a LinkedIn account: messages must tell the two apart.
    zoho = Connection.objects.create(
        organization=organization, platform="zoho_crm", account_id="20099001", name="Northwind Traders"
    )
    _crm(zoho, today, rng)
    _email(
        Connection.objects.create(
            organization=organization, platform="mailchimp", account_id="us21", name="Northwind newsletter"
        ),
        today,
        rng,
    )
    _abm(
        Connection.objects.create(
            organization=organization, platform="demandbase", account_id="northwind", name="Northwind ABM"
        ),
        today,
        rng,
    )
    return organization
