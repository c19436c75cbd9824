"""Each platform's settings are declared in its folder and read under its prefix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings

from connectors.platform_settings import declared, prefix, read
from connectors.registry import connector_classes
from dashboard.management.commands.platform_settings import ENV_EXAMPLE_HEAD, env_example

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.embedded


def test_every_platform_declares_its_settings_and_django_has_them() -> None:
    assert set(declared()) == set(connector_classes())
    for platform, settings in declared().items():
        for setting in settings:
            assert hasattr(django_settings, setting.full_name(platform)), setting
        names = {s.name for s in settings}
        assert {"API_BASE_URL", "TOKEN_URL", "CLIENT_ID", "CLIENT_SECRET", "RESTATEMENT_DAYS"} <= names, (
            platform
        )


def test_values_come_from_the_environment_under_the_prefix() -> None:
    environment = {"ZOHO_CRM_RESTATEMENT_DAYS": "9", "LINKEDIN_ADS_API_VERSION": "202701"}

    def get_str(name: str, default: str) -> str:
        return environment.get(name, default)

    def get_int(name: str, default: int) -> int:
        return int(environment.get(name, default))

    values: dict[str, Any] = read(get_str, get_int)
    assert values["ZOHO_CRM_RESTATEMENT_DAYS"] == 9 and values["LINKEDIN_ADS_API_VERSION"] == "202701"
    assert values["GOOGLE_ADS_RESTATEMENT_DAYS"] == 14  # the declared default
    assert prefix("zoho_crm") == "ZOHO_CRM"


def test_a_connector_reads_its_own_settings(settings: Any) -> None:
    linkedin = connector_classes()["linkedin_ads"]
    settings.LINKEDIN_ADS_RESTATEMENT_DAYS = 11
    assert (
        linkedin.restatement_days() == 11
        and linkedin.setting("API_VERSION") == settings.LINKEDIN_ADS_API_VERSION
    )
    assert linkedin.oauth is not None and linkedin.oauth.setting_name("CLIENT_ID") == "LINKEDIN_ADS_CLIENT_ID"
    demandbase = connector_classes()["demandbase"]
    assert (
        demandbase.oauth is not None and not demandbase.oauth.has_consent_page
    )  # API key sets, no consent page


def test_env_example_lists_every_platform_setting() -> None:
    text = (ROOT / ".env.example").read_text()
    assert text.endswith(env_example()), "run: python manage.py platform_settings --env-example"
    assert ENV_EXAMPLE_HEAD in text
