"""Cached aggregates: served from the cache until the organization's data changes."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any
from unittest import mock

import pytest
from django.core.cache import cache
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from connectors.models import Connection
from dashboard.periods import period_from_params
from dashboard.selectors import overview_get
from etl.data_version import data_version, data_version_bump
from tests.dashboard import TODAY, add_row, make_connection, make_org

# The SQL here must also run on the embedded default (SQLite): `make test` runs it there too.
pytestmark = pytest.mark.embedded

PERIOD = period_from_params({"days": "7"}, today=TODAY)


def spend(org: Any) -> list[Decimal]:
    return [t.spend for t in overview_get(organization=org, period=PERIOD).totals]


@pytest.mark.django_db
class TestInvalidation:
    def test_second_read_comes_from_the_cache(self) -> None:
        org = make_org("Northwind")
        add_row(make_connection(org), day=TODAY, spend="10")
        assert spend(org) == [Decimal("10")]
        with CaptureQueriesContext(db_connection) as queries:
            assert spend(org) == [Decimal("10")]
        # No aggregate query: only the small cache-scope and connection reads remain.
        assert not any("SUM(" in q["sql"].upper() for q in queries.captured_queries)

    def test_a_load_that_bumps_the_version_is_seen_at_once(self) -> None:
        org = make_org("Northwind")
        conn = make_connection(org)
        add_row(conn, day=TODAY, spend="10")
        assert spend(org) == [Decimal("10")]

        add_row(conn, day=TODAY, campaign_id="c2", spend="5")
        assert spend(org) == [Decimal("10")]  # unchanged: nothing told the cache yet
        data_version_bump(org.pk)
        assert spend(org) == [Decimal("15")]

    def test_a_new_successful_sync_is_seen_without_a_bump(self) -> None:
        """Processes with separate caches (the embedded default) still see a finished sync."""
        org = make_org("Northwind")
        conn = make_connection(org)
        add_row(conn, day=TODAY, spend="10")
        assert spend(org) == [Decimal("10")]
        add_row(conn, day=TODAY, campaign_id="c2", spend="5")
        Connection.objects.filter(pk=conn.pk).update(last_success_at=timezone.now())
        assert spend(org) == [Decimal("15")]

    def test_bumping_one_organization_leaves_the_other_cached(self) -> None:
        first, second = make_org("Northwind"), make_org("Contoso")
        add_row(make_connection(first), day=TODAY, spend="1")
        add_row(make_connection(second), day=TODAY, spend="2")
        spend(first), spend(second)
        before = data_version(second.pk)
        data_version_bump(first.pk)
        assert data_version(second.pk) == before

    def test_each_organization_has_its_own_entries(self) -> None:
        first, second = make_org("Northwind"), make_org("Contoso")
        add_row(make_connection(first), day=TODAY, spend="1")
        add_row(make_connection(second), day=TODAY, spend="2")
        assert spend(first) == [Decimal("1")]
        assert spend(second) == [Decimal("2")]

    def test_the_period_is_part_of_the_key(self) -> None:
        org = make_org("Northwind")
        conn = make_connection(org)
        add_row(conn, day=TODAY, spend="1")
        add_row(conn, day=TODAY - timedelta(days=10), campaign_id="old", spend="100")
        week = overview_get(organization=org, period=PERIOD)
        month = overview_get(organization=org, period=period_from_params({"days": "30"}, today=TODAY))
        assert [t.spend for t in week.totals] == [Decimal("1")]
        assert [t.spend for t in month.totals] == [Decimal("101")]


class TestVersionCounter:
    def test_starts_from_the_clock_and_counts_up(self) -> None:
        cache.delete("dashboard:data-version:42")
        first = data_version(42)
        assert first > 10**15  # nanoseconds: a restarted counter never reuses an old number
        assert data_version_bump(42) == first + 1
        assert data_version(42) == first + 1

    def test_bump_without_a_version_starts_one(self) -> None:
        cache.delete("dashboard:data-version:43")
        assert data_version_bump(43) == data_version(43)

    def test_works_on_redis(self, settings: Any) -> None:
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": settings.REDIS_URL,
                "KEY_PREFIX": f"dashboard-test-{uuid.uuid4().hex}",
            }
        }
        try:
            first = data_version(7)
            assert data_version_bump(7) == first + 1
            assert data_version(7) == first + 1
        finally:
            cache.delete("dashboard:data-version:7")


@pytest.mark.django_db(transaction=True)
def test_a_finished_sync_is_never_hidden_by_the_cache(linkedin_connection: Connection) -> None:
    """The page cached before a sync shows the synced numbers right after it (Celery in-process)."""
    from etl.models import SyncRun
    from etl.pipeline import sync_start

    org = linkedin_connection.organization
    period = period_from_params({"days": "7"})
    assert overview_get(organization=org, period=period).totals == []  # cached while empty

    run = sync_start(connection_id=linkedin_connection.pk, trigger="manual")

    assert run is not None
    assert SyncRun.objects.get(pk=run.pk).status == SyncRun.Status.SUCCEEDED
    [totals] = overview_get(organization=org, period=period).totals
    assert totals.spend > 0


def _longest_gap_between_syncs_hours() -> int:
    """The longest wait between two scheduled syncs of a connection, from the beat schedule."""
    from dashboard.schedules import periodic_schedules

    hours = sorted(
        {
            int(hour)
            for schedule in periodic_schedules()
            if schedule.task in ("dashboard.sync_all_platform_data", "dashboard.sync_platform_data")
            for hour in schedule.hour.split(",")
        }
    )
    return max(b - a for a, b in zip(hours, [*hours[1:], hours[0] + 24], strict=True))


@pytest.mark.django_db
def test_cached_views_outlive_the_gap_between_syncs(settings: Any) -> None:
    """A view warmed after one sync is still cached hours later, until the next sync replaces it."""
    org = make_org("Northwind")
    add_row(make_connection(org), day=TODAY, spend="10")
    with mock.patch.object(cache, "set", wraps=cache.set) as cache_set:
        spend(org)
    timeouts = {call.args[2] for call in cache_set.call_args_list}
    assert timeouts == {settings.DASHBOARD_CACHE_SECONDS}
    assert _longest_gap_between_syncs_hours() * 3600 <= settings.DASHBOARD_CACHE_SECONDS
