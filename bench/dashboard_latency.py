"""Dashboard page and query latency over a large warehouse, on PostgreSQL.

Creates a scratch database (as the test runner does) with 200 organizations, each with a member
and the five platforms connected, and fills the warehouse with SQL (``INSERT ... SELECT`` from
``generate_series``) up to each requested number of ad-performance rows, spread over the 30 days
of retention, with email, CRM and ABM rows in proportion. Then, for one organization's last 30
days, it requests every dashboard page with the Django test client as a logged-in member and
prints, per page, server time p50/p95 in three modes:

- cold: the aggregate cache bypassed (the organization's data version bumped before each request),
  so every aggregate is read from the warehouse;
- warm: the page served again from what the previous request cached;
- after warm-up: the data version bumped, then ``dashboard_cache_warm`` run (as it is after a
  sync's load commits), then the page requested. Pages the warm-up does not cover (a sorted or
  searched campaign table, one campaign, sync health) stay cold in this mode, as they would.

It also prints the slowest query's p95 when cold and after warm-up, the number of queries, and how
long one warm-up takes. The figures also go to ``var/bench/dashboard.json``. ``--reuse`` keeps the
scratch database and its rows between runs, so a change can be measured again without
regenerating the warehouse.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sales_dashboard.settings.test")

ORGANIZATIONS = 200
DAYS = 30
AD_PLATFORMS = ("google_ads", "linkedin_ads")
PLATFORMS = ("google_ads", "linkedin_ads", "mailchimp", "zoho_crm", "demandbase")
RUNS_PER_CONNECTION = 180  # six syncs a day over the retention window
OUTPUT = Path(__file__).resolve().parents[1] / "var" / "bench" / "dashboard.json"

# Per organization and per million ad-performance rows in the whole warehouse.
EMAILS_PER_MILLION = 25
LEADS_PER_MILLION = 500
DEALS_PER_MILLION = 100
ACCOUNTS_PER_MILLION = 100

WAREHOUSE_TABLES = (
    "warehouse_ad_performance_daily",
    "warehouse_email_campaign",
    "warehouse_crm_lead",
    "warehouse_crm_deal",
    "warehouse_abm_account",
    "warehouse_abm_engagement_daily",
)


# --------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


@dataclass
class PageFigures:
    page: str
    url: str
    cold_p50_ms: float = 0.0
    cold_p95_ms: float = 0.0
    warm_p50_ms: float = 0.0
    warm_p95_ms: float = 0.0
    warmed_p50_ms: float = 0.0
    warmed_p95_ms: float = 0.0
    queries: int = 0
    warm_queries: int = 0
    warmed_queries: int = 0
    slowest_query_p95_ms: float = 0.0
    slowest_query: str = ""
    warmed_slowest_query_p95_ms: float = 0.0
    warmed_slowest_query: str = ""
    query_p95_ms: list[dict[str, Any]] = field(default_factory=list)
    warmed_query_p95_ms: list[dict[str, Any]] = field(default_factory=list)


class QueryTimer:
    """An execute wrapper that times every SQL statement of a request."""

    def __init__(self) -> None:
        self.timings: list[tuple[str, float]] = []

    def __call__(self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.timings.append((sql, (time.perf_counter() - started) * 1000))


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------


def campaigns_per_connection(rows: int) -> int:
    return max(1, round(rows / (ORGANIZATIONS * len(AD_PLATFORMS) * DAYS)))


def create_dimensions(today: date) -> tuple[Any, Any]:
    """Organizations, users, memberships, connections and the beat schedule; the measured org and user."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from connectors.models import Connection
    from dashboard.services import periodic_tasks_install
    from tenancy.models import Membership, Organization

    now = timezone.now()
    organizations = Organization.objects.bulk_create(
        Organization(name=f"Organization {i:03d}", slug=f"organization-{i:03d}")
        for i in range(1, ORGANIZATIONS + 1)
    )
    users = get_user_model().objects.bulk_create(
        get_user_model()(username=f"member{i:03d}", password="!") for i in range(1, ORGANIZATIONS + 1)
    )
    Membership.objects.bulk_create(
        Membership(organization=org, user=user, role=Membership.Role.MEMBER)
        for org, user in zip(organizations, users, strict=True)
    )
    names = {
        "google_ads": "Search and display",
        "linkedin_ads": "LinkedIn sponsored content",
        "mailchimp": "Newsletter audience",
        "zoho_crm": "Sales CRM",
        "demandbase": "Target accounts",
    }
    Connection.objects.bulk_create(
        Connection(
            organization=org,
            platform=platform,
            account_id=f"{5080000 + org.pk * 10 + index}",
            name=names[platform],
            last_success_at=now,
            options={"currency": "USD" if platform == "google_ads" or org.pk % 2 else "EUR"},
        )
        for org in organizations
        for index, platform in enumerate(PLATFORMS)
    )
    periodic_tasks_install()
    return organizations[1], users[1]  # an even id: its LinkedIn account bills in EUR


