"""History past the retention: at the boundary, raw rows older than the retention are gone and every
day they held is in the history, folded once, with missing figures still missing; the history never
holds a day that a later sync could re-read; a fold and its prune commit together or not at all."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from django.db import DatabaseError
from django.db import connection as db
from django.utils import timezone

from connectors.models import Connection
from etl.history import history_start, months_before
from etl.models import (
    AbmEngagementDaily,
    AbmEngagementHistoryDaily,
    AdCampaignHistoryDaily,
    AdPerformanceDaily,
    EmailCampaign,
    EmailHistoryDaily,
)
from etl.services import cleanup_old_data, prune_warehouse, retention_start, sync_window_for
from tenancy.models import Organization
from tests.dashboard import add_email, add_engagement, add_row
from tests.sandboxes import run_sync

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.embedded]

TODAY = date(2025, 3, 31)
FIRST_KEPT = date(2025, 3, 2)  # retention_start(TODAY) with 30 days
LAST_FOLDED = FIRST_KEPT - timedelta(days=1)


@pytest.fixture(autouse=True)
def thirty_days(settings: Any) -> None:
    settings.RETENTION_DAYS = 30
    settings.HISTORY_RETENTION_MONTHS = 25


@pytest.fixture
def org() -> Organization:
    return Organization.objects.create(name="Northwind", slug="northwind")


def connect(org: Organization, platform: str, account: str = "1", **extra: Any) -> Connection:
    return Connection.objects.create(organization=org, platform=platform, account_id=account, **extra)


def cents(amount: Decimal) -> Decimal:
    """An amount as the pages add it up: to the cent, half away from zero."""
    return amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def noon(day: date) -> datetime:
    return datetime.combine(day, time(12), tzinfo=UTC)


def test_the_boundary_day_stays_raw_and_the_day_before_is_folded(org: Organization) -> None:
    assert retention_start(TODAY) == FIRST_KEPT
    ads = connect(org, "linkedin_ads")
    for day in (LAST_FOLDED - timedelta(days=3), LAST_FOLDED, FIRST_KEPT, TODAY):
        add_row(ads, day=day, campaign_id="c1", spend="10.25", impressions=1000, clicks=40, conversions="3")
        add_row(ads, day=day, campaign_id="c2", spend="4.50", impressions=200, clicks=5, currency="EUR")

    removed = prune_warehouse(today=TODAY)

    assert removed == 4
    raw_days = set(AdPerformanceDaily.objects.values_list("date", flat=True))
    assert raw_days == {FIRST_KEPT, TODAY}  # nothing older than the retention stays raw
    folded = AdCampaignHistoryDaily.objects.order_by("date", "campaign_id")
    assert [(r.date, r.campaign_id, r.currency) for r in folded] == [
        (LAST_FOLDED - timedelta(days=3), "c1", "USD"),
        (LAST_FOLDED - timedelta(days=3), "c2", "EUR"),
        (LAST_FOLDED, "c1", "USD"),
        (LAST_FOLDED, "c2", "EUR"),
    ]
    c1 = folded.filter(campaign_id="c1").first()
    assert c1 is not None
    assert (c1.spend, c1.impressions, c1.clicks, c1.conversions) == (Decimal("10.25"), 1000, 40, Decimal("3"))
    assert c1.organization_id == org.pk and c1.platform == "linkedin_ads"
    c2 = folded.filter(campaign_id="c2").first()
    assert c2 is not None
    assert c2.conversions is None and c2.conversion_value is None  # missing stays missing, never 0


@pytest.mark.parametrize("restatement_days", [None, 7, 30, 90])
def test_no_later_sync_can_reread_a_folded_day(org: Organization, restatement_days: int | None) -> None:
    """Whatever the connection's re-read window (Google allows 90 days), and whether it last
    succeeded yesterday, a month ago or never, no sync from today on re-reads a folded day."""
    never = connect(org, "google_ads", "111-111-1111", restatement_days=restatement_days)
    recent = connect(
        org,
        "google_ads",
        "222-222-2222",
        restatement_days=restatement_days,
        last_success_at=noon(TODAY - timedelta(days=1)),
    )
    stale = connect(
        org,
        "google_ads",
        "333-333-3333",
        restatement_days=restatement_days,
        last_success_at=noon(TODAY - timedelta(days=60)),
    )
    for connection in (never, recent, stale):
        for offset in range(40):
            add_row(connection, day=TODAY - timedelta(days=offset), campaign_id="c1", spend="1")

    prune_warehouse(today=TODAY)

    newest_folded = max(AdCampaignHistoryDaily.objects.values_list("date", flat=True))
    assert newest_folded == LAST_FOLDED
    for connection in (never, recent, stale):
        for later in range(0, 60):
            window, _ = sync_window_for(connection, today=TODAY + timedelta(days=later))
            assert window.start > newest_folded


def test_folding_a_day_again_replaces_it(org: Organization) -> None:
    ads = connect(org, "linkedin_ads")
    add_row(ads, day=LAST_FOLDED, campaign_id="c1", spend="10", clicks=4)
    add_row(ads, day=LAST_FOLDED, campaign_id="c2", spend="5", clicks=1)
    prune_warehouse(today=TODAY)
    assert prune_warehouse(today=TODAY) == 0  # nothing left to fold: the history is unchanged
    assert AdCampaignHistoryDaily.objects.count() == 2

    # The same day raw again (a longer retention was tried and undone): its new figures replace the
    # folded ones, a campaign no longer reported goes, nothing is added twice.
    add_row(ads, day=LAST_FOLDED, campaign_id="c1", spend="12", clicks=6)
    assert prune_warehouse(today=TODAY) == 1

    rows = list(AdCampaignHistoryDaily.objects.values_list("campaign_id", "spend", "clicks"))
    assert rows == [("c1", Decimal("12"), 6)]


def test_the_same_day_of_another_connection_is_left_alone(org: Organization) -> None:
    mine, theirs = connect(org, "linkedin_ads", "1"), connect(org, "linkedin_ads", "2")
    add_row(mine, day=LAST_FOLDED, campaign_id="c1", spend="3")
    add_row(theirs, day=LAST_FOLDED, campaign_id="c1", spend="4")
    prune_warehouse(connection_id=theirs.pk, today=TODAY)
    add_row(theirs, day=LAST_FOLDED, campaign_id="c9", spend="1")  # should not happen; must not leak

    assert prune_warehouse(connection_id=mine.pk, today=TODAY) == 1

    assert sorted(AdCampaignHistoryDaily.objects.values_list("connection_id", "campaign_id")) == sorted(
        [(mine.pk, "c1"), (theirs.pk, "c1")]
    )
    assert list(AdPerformanceDaily.objects.values_list("campaign_id", flat=True)) == ["c9"]


@pytest.fixture
def failing_raw_delete() -> Iterator[None]:
    """A hook that fails the removal of folded raw rows, after the day's history was written."""

    def fail(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if sql.lstrip().upper().startswith("DELETE") and "warehouse_ad_performance_daily" in sql:
            raise DatabaseError("disk full")
        return execute(sql, params, many, context)

    with db.execute_wrapper(fail):
        yield


def test_a_fold_and_its_prune_commit_together(org: Organization, failing_raw_delete: None) -> None:
    ads = connect(org, "linkedin_ads")
    add_row(ads, day=LAST_FOLDED, campaign_id="c1", spend="10")

    with pytest.raises(DatabaseError):
        prune_warehouse(today=TODAY)

    assert AdCampaignHistoryDaily.objects.count() == 0  # the fold rolled back with the failed prune
    assert AdPerformanceDaily.objects.filter(date=LAST_FOLDED).count() == 1


def test_email_days_are_summed_and_partly_missing_figures_are_flagged(org: Organization) -> None:
    mailchimp = connect(org, "mailchimp", "us21")
    add_email(mailchimp, campaign_id="e1", send_time=noon(LAST_FOLDED), emails_sent=1000, unique_opens=300)
    add_email(mailchimp, campaign_id="e2", send_time=noon(LAST_FOLDED), emails_sent=None, unique_opens=None)
    add_email(
        mailchimp,
        campaign_id="e3",
        send_time=datetime.combine(LAST_FOLDED, time(23, 59), tzinfo=UTC),
        emails_sent=500,
        unique_opens=100,
    )
    add_email(mailchimp, campaign_id="e4", send_time=noon(LAST_FOLDED - timedelta(days=1)), emails_sent=None)
    add_email(mailchimp, campaign_id="kept", send_time=datetime.combine(FIRST_KEPT, time(0), tzinfo=UTC))

    prune_warehouse(today=TODAY)

    assert list(EmailCampaign.objects.values_list("campaign_id", flat=True)) == ["kept"]
    day = EmailHistoryDaily.objects.get(date=LAST_FOLDED)
    assert (day.campaigns, day.emails_sent, day.unique_opens) == (3, 1500, 400)
    assert (day.rows_missing_emails_sent, day.rows_missing_unique_opens) == (1, 1)
    before = EmailHistoryDaily.objects.get(date=LAST_FOLDED - timedelta(days=1))
    assert before.emails_sent is None and before.rows_missing_emails_sent == 1  # not 0


def test_engagement_days_are_summed_per_connection(org: Organization) -> None:
    demandbase = connect(org, "demandbase")
    add_engagement(
        demandbase, account_id="a1", day=LAST_FOLDED, engagement_minutes=Decimal("12.5"), page_views=3
    )
    add_engagement(demandbase, account_id="a2", day=LAST_FOLDED, engagement_minutes=None, page_views=4)
    add_engagement(demandbase, account_id="a1", day=FIRST_KEPT, engagement_minutes=Decimal("1"))

    prune_warehouse(today=TODAY)

    assert list(AbmEngagementDaily.objects.values_list("date", flat=True)) == [FIRST_KEPT]
    day = AbmEngagementHistoryDaily.objects.get()
    assert (day.date, day.accounts, day.engagement_minutes, day.page_views) == (
        LAST_FOLDED,
        2,
        Decimal("12.5"),
        7,
    )
    assert (day.rows_missing_engagement_minutes, day.rows_missing_page_views) == (1, 0)
    assert day.engagement_points is None and day.rows_missing_engagement_points == 2


def test_history_is_kept_for_its_months_then_removed(org: Organization) -> None:
    ads = connect(org, "linkedin_ads")
    oldest = history_start(TODAY)
    assert oldest == date(2023, 2, 28)  # 25 calendar months before 31 Mar 2025 (February is shorter)
    for day in (oldest - timedelta(days=1), oldest):
        AdCampaignHistoryDaily.objects.create(
            organization=org, connection=ads, platform="linkedin_ads", sync_run_id=1, synced_at=timezone.now(),
            account_id="1", campaign_id="c1", date=day, currency="USD", impressions=1, clicks=0,
            spend=Decimal("1"), folded_at=timezone.now(),
        )  # fmt: skip

    assert cleanup_old_data(today=TODAY)["history_rows"] == 1

    assert list(AdCampaignHistoryDaily.objects.values_list("date", flat=True)) == [oldest]


def test_months_before_counts_calendar_months() -> None:
    assert months_before(date(2026, 12, 7), 25) == date(2024, 11, 7)
    assert months_before(date(2024, 3, 31), 1) == date(2024, 2, 29)
    assert months_before(date(2026, 1, 15), 13) == date(2024, 12, 15)


def test_a_sync_folds_what_its_prune_removes(sandboxes: Any, organization: Organization) -> None:
    """The sync's own prune step folds: a row older than the retention goes into the history."""
    connection = sandboxes.connect("linkedin_ads", organization)
    too_old = retention_start() - timedelta(days=1)
    add_row(connection, day=too_old, campaign_id="old", spend="7.5", clicks=3)

    run = run_sync(connection)

    assert run.status == "succeeded", run.error_message
    assert not AdPerformanceDaily.objects.filter(date__lt=retention_start()).exists()
    folded = AdCampaignHistoryDaily.objects.get(connection=connection)
    assert (folded.date, folded.campaign_id, folded.spend, folded.clicks) == (
        too_old,
        "old",
        Decimal("7.5"),
        3,
    )


def test_a_longer_first_backfill_folded_by_the_cleanup_is_compared(
    sandboxes: Any, organization: Organization, settings: Any
) -> None:
    """The demo's path: a first sync backfills 60 days, the daily clean-up at 30 days folds the older
    30 into the history, and the Overview's 30-day view compares with the previous 30 days."""
    from dashboard.periods import period_from_params
    from dashboard.selectors.ads import overview_get

    settings.RETENTION_DAYS = 60
    connection = sandboxes.connect("linkedin_ads", organization)
    assert run_sync(connection).status == "succeeded"
    settings.RETENTION_DAYS = 30
    raw_before = AdPerformanceDaily.objects.filter(date__lt=retention_start()).count()
    assert raw_before > 0

    cleanup_old_data()

    assert not AdPerformanceDaily.objects.filter(date__lt=retention_start()).exists()
    assert AdCampaignHistoryDaily.objects.count() == raw_before
    period = period_from_params({"days": "30"})
    overview = overview_get(organization=organization, period=period)
    assert overview.comparable
    previous = period.previous
    folded_spend = sum(
        cents(spend)
        for spend in AdCampaignHistoryDaily.objects.filter(
            date__gte=previous.start, date__lte=previous.end
        ).values_list("spend", flat=True)
    )
    raw_spend = sum(
        cents(spend)
        for spend in AdPerformanceDaily.objects.filter(
            date__gte=previous.start, date__lte=previous.end
        ).values_list("spend", flat=True)
    )
    (usd,) = overview.currencies
    assert usd.previous is not None and usd.previous.spend == folded_spend + raw_spend > 0
