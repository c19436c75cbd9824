"""Settled vs settling from the restatement log, and each connection's re-read window, measured."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from connectors.models import Connection
from connectors.registry import get_connector_class
from connectors.services import RestatementWindowRefused, connection_set_restatement_days
from dashboard.selectors.restatements import restatement_changes, settling_get, window_advice
from etl.models import RestatementBatch, SyncRun
from tenancy.models import Membership, Organization
from tests.dashboard import PASSWORD, make_connection, make_org, make_user

pytestmark = pytest.mark.django_db


def change(
    connection: Connection,
    *,
    day: date,
    metric: str = "conversions",
    old: str | None = "10",
    new: str | None = "12",
    hours_ago: float = 1,
    record: str = "c1",
) -> RestatementBatch:
    return RestatementBatch.objects.create(
        organization_id=connection.organization_id,
        connection=connection,
        platform=connection.platform,
        dataset="ad_performance_daily",
        record_ids=json.dumps([record]),
        day=day,
        metric=metric,
        old_values=json.dumps([old]),
        new_values=json.dumps([new]),
        entries=1,
        sync_run_id=1,
        changed_at=timezone.now() - timedelta(hours=hours_ago),
    )


@pytest.fixture
def org() -> Organization:
    return make_org("Northwind")


@pytest.fixture
def linkedin(org: Organization) -> Connection:
    return make_connection(org, platform="linkedin_ads", account_id="11")


def today() -> date:
    return timezone.now().date()


def test_a_change_beyond_the_threshold_marks_its_day_settling(linkedin: Connection, org: Organization) -> None:
    moved, nudged = today() - timedelta(days=2), today() - timedelta(days=3)
    change(linkedin, day=moved, metric="spend", old="100", new="102")  # 2 %
    change(linkedin, day=nudged, metric="spend", old="100", new="100.5")  # 0.5 %, under the default 1 %
    settling = settling_get(organization=org, dataset="ad_performance_daily")
    assert settling.platform_days == {("linkedin_ads", moved)}
    assert settling.record_day(linkedin.pk, "c1", moved) and not settling.record_day(linkedin.pk, "c1", nudged)


def test_one_records_changes_are_read_out_of_batches_that_hold_others(
    linkedin: Connection, org: Organization
) -> None:
    day = today() - timedelta(days=2)
    RestatementBatch.objects.create(
        organization_id=org.pk, connection=linkedin, platform=linkedin.platform, dataset="ad_performance_daily",
        record_ids=json.dumps(["c12", "c1", "c2"]), day=day, metric="clicks", old_values='["5", "6", "7"]',
        new_values='["8", "9", null]', entries=3, sync_run_id=1, changed_at=timezone.now(),
    )  # fmt: skip
    mine = restatement_changes(organization=org, connection_id=linkedin.pk, record_id="c1")
    assert [(c.record_id, c.old, c.new) for c in mine] == [("c1", "6", "9")]
    assert restatement_changes(organization=org, record_id="c") == []
    assert [c.record_id for c in restatement_changes(organization=org)] == ["c1", "c12", "c2"]


def test_the_threshold_is_a_setting_per_metric(linkedin: Connection, org: Organization, settings: Any) -> None:
    day = today() - timedelta(days=2)
    change(linkedin, day=day, metric="conversions", old="1000", new="1001")  # 0.1 %
    assert not settling_get(organization=org, dataset="ad_performance_daily").platform_days
    settings.RESTATEMENT_SETTLING_THRESHOLDS = {"conversions": 0.0}
    assert settling_get(organization=org, dataset="ad_performance_daily").platform_days == {("linkedin_ads", day)}


def test_a_figure_that_appeared_or_went_always_counts(linkedin: Connection, org: Organization) -> None:
    gone, appeared = today() - timedelta(days=2), today() - timedelta(days=4)
    change(linkedin, day=gone, old="3", new=None)
    change(linkedin, day=appeared, old=None, new="3", record="c2")
    days = settling_get(organization=org, dataset="ad_performance_daily").platform_days
    assert days == {("linkedin_ads", gone), ("linkedin_ads", appeared)}


def test_a_day_is_settled_once_re_reads_stop_changing_it(
    linkedin: Connection, org: Organization, settings: Any
) -> None:
    day = today() - timedelta(days=5)
    change(linkedin, day=day, hours_ago=settings.RESTATEMENT_SETTLING_HOURS + 1)
    assert not settling_get(organization=org, dataset="ad_performance_daily").platform_days


def test_a_day_outside_the_re_read_window_is_settled(linkedin: Connection, org: Organization) -> None:
    linkedin.restatement_days = 7
    linkedin.save()
    inside, outside = today() - timedelta(days=6), today() - timedelta(days=7)
    change(linkedin, day=inside)
    change(linkedin, day=outside)
    assert settling_get(organization=org, dataset="ad_performance_daily").platform_days == {("linkedin_ads", inside)}


def test_another_organizations_changes_never_mark_a_day(linkedin: Connection, org: Organization) -> None:
    other = make_connection(make_org("Contoso"), platform="linkedin_ads", account_id="22")
    change(other, day=today() - timedelta(days=2))
    assert not settling_get(organization=org, dataset="ad_performance_daily").platform_days


def re_reads_since(connection: Connection, days: int) -> None:
    """A re-read (not a backfill) loaded ``days`` ago: the log has covered this connection since."""
    run = SyncRun.objects.create(
        connection=connection,
        status=SyncRun.Status.SUCCEEDED,
        window_start=today(),
        window_end=today(),
        is_backfill=False,
    )
    SyncRun.objects.filter(pk=run.pk).update(created_at=timezone.now() - timedelta(days=days))


def test_the_window_is_suggested_from_how_late_re_reads_still_changed_something(
    linkedin: Connection, org: Organization
) -> None:
    re_reads_since(linkedin, 20)
    for lag in (1, 4, 9):
        change(linkedin, day=today() - timedelta(days=lag), hours_ago=0)
    change(linkedin, day=today() - timedelta(days=20), metric="spend", old="100", new="100.1", hours_ago=0)  # tiny
    [advice] = window_advice(organization=org)
    assert (advice.current_days, advice.observed_lag, advice.suggested_days) == (30, 9, 10)
    assert advice.offers_change


def test_the_suggestion_is_never_below_the_platforms_documented_minimum(org: Organization) -> None:
    google = make_connection(org, platform="google_ads", account_id="1234567890")
    re_reads_since(google, 20)
    change(google, day=today() - timedelta(days=2), hours_ago=0)
    [advice] = window_advice(organization=org)
    minimum = get_connector_class("google_ads").min_restatement_days
    assert advice.observed_lag == 2 and advice.suggested_days == minimum == 14
    assert advice.minimum_source  # says where the minimum comes from


def test_no_window_is_suggested_before_enough_re_reads_are_on_record(linkedin: Connection, org: Organization) -> None:
    re_reads_since(linkedin, 3)
    change(linkedin, day=today() - timedelta(days=1), hours_ago=0)
    [advice] = window_advice(organization=org)
    assert advice.suggested_days is None and not advice.offers_change and not advice.enough_history


def test_every_platform_declares_its_minimum_with_a_source() -> None:
    from connectors.registry import connector_classes

    for platform, connector in connector_classes().items():
        assert connector.min_restatement_days >= 1, platform
        assert connector.min_restatement_source, platform
        assert connector.restatement_days() >= connector.min_restatement_days, platform


def test_the_service_refuses_a_window_below_the_minimum(linkedin: Connection) -> None:
    with pytest.raises(RestatementWindowRefused, match="at least 7 days"):
        connection_set_restatement_days(connection=linkedin, days=3)
    linkedin.refresh_from_db()
    assert linkedin.restatement_days is None


def client_of(org: Organization, username: str, *, admin: bool) -> Client:
    user = make_user(username, organization=org)
    if admin:
        Membership.objects.filter(user_id=user.pk).update(role=Membership.Role.ADMIN)
    client = Client()
    assert client.login(username=username, password=PASSWORD)
    return client


def test_an_admin_takes_the_suggested_window_with_one_button(linkedin: Connection, org: Organization) -> None:
    re_reads_since(linkedin, 20)
    change(linkedin, day=today() - timedelta(days=9), hours_ago=0)
    admin = client_of(org, "ann", admin=True)
    page = admin.get(reverse("dashboard:sync_health")).content.decode()
    assert "Re-read 10 days" in page and "up to 9 days after the fact" in page
    url = reverse("dashboard:connection_restatement_window", args=[linkedin.pk])
    assert admin.post(url, {"days": "10"}).status_code == 302
    linkedin.refresh_from_db()
    assert linkedin.restatement_days == 10
    # below the documented minimum: refused, in words
    followed = admin.post(url, {"days": "2"}, follow=True).content.decode()
    assert "at least 7 days" in followed
    linkedin.refresh_from_db()
    assert linkedin.restatement_days == 10


def test_a_member_who_is_not_an_admin_sees_no_button_and_cannot_post(
    linkedin: Connection, org: Organization
) -> None:
    re_reads_since(linkedin, 20)
    change(linkedin, day=today() - timedelta(days=9), hours_ago=0)
    viewer = client_of(org, "vic", admin=False)
    assert "Re-read 10 days" not in viewer.get(reverse("dashboard:sync_health")).content.decode()
    url = reverse("dashboard:connection_restatement_window", args=[linkedin.pk])
    assert viewer.post(url, {"days": "10"}).status_code == 403
    linkedin.refresh_from_db()
    assert linkedin.restatement_days is None