def existing_dimensions() -> tuple[Any, Any] | None:
    """The measured organization and user of a reused scratch database, or None if it has none."""
    from django.contrib.auth import get_user_model

    from tenancy.models import Organization

    organization = Organization.objects.filter(slug="organization-002").first()
    user = get_user_model().objects.filter(username="member002").first()
    if organization is None or user is None:
        return None
    return organization, user


def ad_row_count() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM warehouse_ad_performance_daily")
        found = cursor.fetchone()
    return int(found[0]) if found else 0


@contextmanager
def indexes_dropped(cursor: Any, tables: tuple[str, ...]) -> Iterator[None]:
    """Drop the tables' secondary indexes and unique constraints, and build them again afterwards.

    Building an index once over the loaded rows is much faster than maintaining it row by row.
    """
    cursor.execute(
        """
        SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid)
        FROM pg_constraint c WHERE c.contype = 'u' AND c.conrelid::regclass::text = ANY(%s)
        """,
        [list(tables)],
    )
    constraints = cursor.fetchall()
    cursor.execute(
        """
        SELECT i.tablename, i.indexname, i.indexdef FROM pg_indexes i
        WHERE i.tablename = ANY(%s) AND i.indexname NOT IN (SELECT conname FROM pg_constraint)
        """,
        [list(tables)],
    )
    indexes = cursor.fetchall()
    for table, name, _ in constraints:
        cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    for _, name, _ in indexes:
        cursor.execute(f'DROP INDEX "{name}"')
    yield
    for table, name, definition in constraints:
        cursor.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
    for _, _, definition in indexes:
        cursor.execute(definition)


AD_ROWS_SQL = """
INSERT INTO warehouse_ad_performance_daily (
    organization_id, connection_id, platform, sync_run_id, synced_at, account_id, account_name,
    campaign_id, campaign_name, campaign_status, campaign_type, date, account_time_zone, currency,
    impressions, clicks, spend, conversions, conversion_value, view_through_conversions)
SELECT c.organization_id, c.id, c.platform, 1, now(), c.account_id, c.name,
       (c.id::bigint * 1000000 + n)::text,
       (ARRAY['Brand', 'Search', 'Retargeting', 'Webinar', 'Product launch', 'Competitor',
              'Awareness', 'Lead gen'])[1 + n %% 8] || ' ' || n || ' - '
           || (ARRAY['US', 'UK', 'DE', 'FR', 'Nordics'])[1 + n %% 5],
       CASE WHEN c.platform = 'google_ads'
            THEN (CASE WHEN n %% 11 = 0 AND d < 5 THEN 'PAUSED' WHEN n %% 23 = 0 THEN 'REMOVED' ELSE 'ENABLED' END)
            ELSE (CASE WHEN n %% 13 = 0 AND d < 3 THEN 'PAUSED' WHEN n %% 29 = 0 THEN 'ARCHIVED' ELSE 'ACTIVE' END)
       END,
       CASE WHEN c.platform = 'google_ads' THEN 'SEARCH' ELSE 'SPONSORED_UPDATES' END,
       %(today)s::date - d,
       CASE WHEN c.platform = 'google_ads' THEN 'America/New_York' ELSE 'UTC' END,
       c.options ->> 'currency',
       r.impressions, r.clicks, r.spend,
       CASE WHEN c.platform = 'google_ads' THEN round((r.clicks * random() * 0.08)::numeric, 6)
            ELSE floor(r.clicks * random() * 0.06)::numeric END,
       CASE WHEN c.platform = 'google_ads' OR n %% 3 > 0 THEN round((r.spend * (0.5 + random() * 4))::numeric, 2) END,
       CASE WHEN c.platform = 'google_ads' THEN floor(random() * 5)::bigint END
FROM connectors_connection c
CROSS JOIN generate_series(%(first)s, %(last)s) n
CROSS JOIN generate_series(0, 29) d
CROSS JOIN LATERAL (
    SELECT i AS impressions, floor(i * (0.005 + random() * 0.05))::bigint AS clicks,
           round((i * (0.002 + random() * 0.01))::numeric, 2) AS spend
    FROM (SELECT floor(200 + random() * 20000 * (1 + (n %% 7)) + 0 * d + 0 * c.id)::bigint AS i) s
) r
WHERE c.platform IN ('google_ads', 'linkedin_ads')
"""

