"""Two syncs with a restatement in between: Sync health and the campaign's page say exactly what
changed, only the changed day is marked settling, and a re-read of unchanged data logs nothing.

End to end through the LinkedIn Ads fake (restated on request), the pipeline and the pages; on
PostgreSQL and, with ``-m embedded``, on SQLite (the load logs differently there).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from connectors.models import Connection
from etl.models import AdPerformanceDaily, RestatementBatch, SyncRun
from etl.restatement_log import restatement_entries
from tenancy.models import Membership, Organization
from tests.dashboard import PASSWORD, make_org, make_user
from tests.sandboxes import Sandboxes, run_sync

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.embedded]


def member(organization: Organization, username: str = "ann", *, admin: bool = False) -> Client:
    user = make_user(username, organization=organization)
    if admin:
        Membership.objects.filter(user_id=user.pk).update(role=Membership.Role.ADMIN)
    client = Client()
    assert client.login(username=username, password=PASSWORD)
    return client


def settling_marks(html: str) -> int:
    return html.count('data-settling="1"')


@dataclass(frozen=True)
class Restated:
    day: date  # the restated day
    before: dict[str, Decimal]  # each campaign's conversions that day before the restatement
    run: SyncRun  # the sync that read the restated figures


@pytest.fixture
def restated(sandboxes: Sandboxes, linkedin_connection: Connection) -> Restated:
    """Backfill, a re-read of unchanged data, a restatement of one day's conversions, a re-read."""
    first = run_sync(linkedin_connection)
    assert first.status == SyncRun.Status.SUCCEEDED
    unchanged = run_sync(linkedin_connection)
    assert unchanged.status == SyncRun.Status.SUCCEEDED
    assert not RestatementBatch.objects.exists()  # the re-read of unchanged data logged nothing
    day = timezone.now().date() - timedelta(days=3)
    before = {
        r.campaign_id: Decimal(r.conversions)
        for r in AdPerformanceDaily.objects.filter(connection=linkedin_connection, date=day)
        if r.conversions is not None
    }
    assert before, "the fake serves rows for the restated day"
    sandboxes.restate("linkedin_ads", days=[day], metric="externalWebsiteConversions", delta=5)
    third = run_sync(linkedin_connection)
    assert third.status == SyncRun.Status.SUCCEEDED
    return Restated(day, before, third)


def test_the_log_holds_exactly_what_the_restatement_changed(
    restated: Restated, linkedin_connection: Connection
) -> None:
    day, before, run = restated.day, restated.before, restated.run
    changes = list(restatement_entries(RestatementBatch.objects.filter(connection_id=linkedin_connection.pk)))
    assert len(changes) == len(before)
    assert {(c.record_id, c.day, c.metric) for c in changes} == {(cid, day, "conversions") for cid in before}
    for change in changes:
        assert change.old == before[change.record_id]
        assert change.new == Decimal(before[change.record_id]) + 5
        assert change.sync_run_id == run.pk
        assert change.organization_id == linkedin_connection.organization_id


def test_sync_health_says_what_changed_in_words(
    restated: Restated, linkedin_connection: Connection
) -> None:
    day, before, run = restated.day, restated.before, restated.run
    html = member(linkedin_connection.organization).get(reverse("dashboard:sync_health")).content.decode()
    campaign_id, old = next(iter(sorted(before.items())))
    logged = RestatementBatch.objects.filter(sync_run_id=run.pk).first()
    assert logged is not None
    when = timezone.localtime(logged.changed_at)
    sentence = (
        f"LinkedIn Ads conversions for {day.day} {day:%b}: {old.normalize():f} → {(old + 5).normalize():f}, "
        f"changed by the sync of {when.day} {when:%b %H:%M}"
    )
    assert sentence in html
    assert html.count("LinkedIn Ads conversions for") == len(before)
    # the per-platform summary: how many figures moved, by how much, how late
    summary = html[html.index("data-restatement-movement") :]
    assert f"conversions +{5 * len(before)}" in summary
    lag = (when.date() - day).days
    assert f"still changed {lag} days after the fact" in summary


def test_the_campaign_page_shows_its_own_change_and_only_that_day_settling(
    restated: Restated, linkedin_connection: Connection
) -> None:
    day, before = restated.day, restated.before
    campaign_id = sorted(before)[0]
    client = member(linkedin_connection.organization)
    url = reverse("dashboard:campaign", args=[linkedin_connection.pk, campaign_id])
    html = client.get(url, {"days": "30"}).content.decode()
    changes = html[html.index("campaign-changes-title") :]
    assert changes.count("LinkedIn Ads conversions for") == 1
    assert f"for {day.day} {day:%b}:" in changes
    # two charts (spend, clicks): one lighter bar each, the restated day's
    assert settling_marks(html) == 2
    rows = [line for line in html.splitlines() if "badge--settling" in line and "<td>" in line]
    assert len(rows) == 1 and f"{day.day} {day:%b} {day.year}" in rows[0]

    other = next((c for c in AdPerformanceDaily.objects.filter(connection=linkedin_connection).exclude(
        campaign_id__in=before).values_list("campaign_id", flat=True)), None)
    if other is not None:  # a campaign without a row that day: nothing changed, nothing settling
        page = client.get(reverse("dashboard:campaign", args=[linkedin_connection.pk, other]), {"days": "30"})
        text = page.content.decode()
        assert settling_marks(text) == 0 and "No re-read has changed this campaign" in text


