"""What people type when they register a connection is normalized and checked once, in
``connectors.services.connection_input_clean``, which the connect form and ``add_connection`` both
go through (``connection_create`` calls it too), the same way on SQLite and PostgreSQL:

- an account id is stripped and put in its platform's canonical form, so the same account cannot
  become a second connection whose rows would count twice;
- an account id, an organization slug or a name longer than its column is refused, not stored
  whole by SQLite and cut or refused by PostgreSQL;
- an organization slug is taken as typed or refused, never silently changed;
- an empty credential value is refused.

Connections stored before this with spaces around the account id are normalized by a data
migration (``connectors/migrations/0002_normalize_account_ids``).
"""

from __future__ import annotations

import importlib
from io import StringIO
from typing import Any

import pytest
from django.apps import apps as django_apps
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from connectors.models import Connection
from connectors.services import connection_create, connection_credentials
from tenancy.models import Membership, Organization
from tests.dashboard import PASSWORD, make_connection, make_org, make_user

pytestmark = [pytest.mark.embedded, pytest.mark.django_db]


def add(*args: str, org: str = "acme", platform: str = "linkedin_ads", account: str = "1001") -> str:
    out = StringIO()
    call_command(
        "add_connection", "--org", org, "--platform", platform, "--account-id", account, "--no-check",
        *(args or ("--credential", "refresh_token=r1")), stdout=out, stderr=StringIO(),
    )  # fmt: skip
    return out.getvalue().strip()


def refused(*args: str, match: str, **kwargs: str) -> None:
    with pytest.raises(CommandError, match=match) as error:
        add(*args, **kwargs)
    assert error.value.returncode == 2


def test_spaces_around_an_account_id_do_not_make_a_second_connection() -> None:
    first = add(account="1001")
    second = add(account=" 1001 ")
    assert first == second
    assert list(Connection.objects.values_list("account_id", flat=True)) == ["1001"]


def test_a_google_ads_id_with_or_without_hyphens_is_one_connection() -> None:
    first = add(platform="google_ads", account="123-456-7890")
    second = add(platform="google_ads", account="1234567890")
    assert first == second and Connection.objects.get().account_id == "1234567890"


def test_an_account_id_longer_than_its_column_is_refused() -> None:
    refused("--credential", "client_id=i", "--credential", "client_secret=s",
            match="at most 64 characters", platform="demandbase", account="t" * 500)  # fmt: skip
    refused(match="at most 64 characters", account="1" * 500)
    assert not Connection.objects.exists() and not Organization.objects.exists()


def test_an_organization_slug_longer_than_its_column_is_refused() -> None:
    refused(match="at most 80 characters", org="a" * 200)
    assert not Organization.objects.exists()


def test_an_organization_slug_is_not_silently_changed() -> None:
    make_org("Org A")  # slug org-a
    refused(match="'org-a'", org="ORG-A")
    assert Connection.objects.count() == 0 and Organization.objects.count() == 1


@pytest.mark.parametrize("value", ["", "   "])
def test_an_empty_credential_value_is_refused(value: str) -> None:
    refused("--credential", f"refresh_token={value}", match="refresh_token is empty")
    refused("--credential", "refresh_token=r1", "--credential", f"access_token={value}", match="access_token is empty")
    assert not Connection.objects.exists()


def test_credential_values_are_stored_without_surrounding_spaces() -> None:
    connection = Connection.objects.get(pk=int(add("--credential", "refresh_token= r1 ")))
    assert connection_credentials(connection)["refresh_token"] == "r1"


def test_a_name_longer_than_its_column_is_refused() -> None:
    refused("--credential", "refresh_token=r1", "--name", "n" * 201, match="at most 200 characters")


def test_an_unknown_option_is_refused() -> None:
    refused("--credential", "refresh_token=r1", "--option", "colour=blue", match="does not take option")