EMAIL_SQL = """
INSERT INTO warehouse_email_campaign (
    organization_id, connection_id, platform, sync_run_id, synced_at, campaign_id, campaign_title,
    campaign_type, list_id, list_name, subject, send_time, emails_sent, opens, unique_opens, clicks,
    unique_clicks, bounces, unsubscribes, open_rate, click_rate)
SELECT c.organization_id, c.id, c.platform, 1, now(), md5(c.id || '-' || n), s.title, 'regular',
       'list' || n %% 4, (ARRAY['Customers', 'Prospects', 'Newsletter', 'Events'])[1 + n %% 4],
       s.title || ': what is new this month', s.sent_at, s.sent, s.opens, s.unique_opens,
       s.clicks, s.unique_clicks, s.bounces, s.unsubscribes,
       round(s.unique_opens::numeric / greatest(1, s.sent - s.bounces), 6),
       round(s.unique_clicks::numeric / greatest(1, s.sent - s.bounces), 6)
FROM connectors_connection c
CROSS JOIN generate_series(%(first)s, %(last)s) n
CROSS JOIN LATERAL (
    SELECT (ARRAY['Product update', 'Webinar invite', 'Case study', 'Monthly digest'])[1 + n %% 4] || ' #' || n
               AS title,
           %(today)s::date - (n %% 30) + make_interval(hours => 6 + n %% 12) AS sent_at,
           v.sent, floor(v.sent * 0.45)::bigint AS opens, floor(v.sent * 0.25)::bigint AS unique_opens,
           floor(v.sent * 0.06)::bigint AS clicks, floor(v.sent * 0.04)::bigint AS unique_clicks,
           floor(v.sent * 0.01)::bigint AS bounces, floor(v.sent * 0.002)::bigint AS unsubscribes
    FROM (SELECT (1000 + floor(random() * 50000) + 0 * n + 0 * c.id)::bigint AS sent) v
) s
WHERE c.platform = 'mailchimp'
"""

# UTM campaign = an ad campaign's id, or its name; or the CRM campaign = its name; or nothing.
ATTRIBUTION_SQL = """
    CASE WHEN n %% 4 = 0 THEN (ad.id::bigint * 1000000 + ad.campaign)::text
         WHEN n %% 4 = 1 THEN ad.campaign_name END AS utm_campaign,
    CASE WHEN n %% 4 = 2 THEN ad.campaign_name END AS campaign_name,
    CASE WHEN n %% 4 = 3 THEN NULL WHEN ad.platform = 'google_ads' THEN 'google' ELSE 'linkedin' END
        AS utm_source,
    CASE WHEN n %% 4 = 3 THEN NULL ELSE 'cpc' END AS utm_medium
"""

