"""The API versions the connectors speak, and the warnings before a platform stops serving one."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone

from connectors.api_versions import api_version_statuses, api_versions_warn
from connectors.base import ApiVersion
from connectors.registry import connector_classes

pytestmark = pytest.mark.embedded


def test_no_connector_ships_on_a_version_about_to_end(settings: Any) -> None:
    """Fails, on purpose, once a pinned version is within the warning period of its sunset: move the
    connector to a newer version (and its mapping to the version's changes) before releasing."""
    ending = [s.warning for s in api_version_statuses(today=timezone.now().date()) if s.state != "ok"]
    assert ending == [], "\n".join(w or "" for w in ending)
    assert settings.API_SUNSET_WARNING_DAYS >= 30


def test_every_connector_names_its_version_and_where_the_date_comes_from() -> None:
    for platform, cls in connector_classes().items():
        version = cls.api_version()
        assert version.name and version.source, platform
    linkedin = connector_classes()["linkedin_ads"]
    assert linkedin.api_version().sunset == date(2027, 10, 1)  # 202610, served a year


def test_linkedins_version_follows_its_setting(settings: Any) -> None:
    settings.LINKEDIN_ADS_API_VERSION = "202601"
    assert connector_classes()["linkedin_ads"].api_version() == ApiVersion(
        "202601", date(2027, 1, 1), "LinkedIn supports each monthly version for a year"
    )


def test_a_version_within_the_warning_period_is_ending_then_ended(settings: Any) -> None:
    settings.API_SUNSET_WARNING_DAYS = 60
    settings.LINKEDIN_ADS_API_VERSION = "202601"  # served until 1 Jan 2027
    by_platform = {s.platform: s for s in api_version_statuses(today=date(2026, 11, 20))}
    linkedin = by_platform["linkedin_ads"]
    assert (linkedin.state, linkedin.days_left) == ("ending", 42)
    assert linkedin.warning == (
        "LinkedIn Ads stops serving API version 202601 on 1 Jan 2027, in 42 days (LinkedIn supports each "
        "monthly version for a year): move the connector to a newer version before then."
    )
    assert by_platform["mailchimp"].state == "ok" and by_platform["mailchimp"].warning is None  # no end
    after = {s.platform: s for s in api_version_statuses(today=date(2027, 1, 2))}["linkedin_ads"]
    assert after.state == "ended" and "stopped serving API version 202601 on 1 Jan 2027" in (
        after.warning or ""
    )


def test_the_daily_check_logs_and_mails_the_admins(settings: Any, caplog: pytest.LogCaptureFixture) -> None:
    settings.ADMINS = [("Ops", "ops@example.test")]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.LINKEDIN_ADS_API_VERSION = "202601"
    warnings = api_versions_warn(today=date(2026, 12, 15))
    assert len(warnings) == 1 and "LinkedIn Ads stops serving API version 202601" in warnings[0]
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["ops@example.test"]
    assert warnings[0] in mail.outbox[0].body
    assert any(r.message == "api_version.sunset" for r in caplog.records)
    assert api_versions_warn(today=date(2026, 12, 15) - timedelta(days=400)) == []
