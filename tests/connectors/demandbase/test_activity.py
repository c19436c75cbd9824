"""Daily engagement from the Data Export API's activity entity, merged with intent in one stream."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from connectors.auth import TokenSet
from connectors.base import Window
from connectors.demandbase.activity import ACTIVITY_EXPORT_FIELDS, MINUTES, TYPE, daily_engagement
from connectors.demandbase.connector import Connector
from connectors.demandbase.mapping import ABM_ENGAGEMENT
from etl.normalize import normalize
from etl.schema import ABM_ENGAGEMENT_DAILY as DAILY_DATASET
from etl.services import today_utc
from sandbox.demandbase import (
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    SMALL_CATALOGUE_CLIENT_ID,
    SMALL_CATALOGUE_CLIENT_SECRET,
    DemandbaseSandbox,
    accounts_for,
    day_activities,
    engagement_minutes,
)
from tests.connectors.demandbase.truth import engagement_truth, intent_truth

pytestmark = pytest.mark.embedded

DAY = date(2026, 6, 3)


def activity(
    account: Any,
    kind: str | None,
    minutes: Any,
    day: str = "2026-06-03",
    *,
    views: int | None = None,
    points: int | None = None,
) -> dict[str, Any]:
    return {
        "{Account}.id": account,
        "{Account}.domain": "a.com",
        "{Activity}.activityDate": day,
        "{Activity}.type": kind,
        "{Activity}.engagementMinutes": minutes,
        "{Activity}.pageViews": views,
        "{Activity}.engagementPoints": points,
    }


def test_activities_are_summed_per_account_and_day_by_channel() -> None:
    rows = [
        activity(1, "Web Visit", 5, views=3, points=8),
        activity(1, "Email Click", 2, views=0, points=3),
        activity(1, "LinkedIn Ad Click", 1, views=0, points=1),
        activity(2, "Web Visit", 4, day="2026-06-04"),
        activity(1, "Web Visit", 9, day="2026-05-01"),  # outside the window: left out
    ]
    unreadable, days = daily_engagement(rows, DAY, DAY + timedelta(days=1), ACTIVITY_EXPORT_FIELDS)
    assert unreadable == []
    assert days[("1", DAY)] == {
        "companyId": "1",
        "domain": "a.com",
        "endDate": "2026-06-03",
        "engagementMinutes": 8,
        "engagementPoints": 12,
        "pageViews": 3,
        "webMinutes": 5,
        "emailMinutes": 2,
        "adMinutes": 1,
    }
    assert days[("2", DAY + timedelta(days=1))]["emailMinutes"] == 0  # known types: no email that day
    assert list(days) == [("1", DAY), ("2", DAY + timedelta(days=1))]


def test_measures_the_tenant_lacks_stay_empty_and_unreadable_rows_go_to_quarantine() -> None:
    fields = ("{Account}.id", "{Activity}.activityDate", MINUTES)  # no type, points or page views
    rows = [activity(1, None, 5), activity(None, None, 1), activity(1, None, "lots"), "broken"]
    unreadable, days = daily_engagement(rows, DAY, DAY, fields)
    assert len(unreadable) == 3
    record = days[("1", DAY)]
    assert record["engagementMinutes"] == 5
    assert [
        record[k] for k in ("engagementPoints", "pageViews", "webMinutes", "emailMinutes", "adMinutes")
    ] == [None] * 5


def test_an_engagement_record_normalizes_to_the_engagement_columns_only() -> None:
    unreadable, days = daily_engagement(
        [activity(7, "Web Visit", 5, views=2, points=6)],
        DAY,
        DAY,
        ACTIVITY_EXPORT_FIELDS,
    )
    record = {**days[("7", DAY)], "numPeopleResearching": 4, "intentStrength": "HIGH", "keywords": "ETL"}
    frame = normalize([record], ABM_ENGAGEMENT, DAILY_DATASET).frame
    row = frame.iloc[0].to_dict()
    assert (row["account_id"], str(row["date"])[:10], row["page_views"]) == ("7", "2026-06-03", 2)
    assert Decimal(str(row["web_minutes"])) == 5
    # The intent columns are the intent stream's: the engagement stream never writes them.
    assert row["people_researching"] is None and row["intent_strength"] is None


def test_the_sandbox_splits_each_active_day_into_activities() -> None:
    account = accounts_for("northwind")[3]
    for offset in range(40):
        day = DAY + timedelta(days=offset)
        found = day_activities(account, day)
        assert sum(a["{Activity}.engagementMinutes"] for a in found) == engagement_minutes(account, day)
        assert all(a["{Activity}.engagementMinutes"] > 0 for a in found)


def connector(client_id: str = SANDBOX_CLIENT_ID, secret: str = SANDBOX_CLIENT_SECRET) -> Connector:
    conn = Connector(
        account_id="tenant",
        tokens=TokenSet(extra={"client_id": client_id, "client_secret": secret}),
        sync_key="sync-41",
    )
    conn.field_catalogue("activity").forget()
    return conn


def test_the_engagement_and_intent_streams_bring_their_own_days(
    demandbase_app: DemandbaseSandbox,
) -> None:
    end = today_utc()
    win = Window(end - timedelta(days=29), end)
    conn = connector()
    found = [r for page in conn.extract(conn.stream("engagement"), win) for r in page]
    keys = [(r["companyId"], r["endDate"]) for r in found]
    assert len(keys) == len(set(keys))  # one record per account and day
    engaged = {
        (r["companyId"], date.fromisoformat(r["endDate"])): (
            *(
                Decimal(r[k])
                for k in ("engagementMinutes", "engagementPoints", "webMinutes", "emailMinutes", "adMinutes")
            ),
            r["pageViews"],
        )
        for r in found
    }
    assert engaged == engagement_truth(win.start, win.end, as_of=end) != {}
    assert not any("keywords" in r for r in found)  # engagement records carry no intent
    intent = [r for page in conn.extract(conn.stream("intent"), win) for r in page]
    periods = {(r["companyId"], date.fromisoformat(r["endDate"])) for r in intent}
    assert periods == set(intent_truth(win.start, win.end, today=end))
    assert not any("engagementMinutes" in r for r in intent)
    assert periods & set(engaged)  # some days carry both feeds
    jobs = [job for job in demandbase_app._jobs.values() if job.request.entity_type == "activity"]
    assert len(jobs) == 1 and (jobs[0].request.from_date, jobs[0].request.to_date) == (win.start, win.end)
    assert conn.state["activity_export"]["export_job_id"] and not conn.state.get("activity_fields_note")


def test_a_window_past_ninety_days_reads_its_last_ninety(demandbase_app: DemandbaseSandbox) -> None:
    end = today_utc()
    win = Window(end - timedelta(days=119), end)
    conn = connector()
    found = [r for page in conn.extract(conn.stream("engagement"), win) for r in page]
    (job,) = [job for job in demandbase_app._jobs.values() if job.request.entity_type == "activity"]
    assert (job.request.from_date, job.request.to_date) == (end - timedelta(days=89), end)
    assert any("last 90 days" in note for note in conn.state["notes"])
    days = [date.fromisoformat(r["endDate"]) for r in found]
    assert days and min(days) >= end - timedelta(days=89)


def test_a_tenant_without_activity_fields_gets_no_engagement_and_a_note(
    demandbase_app: DemandbaseSandbox,
) -> None:
    end = today_utc()
    win = Window(end - timedelta(days=29), end)
    conn = connector(SMALL_CATALOGUE_CLIENT_ID, SMALL_CATALOGUE_CLIENT_SECRET)
    assert [r for page in conn.extract(conn.stream("engagement"), win) for r in page] == []
    assert [r for page in conn.extract(conn.stream("intent"), win) for r in page]  # intent is unaffected
    assert not [job for job in demandbase_app._jobs.values() if job.request.entity_type == "activity"]
    assert any("cannot export activities" in note for note in conn.state["notes"])


def test_the_activity_catalogue_lists_activity_fields_unless_the_tenant_lacks_them(
    demandbase_app: DemandbaseSandbox,
) -> None:
    full = connector().field_catalogue("activity").names(fresh=True)
    assert set(ACTIVITY_EXPORT_FIELDS) <= full and TYPE in full
    small = connector(SMALL_CATALOGUE_CLIENT_ID, SMALL_CATALOGUE_CLIENT_SECRET).field_catalogue("activity")
    assert not any(name.startswith("{Activity}.") for name in small.names(fresh=True))