AD_CAMPAIGN_PICK_SQL = """
CROSS JOIN LATERAL (
    SELECT a.id, a.platform, (n * 7919) %% %(campaigns)s AS campaign,
           (ARRAY['Brand', 'Search', 'Retargeting', 'Webinar', 'Product launch', 'Competitor',
                  'Awareness', 'Lead gen'])[1 + ((n * 7919) %% %(campaigns)s) %% 8] || ' '
               || ((n * 7919) %% %(campaigns)s) || ' - '
               || (ARRAY['US', 'UK', 'DE', 'FR', 'Nordics'])[1 + ((n * 7919) %% %(campaigns)s) %% 5]
               AS campaign_name
    FROM connectors_connection a
    WHERE a.organization_id = c.organization_id AND a.platform = ANY(ARRAY['google_ads', 'linkedin_ads'])
    ORDER BY a.platform = (ARRAY['google_ads', 'linkedin_ads'])[1 + n %% 2] DESC LIMIT 1
) ad
"""

LEADS_SQL = f"""
INSERT INTO warehouse_crm_lead (
    organization_id, connection_id, platform, sync_run_id, synced_at, lead_id, created_time,
    modified_time, company, lead_source, status, campaign_id, campaign_name, utm_source, utm_medium,
    utm_campaign, converted, owner)
SELECT c.organization_id, c.id, c.platform, 1, now(), 'L' || c.id || '-' || n, t.created, t.created,
       'Company ' || n %% 997,
       (ARRAY['Advertisement', 'Web form', 'Webinar', 'Cold call', 'Partner', 'Trade show', ''])[1 + n %% 7],
       (ARRAY['New', 'Contacted', 'Qualified', 'Unqualified', 'Converted'])[1 + n %% 5],
       NULL, x.campaign_name, x.utm_source, x.utm_medium, x.utm_campaign, n %% 5 = 4,
       (ARRAY['Ana', 'Ben', 'Chloé', 'Dev'])[1 + n %% 4]
FROM connectors_connection c
CROSS JOIN generate_series(%(first)s, %(last)s) n
{AD_CAMPAIGN_PICK_SQL}
CROSS JOIN LATERAL (SELECT {ATTRIBUTION_SQL}) x
CROSS JOIN LATERAL (
    SELECT %(today)s::date - (n %% 30) + make_interval(mins => (n * 37) %% 1440) AS created
) t
WHERE c.platform = 'zoho_crm'
"""

DEALS_SQL = f"""
INSERT INTO warehouse_crm_deal (
    organization_id, connection_id, platform, sync_run_id, synced_at, deal_id, deal_name, account_name,
    created_time, modified_time, stage, amount, currency, closing_date, lead_source, campaign_id,
    campaign_name, utm_source, utm_medium, utm_campaign, owner)
SELECT c.organization_id, c.id, c.platform, 1, now(), 'D' || c.id || '-' || n, 'Deal ' || n,
       'Company ' || n %% 997, t.created, t.created,
       (ARRAY['Qualification', 'Needs analysis', 'Proposal', 'Negotiation', 'Closed won',
              'Closed lost'])[1 + n %% 6],
       round((2000 + random() * 80000)::numeric, 2), CASE WHEN n %% 3 = 0 THEN 'EUR' ELSE 'USD' END,
       t.created::date + 30 + n %% 60,
       (ARRAY['Advertisement', 'Web form', 'Webinar', 'Partner', ''])[1 + n %% 5],
       NULL, x.campaign_name, x.utm_source, x.utm_medium, x.utm_campaign,
       (ARRAY['Ana', 'Ben', 'Chloé', 'Dev'])[1 + n %% 4]
FROM connectors_connection c
CROSS JOIN generate_series(%(first)s, %(last)s) n
{AD_CAMPAIGN_PICK_SQL}
CROSS JOIN LATERAL (SELECT {ATTRIBUTION_SQL}) x
CROSS JOIN LATERAL (
    SELECT %(today)s::date - (n %% 30) + make_interval(mins => (n * 53) %% 1440) AS created
) t
WHERE c.platform = 'zoho_crm'
"""

