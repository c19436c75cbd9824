"""The demo shows the two notices that see trouble coming, from sandbox data alone: Northwind
DACH's LinkedIn authorization ends in days (its sandbox grant was issued a year less 12 days ago),
and LinkedIn's API version is the oldest one still served, weeks from its sunset."""

from __future__ import annotations

import re
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from connectors.models import Connection
from connectors.registry import platforms
from sandbox.linkedin_ads import DEMO_EXPIRING_DAYS_LEFT
from sandbox.serve import serve_sandboxes

pytestmark = pytest.mark.django_db


def test_the_demo_forecasts_an_ending_authorization_and_a_version_near_its_sunset(settings: Any) -> None:
    servers = serve_sandboxes(platforms())
    try:
        for server in servers.values():
            for key, value in {**server.env(), **server.app.demo_env()}.items():
                setattr(settings, key, value)
        call_command("demo_setup", stdout=StringIO())
        linkedin = servers["linkedin_ads"].app
        version = linkedin.oldest_version()  # type: ignore[attr-defined]
    finally:
        for server in servers.values():
            server.stop()

    dach = Connection.objects.get(platform="linkedin_ads", account_id="508000002")
    assert dach.grant_expires_at is not None
    client = Client()
    assert client.login(username="demo", password="demo-analytics")
    page = client.get(reverse("dashboard:sync_health")).content.decode()
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))

    expected_days = {DEMO_EXPIRING_DAYS_LEFT - 1, DEMO_EXPIRING_DAYS_LEFT}  # less a few seconds
    notice = re.search(rf"LinkedIn Ads authorization for {re.escape(dach.name)} expires in (\d+) days", text)
    assert notice and int(notice.group(1)) in expected_days, text
    assert "Reconnect" in page
    assert re.search(rf"LinkedIn Ads stops serving API version {version} on .*? in \d+ days", text), text
    # The other demo connections' grants are far from their end: one notice only.
    assert len(re.findall(r"authorization for .*? expires in", text)) == 1