def test_the_overview_marks_only_the_changed_day_settling(
    restated: Restated, linkedin_connection: Connection
) -> None:
    day = restated.day
    html = member(linkedin_connection.organization).get(reverse("dashboard:overview"), {"days": "30"})
    text = html.content.decode()
    assert "Settling" in text and f"{day.day} {day:%b}" in text
    # the spend chart of the one currency: one lighter bar, the restated day's
    assert settling_marks(text) == 1
    rows = [line for line in text.splitlines() if "badge--settling" in line and "<td>" in line]
    assert len(rows) == 2  # the platform's line (a day of the period is settling) and the day's line


def test_the_csv_exports_say_settling_or_settled_and_list_the_log(
    restated: Restated, linkedin_connection: Connection
) -> None:
    day, before = restated.day, restated.before
    client = member(linkedin_connection.organization)
    daily = client.get(reverse("dashboard:export_csv", args=["overview_daily"]), {"days": "30"})
    rows = list(csv.DictReader(io.StringIO(daily.content.decode())))
    assert {r["date"] for r in rows if r["figures"] == "settling"} == {day.isoformat()}
    assert {r["figures"] for r in rows} == {"settling", "settled"}
    log = client.get(reverse("dashboard:export_csv", args=["restatement_log"]))
    lines = list(csv.DictReader(io.StringIO(log.content.decode())))
    assert len(lines) == len(before)
    assert {(r["record_id"], r["metric"], r["date"]) for r in lines} == {
        (cid, "conversions", day.isoformat()) for cid in before
    }


def test_another_organization_sees_none_of_it(restated: Restated) -> None:
    other = make_org("Contoso")
    client = member(other, "bob")
    html = client.get(reverse("dashboard:sync_health")).content.decode()
    assert "LinkedIn Ads conversions for" not in html
    log = client.get(reverse("dashboard:export_csv", args=["restatement_log"])).content.decode()
    assert log.strip().count("\n") == 0  # the header alone


def test_google_ads_restated_on_request_logs_exactly_the_restated_campaign_day(
    sandboxes: Sandboxes, organization: Organization
) -> None:
    connection = sandboxes.connect("google_ads", organization)
    assert run_sync(connection).status == SyncRun.Status.SUCCEEDED
    assert run_sync(connection).status == SyncRun.Status.SUCCEEDED
    assert not RestatementBatch.objects.exists()  # the fake's figures did not move within the day
    day = timezone.now().date() - timedelta(days=2)
    row = AdPerformanceDaily.objects.filter(connection=connection, date=day, clicks__gt=0).order_by("campaign_id").first()
    assert row is not None
    sandboxes.restate("google_ads", days=[day], metric="clicks", delta=7, campaign=row.campaign_id)
    assert run_sync(connection).status == SyncRun.Status.SUCCEEDED
    changes = list(restatement_entries(RestatementBatch.objects.filter(connection_id=connection.pk)))
    assert [(c.record_id, c.day, c.metric, c.old, c.new) for c in changes] == [
        (row.campaign_id, day, "clicks", Decimal(row.clicks), Decimal(row.clicks + 7))
    ]


def test_the_movement_adds_up_every_figure_the_log_holds(
    restated: Restated, linkedin_connection: Connection
) -> None:
    from dashboard.selectors.restatements import restatement_movement, utc_date

    entries = list(restatement_entries(RestatementBatch.objects.filter(connection_id=linkedin_connection.pk)))
    [linkedin] = restatement_movement(organization=linkedin_connection.organization)

    # Read batch by batch (sums in SQL on PostgreSQL), the same as figure by figure.
    assert linkedin.changes == len(entries) == len(restated.before)
    [conversions] = linkedin.metrics
    assert conversions.metric == "conversions" and conversions.changes == len(entries)
    assert conversions.before == sum((e.old for e in entries if e.old is not None), Decimal(0))
    assert conversions.net == sum(e.new - e.old for e in entries if e.new is not None and e.old is not None)
    assert conversions.net == 5 * len(entries)  # the sandbox added 5 to each campaign's day
    assert linkedin.days == 1
    lags = {(utc_date(e.changed_at) - e.day).days for e in entries}
    assert len(lags) == 1 and linkedin.lags == {lags.pop(): len(entries)}
