"""Field discovery: the account export asks only for the fields the tenant's catalogue lists."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import requests
from django.core.cache.backends.locmem import LocMemCache

from connectors.auth import TokenSet
from connectors.base import Window
from connectors.demandbase import mapping
from connectors.demandbase.catalogue import (
    FIELDS_PATH,
    MAX_AGE_SECONDS,
    FieldCatalogue,
    choose_fields,
    missing_fields_note,
)
from connectors.demandbase.connector import Connector
from connectors.errors import PermanentError, RateLimited
from etl.services import today_utc
from sandbox.core import SandboxServer
from sandbox.demandbase import (
    ACCOUNT_FIELDS,
    NO_INTENT_CLIENT_ID,
    NO_INTENT_CLIENT_SECRET,
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    SMALL_CATALOGUE_CLIENT_ID,
    SMALL_CATALOGUE_CLIENT_SECRET,
    SMALL_CATALOGUE_TENANT,
    DemandbaseSandbox,
    expected_accounts,
)

pytestmark = pytest.mark.embedded

SMALL_FIELDS = {
    "{Account}.id",
    "{Account}.name",
    "{Account}.domain",
    "{Account}.engagementMinutesLast7Day",
    "{Account}.engagementMinutesLast30Day",
}
SMALL_NOTE = (
    "Demandbase: this tenant has no Industry, Journey Stage, Engagement Points, Intent Score or "
    "Intent Keywords fields; those columns stay empty."
)


def connector(
    client_id: str = SMALL_CATALOGUE_CLIENT_ID,
    secret: str = SMALL_CATALOGUE_CLIENT_SECRET,
    *,
    state: dict[str, Any] | None = None,
    saved: list[dict[str, Any]] | None = None,
) -> Connector:
    conn = Connector(
        account_id="fabrikam",
        tokens=TokenSet(extra={"client_id": client_id, "client_secret": secret}),
        state=state,
        on_state=saved.append if saved is not None else None,
        sync_key="sync-41",
    )
    conn.field_catalogue("account").forget()  # a fresh tenant: nothing read yet
    return conn


def accounts(conn: Connector) -> list[Any]:
    end = today_utc()
    pages = conn.extract(conn.stream("accounts"), Window(end - timedelta(days=6), end))
    return [record for page in pages for record in page]


def requests_of(app: DemandbaseSandbox, route: str) -> int:
    return int(app.state()["requests"].get(route, 0))


def job_fields(app: DemandbaseSandbox) -> list[list[str]]:
    return [list(job.request.fields) for job in app._jobs.values()]


# -- the pure parts --------------------------------------------------------------------------------


def test_choose_fields_keeps_the_wanted_order_and_lists_what_is_missing() -> None:
    choice = choose_fields(
        mapping.ACCOUNT_EXPORT_FIELDS,
        mapping.REQUIRED_ACCOUNT_FIELDS,
        frozenset(SMALL_FIELDS | {"{Account}.country"}),
        mapping.ACCOUNT_FIELD_LABELS,
    )
    assert choice.requested == (
        "{Account}.id",
        "{Account}.domain",
        "{Account}.name",
        "{Account}.engagementMinutesLast7Day",
        "{Account}.engagementMinutesLast30Day",
    )
    assert "{Account}.engagementPointsLast7Day" in choice.missing and "{Account}.id" not in choice.missing
    assert missing_fields_note(choice.missing, mapping.ACCOUNT_FIELD_LABELS) == SMALL_NOTE


def test_the_note_names_one_kind_of_field_in_plain_words() -> None:
    missing = ("{Account}.engagementPointsLast7Day", "{Account}.engagementPointsLast30Day")
    assert missing_fields_note(missing, mapping.ACCOUNT_FIELD_LABELS) == (
        "Demandbase: this tenant has no Engagement Points fields; those columns stay empty."
    )
    assert missing_fields_note(("{Account}.intentScore",), mapping.ACCOUNT_FIELD_LABELS) == (
        "Demandbase: this tenant has no Intent Score field; that column stays empty."
    )
    assert missing_fields_note((), mapping.ACCOUNT_FIELD_LABELS) is None


@pytest.mark.parametrize(
    ("absent", "named"), [("{Account}.id", "Account ID"), ("{Account}.name", "Account Name")]
)
def test_a_missing_required_field_is_a_permanent_error_naming_it(absent: str, named: str) -> None:
    with pytest.raises(PermanentError) as caught:
        choose_fields(
            mapping.ACCOUNT_EXPORT_FIELDS,
            mapping.REQUIRED_ACCOUNT_FIELDS,
            frozenset(SMALL_FIELDS - {absent}),
            mapping.ACCOUNT_FIELD_LABELS,
        )
    assert absent in caught.value.message and named in caught.value.message
    assert "Export collection" in caught.value.message


class FakeClient:
    """Answers the catalogue request from a list it can be told to change; counts the calls."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.throttled = False

    def get_json(self, path: str, **kwargs: Any) -> Any:
        self.calls.append((path, kwargs.get("params") or {}))
        if self.throttled:
            raise RateLimited("Demandbase answered HTTP 429 (429-100)", code="429-100")
        return [{"name": n, "dataType": "String", "label": n, "description": ""} for n in self.names]


