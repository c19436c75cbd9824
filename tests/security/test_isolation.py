"""Organization isolation: a signed-in member of another organization, given the ids of the first
organization's connections and campaigns, gets 404s from every object page and every action, and
never sees a byte of the first organization's data on the list pages or in the CSV exports.

The walk covers every URL pattern of ``dashboard/urls.py`` and every export; a pattern or export
added later without being walked here fails ``test_every_url_and_export_is_walked``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
import requests
from django.test import Client
from django.urls import reverse
from freezegun import freeze_time

from connectors.models import Connection
from dashboard.exports import export_names
from dashboard.urls import urlpatterns
from etl.models import RestatementBatch, SyncRun
from sandbox.core import SandboxServer
from tenancy.models import Membership, Organization
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
    make_run,
    make_user,
)

MARK = "zqalpha"  # in every text of the first organization; never in anything of the second
ALPHA_ACCOUNT = "777000111"
ALPHA_CAMPAIGN = "a-cmp-4417"  # an id the pages may echo back from the query string: no marker
NOON = datetime(TODAY.year, TODAY.month, TODAY.day, 12, tzinfo=UTC)

LIST_PAGES = ["overview", "campaigns", "email", "pipeline", "funnel", "accounts", "sync_health"]
# Where the first organization's own members do see its data: proof the marker would show if leaked.
ALPHA_SEES_ITS_DATA = {
    "overview", "campaigns", "email", "pipeline", "accounts", "sync_health",
    "export:campaigns", "export:email_campaigns", "export:accounts_top", "export:sync_connections",
    "export:sync_runs", "export:leads_by_source", "export:deals_by_stage", "export:restatement_log",
}  # fmt: skip


@dataclass
class World:
    alpha: Organization
    alpha_ads: Connection
    alpha_others: list[Connection]
    bravo_ads: Connection
    alpha_client: Client
    bravo_client: Client


def member_client(username: str, organization: Organization, *, admin: bool = True) -> Client:
    user = make_user(username, organization=organization)
    if admin:
        Membership.objects.filter(user_id=user.pk).update(role=Membership.Role.ADMIN)
    client = Client()
    assert client.login(username=username, password=PASSWORD)
    return client


@pytest.fixture
def world(db: None) -> Iterator[World]:
    with freeze_time(f"{TODAY.isoformat()} 12:00:00"):
        alpha = make_org("Zqalpha Corp")
        ads = make_connection(alpha, account_id=ALPHA_ACCOUNT, name="Zqalpha LinkedIn")
        add_row(ads, day=TODAY, campaign_id=ALPHA_CAMPAIGN, campaign_name="Zqalpha Spring", spend="12.50",
                impressions=1000, clicks=10)  # fmt: skip
        mail = make_connection(alpha, platform="mailchimp", account_id="zqalpha-mc", name="Zqalpha Mail")
        add_email(mail, campaign_id="zqalpha-email", send_time=NOON, campaign_title="Zqalpha Newsletter",
                  subject="Zqalpha news", list_name="Zqalpha customers")  # fmt: skip
        crm = make_connection(alpha, platform="zoho_crm", account_id="zqalpha-crm", name="Zqalpha CRM")
        add_lead(crm, lead_id="zqalpha-lead", created=NOON, lead_source="Zqalpha Webinar",
                 campaign_name="Zqalpha Spring", company="Zqalpha Lead Co")  # fmt: skip
        add_deal(crm, deal_id="zqalpha-deal", created=NOON, deal_name="Zqalpha Big Deal", stage="Zqalpha Stage",
                 lead_source="Zqalpha Webinar", amount="5000", currency="USD")  # fmt: skip
        abm = make_connection(alpha, platform="demandbase", account_id="zqalpha-abm", name="Zqalpha ABM")
        add_account(abm, account_id="zqalpha-acct", name="Zqalpha Target", domain="zqalpha.example",
                    journey_stage="Zqalpha Stage", engagement_points_30d="50", intent_keyword_count=1)  # fmt: skip
        add_engagement(abm, account_id="zqalpha-acct", day=TODAY, domain="zqalpha.example",
                       engagement_points="5", intent_keywords="zqalpha keyword")  # fmt: skip
        make_run(ads, status=SyncRun.Status.FAILED, error_message="Zqalpha run failed", finished_at=NOON)
        RestatementBatch.objects.create(organization=alpha, connection=ads, platform="linkedin_ads",
                                        dataset="ad_performance_daily", record_ids=f'["{ALPHA_CAMPAIGN}"]', day=TODAY,
                                        metric="conversions", old_values="[1]", new_values="[2]", entries=1,
                                        sync_run_id=1, changed_at=NOON)  # fmt: skip

        bravo = make_org("Bravo Inc")
        bravo_ads = make_connection(bravo, account_id="888000222", name="Bravo LinkedIn")
        add_row(bravo_ads, day=TODAY, campaign_id="bravo-campaign", campaign_name="Bravo Autumn", spend="3.00",
                impressions=100, clicks=1)  # fmt: skip
        make_run(bravo_ads, finished_at=NOON)

        yield World(
            alpha=alpha,
            alpha_ads=ads,
            alpha_others=[mail, crm, abm],
            bravo_ads=bravo_ads,
            alpha_client=member_client("alice", alpha),
            bravo_client=member_client("bob", bravo),
        )


def leaks(body: bytes) -> bool:
    text = body.decode("utf-8", "replace").lower()
    return MARK in text or ALPHA_ACCOUNT in text


def test_every_url_and_export_is_walked() -> None:
    walked = {*LIST_PAGES, "campaign", "export_csv", "connect_choose", "connect_platform", "oauth_callback",
              "connection_reconnect", "connection_sync_now", "sync_run_cancel",
              "connection_restatement_window"}  # fmt: skip
    assert {p.name for p in urlpatterns} == walked
    assert set(export_names()) >= {name.removeprefix("export:") for name in ALPHA_SEES_ITS_DATA if ":" in name}


@pytest.mark.django_db
def test_list_pages_and_exports_show_nothing_of_another_organization(world: World) -> None:
    ids = {"connection": str(world.alpha_ads.pk), "campaign": ALPHA_CAMPAIGN}
    targets = {name: (reverse(f"dashboard:{name}"), ids) for name in LIST_PAGES}
    for table in export_names():
        targets[f"export:{table}"] = (reverse("dashboard:export_csv", args=[table]), ids)
    targets["connect_choose"] = (reverse("dashboard:connect_choose"), {})
    targets["connect_platform"] = (reverse("dashboard:connect_platform", args=["linkedin_ads"]), {})

    alpha_sees = set()
    with freeze_time(f"{TODAY.isoformat()} 12:00:00"):
        for name, (url, params) in targets.items():
            response = world.bravo_client.get(url, params)
            assert response.status_code in (200, 404), name
            assert not leaks(response.content), f"{name} shows the other organization's data"
            if leaks(world.alpha_client.get(url, params).content):
                alpha_sees.add(name)
    assert alpha_sees >= ALPHA_SEES_ITS_DATA


@pytest.mark.django_db
def test_object_pages_of_another_organization_are_not_found(world: World) -> None:
    alpha_ids = [world.alpha_ads.pk, *(c.pk for c in world.alpha_others)]
    with freeze_time(f"{TODAY.isoformat()} 12:00:00"):
        for connection_id in alpha_ids:
            url = reverse("dashboard:campaign", args=[connection_id, ALPHA_CAMPAIGN])
            response = world.bravo_client.get(url)
            assert response.status_code == 404 and not leaks(response.content)
        # The first organization's campaign id under the second organization's own connection.
        mixed = reverse("dashboard:campaign", args=[world.bravo_ads.pk, ALPHA_CAMPAIGN])
        assert world.bravo_client.get(mixed).status_code == 404
        # The same page is there for its own organization (so the 404 above is the isolation).
        own = world.alpha_client.get(reverse("dashboard:campaign", args=[world.alpha_ads.pk, ALPHA_CAMPAIGN]))
        assert own.status_code == 200 and leaks(own.content)

        export = reverse("dashboard:export_csv", args=["campaign_daily"])
        params = {"connection": str(world.alpha_ads.pk), "campaign": ALPHA_CAMPAIGN}
        assert world.bravo_client.get(export, params).status_code == 404
        assert world.alpha_client.get(export, params).status_code == 200


@pytest.mark.django_db
def test_actions_on_another_organizations_connections_are_not_found(world: World) -> None:
    runs_before = SyncRun.objects.count()
    for connection in [world.alpha_ads, *world.alpha_others]:
        for name in ("connection_sync_now", "connection_reconnect"):
            response = world.bravo_client.post(reverse(f"dashboard:{name}", args=[connection.pk]))
            assert response.status_code == 404, (name, connection.platform)
            assert not leaks(response.content)
    assert SyncRun.objects.count() == runs_before  # nothing was started
    window = reverse("dashboard:connection_restatement_window", args=[world.alpha_ads.pk])
    response = world.bravo_client.post(window, {"days": "20"})
    assert response.status_code == 404 and not leaks(response.content)
    world.alpha_ads.refresh_from_db()
    assert world.alpha_ads.restatement_days is None  # left as it was
    assert set(Connection.objects.values_list("status", flat=True)) == {Connection.Status.ACTIVE}
    # Cancelling another organization's run in flight.
    alpha_run = SyncRun.objects.create(
        connection=world.alpha_others[0], status=SyncRun.Status.RUNNING, window_start=TODAY, window_end=TODAY
    )
    cancel = reverse("dashboard:sync_run_cancel", args=[alpha_run.pk])
    response = world.bravo_client.post(cancel)
    assert response.status_code == 404 and not leaks(response.content)

    # A plain member of the other organization is turned away as well, without learning anything.
    viewer = member_client("vic", world.bravo_ads.organization, admin=False)
    for name in ("connection_sync_now", "connection_reconnect"):
        response = viewer.post(reverse(f"dashboard:{name}", args=[world.alpha_ads.pk]))
        assert response.status_code in (403, 404) and not leaks(response.content)
    response = viewer.post(cancel)
    assert response.status_code in (403, 404) and not leaks(response.content)
    alpha_run.refresh_from_db()
    assert alpha_run.status == SyncRun.Status.RUNNING
    assert SyncRun.objects.count() == runs_before + 1


@pytest.mark.django_db
def test_an_oauth_callback_started_by_another_organization_connects_nothing(
    world: World, linkedin_sandbox: SandboxServer
) -> None:
    started = world.alpha_client.post(
        reverse("dashboard:connect_platform", args=["linkedin_ads"]), {"account_id": "508000001"}
    )
    assert started.status_code == 302
    answer = requests.get(started["Location"], allow_redirects=False, timeout=10)
    back = answer.headers["Location"].removeprefix("http://testserver")
    before = set(Connection.objects.values_list("pk", flat=True))
    response = world.bravo_client.get(back)
    assert response.status_code == 400 and not leaks(response.content)
    assert set(Connection.objects.values_list("pk", flat=True)) == before
