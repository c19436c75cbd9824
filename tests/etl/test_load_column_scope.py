"""Two streams filling the same rows (Demandbase engagement and intent per account and day): each load
writes only its own columns, empties them on the window's rows it no longer brings, and deletes a row
left with no figure at all. Runs on PostgreSQL and on SQLite."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from connectors.models import Connection
from etl.load import ColumnScope, LoadResult, SystemValues, WindowScope, load_rows
from etl.models import AbmEngagementDaily
from etl.schema import ABM_ENGAGEMENT_DAILY
from tenancy.models import Organization

pytestmark = [pytest.mark.django_db, pytest.mark.embedded]

ENGAGEMENT = ColumnScope(
    ("engagement_minutes", "engagement_points", "web_minutes", "email_minutes", "ad_minutes", "page_views"),
    ("domain",),
)
INTENT = ColumnScope(("people_researching", "intent_strength", "intent_keywords"), ("domain",))
WINDOW = WindowScope(date(2026, 11, 1), date(2026, 11, 30))


@pytest.fixture
def connection(db: None) -> Connection:
    org = Organization.objects.create(name="Acme", slug="acme")
    return Connection.objects.create(organization=org, platform="demandbase", account_id="northwind")


def engagement(account: str, day: str, minutes: int, domain: str = "") -> str:
    return f"{account},{day},{domain},{minutes},{minutes * 2},{minutes},0,0,{minutes // 2},,,\n"


def intent(account: str, day: str, people: int, domain: str = "") -> str:
    return f"{account},{day},{domain},,,,,,,{people},HIGH,ETL\n"


def load(connection: Connection, scope: ColumnScope, *lines: str, run: int = 1) -> LoadResult:
    system = SystemValues(connection.organization_id, connection.pk, "demandbase", run, timezone.now())
    with transaction.atomic():
        return load_rows(
            dataset=ABM_ENGAGEMENT_DAILY, chunks=["".join(lines)], system=system, window=WINDOW, scope=scope
        )


def rows(connection: Connection) -> dict[tuple[str, date], tuple[Any, ...]]:
    return {
        (r.account_id, r.date): (r.domain, r.engagement_minutes, r.people_researching, r.sync_run_id)
        for r in AbmEngagementDaily.objects.filter(connection=connection)
    }


def test_each_stream_writes_its_own_columns_of_the_same_rows(connection: Connection) -> None:
    first = load(
        connection,
        ENGAGEMENT,
        engagement("1", "2026-11-07", 10, "acme.com"),
        engagement("2", "2026-11-03", 4),
    )
    assert (first.staged, first.inserted, first.updated, first.deleted) == (2, 2, 0, 0)
    second = load(
        connection, INTENT, intent("1", "2026-11-07", 5), intent("3", "2026-11-07", 2, "globex.com")
    )
    assert (second.staged, second.inserted, second.updated, second.deleted) == (2, 1, 1, 0)
    assert rows(connection) == {
        ("1", date(2026, 11, 7)): ("acme.com", Decimal(10), 5, 1),  # the domain intent lacked is kept
        ("2", date(2026, 11, 3)): (None, Decimal(4), None, 1),  # intent did not empty engagement's row...
        ("3", date(2026, 11, 7)): ("globex.com", None, 2, 1),
    }
    # ...and loading the same rows again changes nothing.
    again = load(
        connection, INTENT, intent("1", "2026-11-07", 5), intent("3", "2026-11-07", 2, "globex.com"), run=2
    )
    assert (again.inserted, again.updated, again.deleted) == (0, 0, 0)
    assert {key: value[3] for key, value in rows(connection).items()} == dict.fromkeys(rows(connection), 1)


def test_a_stream_no_longer_reporting_a_day_empties_only_its_columns(connection: Connection) -> None:
    load(connection, ENGAGEMENT, engagement("1", "2026-11-07", 10), engagement("2", "2026-11-03", 4))
    load(connection, INTENT, intent("1", "2026-11-07", 5))
    # Engagement restated: account 1's day has no engagement any more, account 2's day is gone.
    result = load(connection, ENGAGEMENT, engagement("4", "2026-11-08", 1), run=2)
    assert (result.inserted, result.deleted) == (1, 2)
    assert rows(connection) == {
        ("1", date(2026, 11, 7)): (None, None, 5, 2),  # intent's figures stay; the row stays
        ("4", date(2026, 11, 8)): (None, Decimal(1), None, 2),
    }  # account 2's day had no other figure: deleted


def test_a_restated_figure_updates_its_column_only(connection: Connection) -> None:
    load(connection, ENGAGEMENT, engagement("1", "2026-11-07", 10))
    load(connection, INTENT, intent("1", "2026-11-07", 5))
    result = load(connection, INTENT, intent("1", "2026-11-07", 8), run=3)
    assert (result.inserted, result.updated, result.deleted) == (0, 1, 0)
    assert rows(connection) == {("1", date(2026, 11, 7)): (None, Decimal(10), 8, 3)}