ACCOUNTS_SQL = """
INSERT INTO warehouse_abm_account (
    organization_id, connection_id, platform, sync_run_id, synced_at, account_id, domain, name, industry,
    journey_stage, engagement_points_7d, engagement_points_30d, engagement_minutes_7d,
    engagement_minutes_30d, intent_score, intent_keyword_count)
SELECT c.organization_id, c.id, c.platform, 1, now(), 'A' || n, 'account' || n || '.example.com',
       'Account ' || n, (ARRAY['Software', 'Finance', 'Healthcare', 'Retail', 'Manufacturing'])[1 + n %% 5],
       (ARRAY['Prospect', 'Engaged', 'MQA', 'Opportunity', 'Customer'])[1 + n %% 5],
       round((random() * 100)::numeric, 2), round((random() * 400)::numeric, 2),
       round((random() * 60)::numeric, 2), round((random() * 240)::numeric, 2),
       round((random() * 100)::numeric, 2), floor(random() * 12)::bigint
FROM connectors_connection c
CROSS JOIN generate_series(%(first)s, %(last)s) n
WHERE c.platform = 'demandbase'
"""

ENGAGEMENT_SQL = """
INSERT INTO warehouse_abm_engagement_daily (
    organization_id, connection_id, platform, sync_run_id, synced_at, account_id, date, domain,
    engagement_minutes, engagement_points, web_minutes, email_minutes, ad_minutes, page_views,
    people_researching, intent_strength, intent_keywords)
SELECT c.organization_id, c.id, c.platform, 1, now(), 'A' || n, %(today)s::date - d,
       'account' || n || '.example.com', m.web + m.email + m.ad, round((m.web + m.email + m.ad) * 1.5, 2),
       m.web, m.email, m.ad, floor(random() * 40)::bigint,
       CASE WHEN (n + d) %% 2 = 0 THEN 1 + floor(random() * 6)::bigint END,
       CASE WHEN (n + d) %% 2 = 0 THEN (ARRAY['HIGH', 'MED', 'LOW'])[1 + (n + d) %% 3] END,
       CASE WHEN (n + d) %% 2 = 0
            THEN (ARRAY['marketing analytics', 'attribution', 'data warehouse', 'etl', 'crm integration',
                        'abm platform'])[1 + n %% 6]
                 || ', ' || (ARRAY['dashboards', 'ad spend', 'lead scoring', 'intent data'])[1 + d %% 4] END
FROM connectors_connection c
CROSS JOIN generate_series(%(first)s, %(last)s) n
CROSS JOIN generate_series(0, 29) d
CROSS JOIN LATERAL (
    SELECT round((random() * 20)::numeric, 2) AS web, round((random() * 5)::numeric, 2) AS email,
           round((random() * 3 + 0 * d + 0 * n + 0 * c.id)::numeric, 2) AS ad
) m
WHERE c.platform = 'demandbase' AND (n * 31 + d * 7) %% 4 = 0
"""

RUNS_SQL = """
INSERT INTO etl_syncrun (
    connection_id, status, step, trigger, window_start, window_end, is_backfill, created_at, started_at,
    finished_at, rows, timings, notes, task_ids, state, error_class, error_message,
    owner_host, owner_task_id, lease_token, waiting_reason, reconciliation_status, reconciliation)
SELECT c.id, CASE WHEN k %% 37 = 5 THEN 'failed' ELSE 'succeeded' END,
       CASE WHEN k %% 37 = 5 THEN 'extract' ELSE 'done' END, 'schedule',
       %(today)s::date - 3, %(today)s::date, false, t.at, t.at, t.at + interval '95 seconds',
       jsonb_build_object('ad_performance_daily',
                          jsonb_build_object('extracted', 1200 + k, 'loaded', 1200 + k, 'inserted', k)),
       jsonb_build_object('extract', 42.5, 'normalize', 3.1, 'load', 8.4), '[]'::jsonb, '[]'::jsonb,
       '{}'::jsonb, CASE WHEN k %% 37 = 5 THEN 'RateLimited' ELSE '' END,
       CASE WHEN k %% 37 = 5 THEN 'The platform asked us to slow down.' ELSE '' END,
       '', '', '', '',  -- finished runs: no owner, no lease, not waiting
       CASE WHEN k %% 37 = 5 THEN '' ELSE 'equal' END, '{}'::jsonb  -- loaded runs' totals agreed
FROM connectors_connection c
CROSS JOIN generate_series(1, %(runs)s) k
CROSS JOIN LATERAL (SELECT now() - make_interval(hours => 4 * k) AS at) t
"""