def catalogue(client: FakeClient, clock: list[float], store: LocMemCache) -> FieldCatalogue:
    return FieldCatalogue(
        client,  # type: ignore[arg-type]
        entity="account",
        tenant_key="https://uapi.example|key-1",
        cache=store,
        clock=lambda: clock[0],
    )


def test_the_catalogue_is_read_at_most_once_a_day_per_tenant() -> None:
    client, clock, store = FakeClient(sorted(SMALL_FIELDS)), [1_000_000.0], LocMemCache("h18d-a", {})
    assert catalogue(client, clock, store).names() == frozenset(SMALL_FIELDS)
    assert client.calls == [(FIELDS_PATH, {"entityType": "account"})]

    clock[0] += MAX_AGE_SECONDS - 60  # a later sync the same day, another connector instance
    client.names = ["{Account}.id"]
    assert catalogue(client, clock, store).names() == frozenset(SMALL_FIELDS)
    assert len(client.calls) == 1

    other = FieldCatalogue(client, entity="account", tenant_key="https://uapi.example|key-2", cache=store)  # type: ignore[arg-type]
    assert other.names() == frozenset({"{Account}.id"})  # another tenant has its own catalogue
    assert len(client.calls) == 2

    clock[0] += 120  # a day later: read again
    assert catalogue(client, clock, store).names() == frozenset({"{Account}.id"})
    assert len(client.calls) == 3


def test_fresh_reads_again_and_a_throttled_read_falls_back_to_the_older_copy() -> None:
    client, clock, store = FakeClient(sorted(SMALL_FIELDS)), [1_000_000.0], LocMemCache("h18d-b", {})
    catalogue(client, clock, store).names()
    client.names = sorted(SMALL_FIELDS - {"{Account}.domain"})
    assert catalogue(client, clock, store).names(fresh=True) == frozenset(client.names)
    assert len(client.calls) == 2

    clock[0] += 2 * MAX_AGE_SECONDS
    client.throttled = True
    assert catalogue(client, clock, store).names() == frozenset(client.names)  # stale, but usable
    with pytest.raises(RateLimited):
        catalogue(client, clock, store).names(fresh=True)  # a re-read after a refusal must be real


# -- against the sandbox ----------------------------------------------------------------------------


def test_the_sandbox_catalogue_and_400_155_follow_the_tenant(demandbase_sandbox: SandboxServer) -> None:
    base = demandbase_sandbox.env()["DEMANDBASE_API_BASE_URL"]

    def token(client_id: str, secret: str) -> dict[str, str]:
        body = {"grantType": "client_credentials", "clientId": client_id, "clientSecret": secret}
        answer = requests.post(base + "/auth/v1/token", json=body, timeout=5).json()
        return {"Authorization": f"Bearer {answer['accessToken']}"}

    small = token(SMALL_CATALOGUE_CLIENT_ID, SMALL_CATALOGUE_CLIENT_SECRET)
    listed = requests.get(base + FIELDS_PATH, params={"entityType": "account"}, headers=small, timeout=5)
    assert listed.status_code == 200
    assert {f["name"] for f in listed.json()} == SMALL_FIELDS
    assert set(listed.json()[0]) == {"name", "dataType", "label", "description"}

    full = token(SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET)
    listed = requests.get(base + FIELDS_PATH, params={"entityType": "account"}, headers=full, timeout=5)
    assert {f["name"] for f in listed.json()} == set(ACCOUNT_FIELDS)

    job = {"entityType": "account", "jobName": "x", "fields": ["{Account}.id", "{Account}.intentScore"]}
    refused = requests.post(base + "/data/export/v1/job", json=job, headers=small, timeout=5)
    assert refused.status_code == 400
    body = refused.json()
    assert set(body) == {"errorCode", "errorMessage", "diagnosticCode"}
    assert body["errorCode"] == "400-155" and "Fields not available for this tenant" in body["errorMessage"]

    no_intent = token(NO_INTENT_CLIENT_ID, NO_INTENT_CLIENT_SECRET)
    sets = requests.get(base + "/data/export/v1/reference/keywordSet", headers=no_intent, timeout=5)
    assert sets.status_code == 403 and sets.json()["errorCode"] == "403-100"
    query = {"keywords": ["ETL"], "startDate": "2026-01-01", "endDate": "2026-01-31"}
    refused = requests.post(
        base + "/data/intent/v1/companies/intent/query", json=query, headers=no_intent, timeout=5
    )
    assert refused.status_code == 403 and refused.json()["errorCode"] == "403-100"