def test_the_service_reports_every_problem_by_field() -> None:
    from connectors.services import connection_input_clean

    with pytest.raises(ValidationError) as error:
        connection_input_clean(
            platform="linkedin_ads", account_id=" x ", credentials={"refresh_token": " "}, name="n" * 300
        )
    assert set(error.value.message_dict) == {"account_id", "credentials", "name"}
    clean = connection_input_clean(
        platform="zoho_crm", account_id=" 810004517\n", options={"accounts_server": " https://accounts.zoho.eu ",
                                                                 "utm_source_field": ""},
    )  # fmt: skip
    assert clean.account_id == "810004517" and clean.options == {"accounts_server": "https://accounts.zoho.eu"}


def test_connection_create_itself_normalizes() -> None:
    organization = make_org("Northwind")
    make_connection(organization, account_id="1001")
    connection = connection_create(
        organization=organization, platform="linkedin_ads", account_id="\t1001 ",
        credentials={"refresh_token": "r"}, check=False,
    )  # fmt: skip
    assert Connection.objects.get().pk == connection.pk


def test_the_connect_form_uses_the_same_checks() -> None:
    organization = make_org("Northwind")
    user = make_user("boss", organization=organization)
    Membership.objects.filter(user_id=user.pk).update(role=Membership.Role.ADMIN)
    client = Client()
    assert client.login(username="boss", password=PASSWORD)
    url = reverse("dashboard:connect_platform", args=["demandbase"])
    response = client.post(url, {"account_id": " north/wind ", "credential_client_id": "i",
                                 "credential_client_secret": "s"})  # fmt: skip
    assert response.status_code == 200 and "Demandbase account id" in response.content.decode()
    response = client.post(url, {"account_id": "northwind", "credential_client_id": "   ",
                                 "credential_client_secret": "s"})  # fmt: skip
    assert response.status_code == 200 and not Connection.objects.exists()


def migration() -> Any:
    return importlib.import_module("connectors.migrations.0002_normalize_account_ids")


def test_the_data_migration_normalizes_stored_account_ids() -> None:
    acme, other = make_org("Acme"), make_org("Other")
    spaced = make_connection(acme, account_id=" 1001 ")
    hyphens = make_connection(acme, platform="google_ads", account_id="123-456-7890")
    clean = make_connection(acme, account_id="2002")
    kept = make_connection(acme, account_id="3003")
    duplicate = make_connection(acme, account_id="3003 ", name="Old copy")
    elsewhere = make_connection(other, account_id=" 1001")

    migration().normalize_account_ids(django_apps, None)

    def stored(connection: Connection) -> tuple[str, str]:
        connection.refresh_from_db()
        return connection.account_id, connection.status

    assert stored(spaced) == ("1001", "active")
    assert stored(hyphens) == ("1234567890", "active")
    assert stored(clean) == ("2002", "active")
    assert stored(kept) == ("3003", "active")
    assert stored(elsewhere) == ("1001", "active")
    # Two connections of one organization for the same account: the copy is paused, not merged.
    assert stored(duplicate) == ("3003 ", "paused")
    assert f"connection {kept.pk}" in duplicate.status_message


def test_a_zoho_accounts_server_outside_zohos_data_centres_is_refused() -> None:
    """The refresh token and the app's secret go to the accounts server: only Zoho's own hosts."""
    from connectors.services import connection_input_clean

    for host in ("https://attacker.example", "http://accounts.zoho.eu", "https://accounts.zoho.eu.evil.io"):
        with pytest.raises(ValidationError) as refused:
            connection_input_clean(platform="zoho_crm", account_id="810004517", options={"accounts_server": host})
        assert "must be one of" in str(refused.value.message_dict["options"])
    clean = connection_input_clean(
        platform="zoho_crm", account_id="810004517", options={"accounts_server": "https://accounts.zoho.in/"}
    )
    assert clean.options == {"accounts_server": "https://accounts.zoho.in"}
    bare = connection_input_clean(platform="zoho_crm", account_id="810004517", options={"accounts_server": "accounts.zoho.eu"})
    assert bare.options == {"accounts_server": "https://accounts.zoho.eu"}