def load_stage(cursor: Any, *, today: date, previous_rows: int, rows: int) -> None:
    """Add warehouse rows so the ad table grows from ``previous_rows`` to ``rows``."""
    first_campaign = campaigns_per_connection(previous_rows) if previous_rows else 0
    campaigns = campaigns_per_connection(rows)
    before, after = previous_rows / 1_000_000, rows / 1_000_000

    def span(per_million: int) -> dict[str, Any]:
        return {"first": round(before * per_million), "last": round(after * per_million) - 1, "today": today}

    cursor.execute("SET synchronous_commit = off")
    cursor.execute("SET maintenance_work_mem = '512MB'")
    cursor.execute("SELECT setseed(0.42)")
    with indexes_dropped(cursor, WAREHOUSE_TABLES):
        cursor.execute(AD_ROWS_SQL, {"first": first_campaign, "last": campaigns - 1, "today": today})
        cursor.execute(EMAIL_SQL, span(EMAILS_PER_MILLION))
        cursor.execute(LEADS_SQL, {**span(LEADS_PER_MILLION), "campaigns": campaigns})
        cursor.execute(DEALS_SQL, {**span(DEALS_PER_MILLION), "campaigns": campaigns})
        cursor.execute(ACCOUNTS_SQL, span(ACCOUNTS_PER_MILLION))
        cursor.execute(ENGAGEMENT_SQL, span(ACCOUNTS_PER_MILLION))
    rebuild_rollups()
    for table in WAREHOUSE_TABLES:
        cursor.execute(f"VACUUM ANALYZE {table}")


def rebuild_rollups() -> None:
    """Rebuild the derived tables the dashboard reads, when the project has them."""
    try:
        from etl.rollups import rollups_rebuild  # type: ignore[attr-defined, unused-ignore]
    except ImportError:
        return
    rollups_rebuild()


# --------------------------------------------------------------------------------------------
# Measuring
# --------------------------------------------------------------------------------------------


def page_urls(organization: Any) -> list[tuple[str, str]]:
    from django.urls import reverse

    from etl.models import AdPerformanceDaily

    campaign = (
        AdPerformanceDaily.objects.filter(organization_id=organization.pk, platform="google_ads")
        .values("connection_id", "campaign_id")
        .order_by("campaign_id")
        .first()
    )
    assert campaign is not None
    detail = reverse("dashboard:campaign", args=[campaign["connection_id"], campaign["campaign_id"]])
    campaigns = reverse("dashboard:campaigns")
    return [
        ("overview", reverse("dashboard:overview") + "?days=30"),
        ("campaigns", campaigns + "?days=30"),
        ("campaigns sorted by ROAS", campaigns + "?days=30&sort=roas&dir=desc"),
        ("campaigns searched", campaigns + "?days=30&q=brand"),
        ("campaign detail", detail + "?days=30"),
        ("email", reverse("dashboard:email") + "?days=30"),
        ("pipeline", reverse("dashboard:pipeline") + "?days=30"),
        ("accounts", reverse("dashboard:accounts") + "?days=30"),
        ("sync health", reverse("dashboard:sync_health")),
    ]


def timed_get(client: Any, url: str) -> tuple[float, QueryTimer]:
    from django.db import connection

    timer = QueryTimer()
    with connection.execute_wrapper(timer):
        started = time.perf_counter()
        response = client.get(url)
        elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise RuntimeError(f"{url} answered {response.status_code}")
    return elapsed, timer