def test_a_small_tenant_gets_the_fields_it_has_and_a_note(demandbase_app: DemandbaseSandbox) -> None:
    saved: list[dict[str, Any]] = []
    conn = connector(saved=saved)
    found = accounts(conn)

    wanted = [f for f in mapping.ACCOUNT_EXPORT_FIELDS if f in SMALL_FIELDS]
    assert job_fields(demandbase_app) == [wanted]
    assert requests_of(demandbase_app, "fields") == 1 and requests_of(demandbase_app, "create_job") == 1
    expected = expected_accounts(demandbase_app.today(), tenant=SMALL_CATALOGUE_TENANT, fields=wanted)
    assert len(found) == len(expected) == 40
    assert set(found[0]["Account"]) == {f.removeprefix("{Account}.") for f in wanted}
    assert conn.state["notes"] == [SMALL_NOTE]
    assert saved[-1]["notes"] == [SMALL_NOTE]  # persisted for the run

    # Another sync the same day reads no catalogue; the note comes again, once.
    again = Connector(
        account_id="fabrikam",
        tokens=TokenSet(
            extra={"client_id": SMALL_CATALOGUE_CLIENT_ID, "client_secret": SMALL_CATALOGUE_CLIENT_SECRET}
        ),
        sync_key="sync-42",
    )
    assert len(accounts(again)) == 40
    assert again.state["notes"] == [SMALL_NOTE]
    assert requests_of(demandbase_app, "fields") == 1 and requests_of(demandbase_app, "create_job") == 2


def test_the_full_tenant_asks_for_every_field_without_a_note(demandbase_app: DemandbaseSandbox) -> None:
    conn = connector(SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET)
    assert len(accounts(conn)) == 300
    assert job_fields(demandbase_app) == [list(mapping.ACCOUNT_EXPORT_FIELDS)]
    assert "notes" not in conn.state or conn.state["notes"] == []


def test_a_retried_attempt_asks_for_the_same_fields_without_reading_the_catalogue(
    demandbase_app: DemandbaseSandbox,
) -> None:
    saved: list[dict[str, Any]] = []
    accounts(connector(saved=saved))
    state = dict(saved[-1])
    connector()  # forgets the cached catalogue: the retry relies on the sync's own state
    retry = Connector(
        account_id="fabrikam",
        tokens=TokenSet(
            extra={"client_id": SMALL_CATALOGUE_CLIENT_ID, "client_secret": SMALL_CATALOGUE_CLIENT_SECRET}
        ),
        state={**state, "export_job_id": None},
        sync_key="sync-41",
    )
    assert len(accounts(retry)) == 40
    assert requests_of(demandbase_app, "fields") == 1
    assert retry.state["notes"] == [SMALL_NOTE]


def test_a_400_155_reads_the_catalogue_again_and_asks_for_what_exists(
    demandbase_app: DemandbaseSandbox,
) -> None:
    conn = connector()
    # Read earlier today, when the tenant still had every field: the cached copy is out of date.
    conn.field_catalogue("account")._store(frozenset(ACCOUNT_FIELDS))

    found = accounts(conn)
    assert len(found) == 40
    assert requests_of(demandbase_app, "create_job") == 2  # refused with 400-155, then accepted
    assert requests_of(demandbase_app, "fields") == 1  # re-read once, on the refusal
    assert job_fields(demandbase_app) == [[f for f in mapping.ACCOUNT_EXPORT_FIELDS if f in SMALL_FIELDS]]
    assert conn.state["notes"] == [SMALL_NOTE]  # the note of the new catalogue only
    # The re-read catalogue is what later syncs use.
    assert conn.field_catalogue("account").names() == frozenset(SMALL_FIELDS)
    assert requests_of(demandbase_app, "fields") == 1


def test_a_400_155_with_an_unchanged_catalogue_is_a_clear_permanent_error(
    demandbase_app: DemandbaseSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn = connector()
    monkeypatch.setattr(FieldCatalogue, "names", lambda self, fresh=False: frozenset(ACCOUNT_FIELDS))
    with pytest.raises(PermanentError) as caught:
        accounts(conn)
    assert caught.value.code == "400-155"
    assert "Fields not available for this tenant" in caught.value.message
    assert "still lists every field" in caught.value.message
    assert requests_of(demandbase_app, "create_job") == 1  # the same refused job is not asked for again


def test_a_tenant_without_the_name_field_fails_naming_it(
    demandbase_app: DemandbaseSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn = connector()
    monkeypatch.setattr(
        FieldCatalogue, "names", lambda self, fresh=False: frozenset(SMALL_FIELDS - {"{Account}.name"})
    )
    with pytest.raises(PermanentError) as caught:
        accounts(conn)
    assert "{Account}.name (Account Name)" in caught.value.message
    assert requests_of(demandbase_app, "create_job") == 0  # nothing was asked that could not be loaded


def test_a_tenant_without_intent_says_so(demandbase_app: DemandbaseSandbox) -> None:
    conn = connector(NO_INTENT_CLIENT_ID, NO_INTENT_CLIENT_SECRET)
    assert len(accounts(conn)) == 25
    end = today_utc()
    with pytest.raises(PermanentError) as caught:
        list(conn.extract(conn.stream("intent"), Window(end - timedelta(days=6), end)))
    assert caught.value.status == 403 and "no access to Intent" in caught.value.message