def ranked_queries(per_query: dict[str, list[float]]) -> list[dict[str, Any]]:
    """Each distinct statement's p95 and p50, slowest first."""
    ranked = sorted(
        ((percentile(times, 0.95), percentile(times, 0.5), sql) for sql, times in per_query.items()),
        reverse=True,
    )
    return [{"p95_ms": round(p95, 3), "p50_ms": round(p50, 3), "sql": sql} for p95, p50, sql in ranked]


def measure_page(
    client: Any, organization_id: int, name: str, url: str, iterations: int, warm_seconds: list[float]
) -> PageFigures:
    from dashboard.cache_warm import dashboard_cache_warm
    from etl.data_version import data_version_bump

    figures = PageFigures(page=name, url=url)
    timed_get(client, url)  # compile templates and warm the connection
    cold: list[float] = []
    per_query: dict[str, list[float]] = {}
    for _ in range(iterations):
        data_version_bump(organization_id)
        elapsed, timer = timed_get(client, url)
        cold.append(elapsed)
        figures.queries = len(timer.timings)
        for sql, ms in timer.timings:
            per_query.setdefault(sql, []).append(ms)
    warm: list[float] = []
    for _ in range(iterations):
        elapsed, timer = timed_get(client, url)
        warm.append(elapsed)
        figures.warm_queries = len(timer.timings)
    warmed: list[float] = []
    warmed_per_query: dict[str, list[float]] = {}
    for _ in range(max(1, iterations // 4)):  # a warm-up reads the warehouse: fewer rounds
        data_version_bump(organization_id)
        started = time.perf_counter()
        dashboard_cache_warm(organization_id=organization_id)
        warm_seconds.append(time.perf_counter() - started)
        for _ in range(4):
            elapsed, timer = timed_get(client, url)
            warmed.append(elapsed)
            figures.warmed_queries = len(timer.timings)
            for sql, ms in timer.timings:
                warmed_per_query.setdefault(sql, []).append(ms)
    figures.cold_p50_ms, figures.cold_p95_ms = percentile(cold, 0.5), percentile(cold, 0.95)
    figures.warm_p50_ms, figures.warm_p95_ms = percentile(warm, 0.5), percentile(warm, 0.95)
    figures.warmed_p50_ms, figures.warmed_p95_ms = percentile(warmed, 0.5), percentile(warmed, 0.95)
    figures.query_p95_ms = ranked_queries(per_query)
    if figures.query_p95_ms:
        figures.slowest_query_p95_ms = figures.query_p95_ms[0]["p95_ms"]
        figures.slowest_query = figures.query_p95_ms[0]["sql"]
    figures.warmed_query_p95_ms = ranked_queries(warmed_per_query)
    if figures.warmed_query_p95_ms:
        figures.warmed_slowest_query_p95_ms = figures.warmed_query_p95_ms[0]["p95_ms"]
        figures.warmed_slowest_query = figures.warmed_query_p95_ms[0]["sql"]
    return figures


def print_table(rows: int, pages: list[PageFigures], warm_seconds: list[float]) -> None:
    print(f"\n{rows:,} ad-performance rows (one organization, last 30 days); times in ms")
    print(f"{'':<26}{'cold':>20}{'warm':>20}{'after warm-up':>20}{'slowest query p95':>24}{'queries':>18}")
    print(
        f"{'page':<26}{'p50':>10}{'p95':>10}{'p50':>10}{'p95':>10}{'p50':>10}{'p95':>10}"
        f"{'cold':>12}{'warmed up':>12}{'cold':>9}{'warmed':>9}"
    )
    for page in pages:
        print(
            f"{page.page:<26}{page.cold_p50_ms:>10.1f}{page.cold_p95_ms:>10.1f}{page.warm_p50_ms:>10.1f}"
            f"{page.warm_p95_ms:>10.1f}{page.warmed_p50_ms:>10.1f}{page.warmed_p95_ms:>10.1f}"
            f"{page.slowest_query_p95_ms:>12.2f}{page.warmed_slowest_query_p95_ms:>12.2f}"
            f"{page.queries:>9}{page.warmed_queries:>9}"
        )
    if warm_seconds:
        print(
            f"one warm-up (every default view, 3 periods): p50 {percentile(warm_seconds, 0.5):.2f} s, "
            f"max {max(warm_seconds):.2f} s"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="1000000,10000000", help="ad-performance row counts, ascending")
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database afterwards")
    parser.add_argument(
        "--reuse", action="store_true", help="keep the scratch database and reuse the rows it already holds"
    )
    parser.add_argument("--pages", default="", help="measure only these pages (comma-separated names)")
    args = parser.parse_args()
    wanted = {name.strip() for name in args.pages.split(",") if name.strip()}
    targets = sorted(int(value) for value in args.rows.split(",") if value.strip())

    import django

    django.setup()
    logging.getLogger("dashboard.cache_warm").setLevel(logging.WARNING)  # one line per warm-up otherwise
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import setup_databases, setup_test_environment, teardown_databases
    from django.utils import timezone

    if connection.vendor != "postgresql":
        sys.exit("This benchmark needs PostgreSQL (DATABASE_URL).")
    settings.DATABASES["default"].setdefault("TEST", {})["NAME"] = "bench_dashboard"
    setup_test_environment()
    # serialized_aliases=set(): nothing to serialize (a reused warehouse would be read row by row).
    old = setup_databases(verbosity=0, interactive=False, keepdb=args.reuse, serialized_aliases=set())
    report: dict[str, Any] = {"organizations": ORGANIZATIONS, "iterations": args.iterations, "stages": []}
    try:
        today = timezone.now().date()
        reused = existing_dimensions() if args.reuse else None
        if reused is None:
            with connection.cursor() as cursor:
                # Scratch data: skipping the write-ahead log speeds up generation and changes no read.
                for table in WAREHOUSE_TABLES:
                    cursor.execute(f"ALTER TABLE {table} SET UNLOGGED")
            organization, user = create_dimensions(today)
        else:
            organization, user = reused
        with connection.cursor() as cursor:
            cursor.execute("SELECT EXISTS (SELECT 1 FROM etl_syncrun)")
            found = cursor.fetchone()
            if not (found and found[0]):
                cursor.execute(RUNS_SQL, {"today": today, "runs": RUNS_PER_CONNECTION})
                cursor.execute("ANALYZE etl_syncrun")
        client = Client()
        client.force_login(user)
        previous = ad_row_count() if reused is not None else 0
        for rows in targets:
            started = time.perf_counter()
            if previous < rows * 0.99:
                with connection.cursor() as cursor:
                    load_stage(cursor, today=today, previous_rows=previous, rows=rows)
                previous = rows
            elif previous > rows * 1.01:
                continue  # the reused warehouse is already larger than this stage
            actual = ad_row_count()
            generated = time.perf_counter() - started
            verb = "generated" if generated > 5 else "reused"
            print(f"\n{verb} {actual:,} ad-performance rows in {generated:.0f} s", flush=True)
            started = time.perf_counter()
            warm_seconds: list[float] = []
            pages = [
                measure_page(client, organization.pk, name, url, args.iterations, warm_seconds)
                for name, url in page_urls(organization)
                if not wanted or name in wanted
            ]
            print_table(actual, pages, warm_seconds)
            print(f"measured in {time.perf_counter() - started:.0f} s", flush=True)
            report["stages"].append(
                {
                    "rows": actual,
                    "generation_seconds": round(generated, 1),
                    "pages": [asdict(p) for p in pages],
                }
            )
        OUTPUT.parent.mkdir(parents=True, exist_ok=True)
        OUTPUT.write_text(json.dumps(report, indent=2, default=str))
        print(f"\nfigures written to {OUTPUT}")
    finally:
        if not (args.keep or args.reuse):
            teardown_databases(old, verbosity=0)


if __name__ == "__main__":
    main()
