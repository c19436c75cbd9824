"""The Demandbase connector against the sandbox: the per-stream matrix and the export job's special cases."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
import requests

import connectors.demandbase.connector as demandbase_connector
from connectors.auth import TokenSet
from connectors.base import Window
from connectors.demandbase.connector import Connector
from connectors.demandbase.export import ExportTiming
from connectors.errors import AuthError, PermanentError, RateLimited, TransientError
from etl.services import today_utc
from sandbox.core import SandboxServer
from sandbox.demandbase import (
    EMPTY_CLIENT_ID,
    EMPTY_CLIENT_SECRET,
    EXPORT_ONLY_CLIENT_ID,
    EXPORT_ONLY_CLIENT_SECRET,
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    DemandbaseSandbox,
)
from tests.connectors.demandbase.truth import RANK, account_truth, intent_truth
from tests.sandboxes import Sandboxes

pytestmark = pytest.mark.embedded

INTENT = "/data/intent/v1/companies/intent/query"


def connector(
    client_id: str = SANDBOX_CLIENT_ID,
    secret: str = SANDBOX_CLIENT_SECRET,
    *,
    saved: list[TokenSet] | None = None,
    state: dict[str, Any] | None = None,
    options: dict[str, Any] | None = None,
    sync_key: str = "sync-7",
) -> Connector:
    states: list[dict[str, Any]] = []
    conn = Connector(
        account_id="northwind",
        tokens=TokenSet(extra={"client_id": client_id, "client_secret": secret}),
        options=options,
        on_tokens=saved.append if saved is not None else None,
        state=state,
        on_state=states.append,
        sync_key=sync_key,
    )
    return conn


def window(days: int = 30) -> Window:
    end = today_utc()
    return Window(end - timedelta(days=days - 1), end)


def pages(conn: Connector, stream: str, win: Window | None = None) -> list[list[Any]]:
    return list(conn.extract(conn.stream(stream), win or window()))


def records(conn: Connector, stream: str, win: Window | None = None) -> list[Any]:
    return [record for page in pages(conn, stream, win) for record in page]


def accounts_as_truth(found: list[Any]) -> dict[str, tuple[Any, ...]]:
    return {
        str(r["Account"]["id"]): (
            r["Account"]["domain"],
            r["Account"]["name"],
            r["Account"]["journeyStage"],
            Decimal(r["Account"]["engagementMinutesLast7Day"]),
            Decimal(r["Account"]["engagementPointsLast30Day"]),
            Decimal(str(r["Account"]["intentScore"])),
            r["Account"]["intentKeywordCount"],
        )
        for r in found
    }


def intent_as_truth(found: list[Any]) -> dict[tuple[str, date], tuple[Any, ...]]:
    return {
        (r["companyId"], date.fromisoformat(r["endDate"])): (
            r["domain"],
            r["numPeopleResearching"],
            r["intentStrength"],
            r["keywords"],
        )
        for r in found
        if r.get("keywords")  # an intent period (not a day with engagement only)
    }


def expected_intent(win: Window, **kwargs: Any) -> dict[tuple[str, date], tuple[Any, ...]]:
    return intent_truth(win.start, win.end, today=today_utc(), **kwargs)


def state_of(app: DemandbaseSandbox) -> dict[str, Any]:
    return app.state()


# --------------------------------------------------------------------------- accounts (export job)


def test_accounts_are_exactly_what_the_export_serves(demandbase_app: DemandbaseSandbox) -> None:
    conn = connector()
    found = records(conn, "accounts")
    assert accounts_as_truth(found) == account_truth(today_utc())
    assert len(found) == 300
    first = found[0]["Account"]
    assert isinstance(first["id"], int) and isinstance(first["engagementMinutesLast30Day"], int)
    state = state_of(demandbase_app)
    assert state["counters"]["jobs_created"] == 1 and state["requests"]["job_status"] == 3
    assert conn.state["export_job_id"] == state["jobs"][0]["jobId"]
    assert state["jobs"][0]["jobName"] == "sales-dashboard sync-7 accounts"
    assert "secret_as_bearer" not in state["counters"]


def test_accounts_come_in_pages_of_a_thousand(
    demandbase_app: DemandbaseSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(demandbase_connector, "RECORDS_PER_PAGE", 120)
    assert [len(page) for page in pages(connector(), "accounts")] == [120, 120, 60]


def test_an_empty_tenant_yields_nothing(demandbase_app: DemandbaseSandbox) -> None:
    conn = connector(EMPTY_CLIENT_ID, EMPTY_CLIENT_SECRET)
    assert records(conn, "accounts") == []
    assert records(conn, "intent") == []


def test_account_lists_option_narrows_the_export(demandbase_app: DemandbaseSandbox) -> None:
    assert len(records(connector(options={"account_list_ids": "5001"}), "accounts")) == 60


def test_json_lines_results_are_read_too(sandboxes: Sandboxes) -> None:
    sandboxes.serve("demandbase", results_layout="ndjson")
    assert accounts_as_truth(records(connector(), "accounts")) == account_truth(today_utc())


def test_export_polling_survives_throttling_a_5xx_and_an_expired_token(
    demandbase_app: DemandbaseSandbox,
) -> None:
    saved: list[TokenSet] = []
    conn = connector(saved=saved)
    demandbase_app.faults.add("throttle", times=2, path="/data/export/v1/job/")
    demandbase_app.faults.add("server_error", times=1, path="/data/export/v1/job/")
    demandbase_app.faults.add("expire_token", times=1, after=1, path="/data/export/v1/job/")
    assert accounts_as_truth(records(conn, "accounts")) == account_truth(today_utc())
    assert len(saved) == 2 and saved[0].access_token != saved[1].access_token  # re-exchanged once
    assert demandbase_app.faults.pending() == []
    assert state_of(demandbase_app)["counters"]["jobs_created"] == 1


def test_a_timed_out_job_creation_does_not_create_a_second_job(
    demandbase_app: DemandbaseSandbox, settings: Any
) -> None:
    settings.HTTP_READ_TIMEOUT_SECONDS = 0.3
    demandbase_app.faults.add("slow_job_response", seconds=1.0)
    conn = connector()
    assert accounts_as_truth(records(conn, "accounts")) == account_truth(today_utc())
    state = state_of(demandbase_app)
    assert state["counters"]["jobs_created"] == 1 and state["requests"]["create_job"] == 1
    assert state["requests"]["list_jobs"] >= 1  # the job was found by its name
    assert conn.state["export_job_id"] == state["jobs"][0]["jobId"]


def test_a_timed_out_creation_retried_by_a_later_attempt_finds_the_job(
    demandbase_app: DemandbaseSandbox, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first attempt gives up right after the timeout; the retried step adopts the job by name."""
    settings.HTTP_READ_TIMEOUT_SECONDS = 0.3
    monkeypatch.setattr(Connector, "export_timing", ExportTiming(0.5, 0.5, 0.1))
    demandbase_app.faults.add("slow_job_response", seconds=1.0)
    first = connector()
    with pytest.raises(TransientError, match="did not answer in time"):
        records(first, "accounts")
    assert first.state["export_job_pending"] == "sales-dashboard sync-7 accounts"
    monkeypatch.setattr(Connector, "export_timing", ExportTiming(0.01, 0.05, 10.0))
    retry = connector(state=dict(first.state))
    assert accounts_as_truth(records(retry, "accounts")) == account_truth(today_utc())
    assert state_of(demandbase_app)["counters"]["jobs_created"] == 1


def test_a_retried_sync_polls_the_saved_job(demandbase_app: DemandbaseSandbox, settings: Any) -> None:
    settings.HTTP_MAX_ATTEMPTS = 2
    demandbase_app.faults.add("server_error", times=2, path="/data/export/v1/job/")
    first = connector()
    with pytest.raises(TransientError):
        records(first, "accounts")
    job_id = first.state["export_job_id"]
    assert job_id
    retry = connector(state=dict(first.state))
    assert accounts_as_truth(records(retry, "accounts")) == account_truth(today_utc())
    state = state_of(demandbase_app)
    assert state["counters"]["jobs_created"] == 1 and state["requests"]["create_job"] == 1
    assert retry.state["export_job_id"] == job_id


def test_another_running_job_is_waited_for(
    demandbase_app: DemandbaseSandbox, demandbase_sandbox: SandboxServer
) -> None:
    demandbase_app.job_seconds = 0.3
    token = requests.post(
        f"{demandbase_sandbox.url}/auth/v1/token",
        json={
            "grantType": "client_credentials",
            "clientId": SANDBOX_CLIENT_ID,
            "clientSecret": SANDBOX_CLIENT_SECRET,
        },
        timeout=10,
    ).json()["accessToken"]
    other = requests.post(
        f"{demandbase_sandbox.url}/data/export/v1/job",
        json={"entityType": "account", "jobName": "crm sync", "fields": ["{Account}.id"]},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert other.status_code == 202
    assert accounts_as_truth(records(connector(), "accounts")) == account_truth(today_utc())
    state = state_of(demandbase_app)
    assert state["counters"]["jobs_created"] == 2 and state["requests"]["create_job"] == 3


def test_a_job_slot_that_never_frees_is_rate_limited(
    demandbase_app: DemandbaseSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    demandbase_app.job_seconds = 3600
    demandbase_app.job_polls = 1000
    monkeypatch.setattr(Connector, "export_timing", ExportTiming(0.02, 0.05, 0.3))
    blocker = connector(sync_key="sync-1")
    with pytest.raises(TransientError, match="still preparing"):
        records(blocker, "accounts")
    assert blocker.state["export_job_id"]  # kept for the next attempt
    with pytest.raises(RateLimited) as caught:
        records(connector(sync_key="sync-2"), "accounts")
    assert caught.value.code == "429-102" and caught.value.retry_after == 30.0
    state = state_of(demandbase_app)
    assert state["counters"]["jobs_created"] == 1
    assert state["requests"]["create_job"] == 2  # the refused POST was not repeated while the slot was busy
    assert state["requests"]["list_jobs"] >= 2


def test_a_failed_job_is_created_again_once(demandbase_app: DemandbaseSandbox) -> None:
    demandbase_app.faults.add("job_failed", message="Temporary export failure")
    conn = connector()
    with pytest.raises(TransientError, match="Temporary export failure"):
        records(conn, "accounts")
    assert conn.state["export_job_id"] is None and conn.state["export_failures"] == 1
    retry = connector(state=dict(conn.state))
    assert accounts_as_truth(records(retry, "accounts")) == account_truth(today_utc())
    names = [job["jobName"] for job in state_of(demandbase_app)["jobs"]]
    assert names == ["sales-dashboard sync-7 accounts", "sales-dashboard sync-7 accounts retry 1"]


def test_a_job_failing_twice_is_permanent(demandbase_app: DemandbaseSandbox) -> None:
    demandbase_app.faults.add("job_failed", times=2, message="Field not in Export collection")
    conn = connector()
    with pytest.raises(TransientError):
        records(conn, "accounts")
    with pytest.raises(PermanentError, match="failed 2 times.*Field not in Export collection"):
        records(connector(state=dict(conn.state)), "accounts")


def test_a_forgotten_job_id_gets_a_new_job(demandbase_app: DemandbaseSandbox) -> None:
    conn = connector(state={"export_job_id": "0b4c5d9e-gone"})
    assert len(records(conn, "accounts")) == 300
    assert conn.state["export_job_id"] != "0b4c5d9e-gone"


def test_the_daily_export_quota_is_rate_limited_until_midnight(demandbase_app: DemandbaseSandbox) -> None:
    demandbase_app.faults.add("export_quota", path="/data/export/v1/job")
    with pytest.raises(RateLimited, match="24-hour export quota") as caught:
        records(connector(), "accounts")
    assert caught.value.code == "429-101" and (caught.value.retry_after or 0) >= 60


def test_malformed_export_records_are_passed_on(demandbase_app: DemandbaseSandbox) -> None:
    demandbase_app.faults.add("malformed", variant="not_an_object", index=5, path="/downloads/")
    found = records(connector(), "accounts")
    assert found[5] == "corrupt record" and len(found) == 300


def test_a_truncated_result_file_is_downloaded_again(demandbase_app: DemandbaseSandbox) -> None:
    demandbase_app.faults.add("truncated", path="/downloads/")
    assert len(records(connector(), "accounts")) == 300
    assert state_of(demandbase_app)["requests"]["download"] == 2


# --------------------------------------------------------------------------- intent (cursor paging)


def test_intent_is_aggregated_per_account_and_period(demandbase_app: DemandbaseSandbox) -> None:
    win = window()
    found = [r for r in records(connector(), "intent", win) if r["keywords"]]  # intent periods only
    assert intent_as_truth(found) == expected_intent(win)
    assert len(found) == len(expected_intent(win)) > 100
    assert all(win.start <= date.fromisoformat(r["endDate"]) <= win.end for r in found)
    assert all(date.fromisoformat(r["endDate"]).weekday() == 5 for r in found)
    strongest = max(found, key=lambda r: RANK[r["intentStrength"]])
    assert strongest["intentStrength"] == "HIGH"


def test_intent_pages_follow_the_cursor_in_the_body(
    demandbase_app: DemandbaseSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn = connector(options={"keyword_set_ids": "7301,7302"})
    sent: list[dict[str, Any]] = []
    answers: list[Any] = []
    real = conn.client.post_json

    def recording(path: str, **kwargs: Any) -> Any:
        sent.append(dict(kwargs["json"]))
        answers.append(real(path, **kwargs))
        return answers[-1]

    monkeypatch.setattr(conn.client, "post_json", recording)
    win = window()
    assert intent_as_truth(records(conn, "intent", win)) == expected_intent(win, keyword_set_ids=[7301, 7302])
    assert len(sent) == demandbase_app.state()["requests"]["intent_query"] > 3
    assert "pageToken" not in sent[0] and sent[0]["pageSize"] == 100
    assert sent[0]["keywordSetIds"] == [7301, 7302]
    assert sent[0]["startDate"] == (win.start - timedelta(days=6)).isoformat()
    for previous, following in zip(answers, sent[1:], strict=False):
        assert following["pageToken"] == previous["pagination"]["after"]
        assert {k: v for k, v in following.items() if k != "pageToken"} == sent[0]
    assert answers[-1]["pagination"]["after"] is None


def test_keyword_sets_default_to_every_set_of_the_tenant(demandbase_app: DemandbaseSandbox) -> None:
    win = window(14)
    assert intent_as_truth(records(connector(), "intent", win)) == expected_intent(win)
    assert demandbase_app.state()["requests"]["reference"] == 1


def test_more_than_ten_keyword_sets_are_queried_in_groups(
    demandbase_app: DemandbaseSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(demandbase_connector, "INTENT_MAX_FILTER_IDS", 2)
    win = window(14)
    found = records(connector(options={"keyword_set_ids": [7301, 7302, 7303]}), "intent", win)
    assert intent_as_truth(found) == expected_intent(win)


def test_intent_throttled_then_success(demandbase_app: DemandbaseSandbox) -> None:
    demandbase_app.faults.add("throttle", times=2, after=1, path=INTENT)
    win = window(14)
    assert intent_as_truth(records(connector(), "intent", win)) == expected_intent(win)


def test_intent_throttle_that_does_not_clear_is_rate_limited(
    demandbase_app: DemandbaseSandbox, settings: Any
) -> None:
    settings.HTTP_MAX_ATTEMPTS = 3
    demandbase_app.faults.add("throttle", times=10, path=INTENT)
    with pytest.raises(RateLimited) as caught:
        records(connector(), "intent", window(7))
    assert caught.value.code == "429-100"


def test_intent_server_error_then_success(demandbase_app: DemandbaseSandbox) -> None:
    demandbase_app.faults.add("server_error", times=1, after=2, path=INTENT)
    win = window(14)
    assert intent_as_truth(records(connector(), "intent", win)) == expected_intent(win)


def test_intent_token_expiring_mid_pagination_is_exchanged_once_and_saved(
    demandbase_app: DemandbaseSandbox,
) -> None:
    saved: list[TokenSet] = []
    conn = connector(saved=saved)
    conn.refresh_tokens(force=True)
    demandbase_app.faults.add("expire_token", times=1, after=3, path=INTENT)
    win = window()
    assert intent_as_truth(records(conn, "intent", win)) == expected_intent(win)
    assert len(saved) == 2 and saved[0].access_token != saved[1].access_token
    assert saved[1].extra["client_id"] == SANDBOX_CLIENT_ID and saved[1].refresh_token == ""
    assert demandbase_app.state()["counters"]["tokens_issued"] == 2


def test_intent_without_the_permission_is_permanent(demandbase_app: DemandbaseSandbox) -> None:
    conn = connector(EXPORT_ONLY_CLIENT_ID, EXPORT_ONLY_CLIENT_SECRET)
    with pytest.raises(PermanentError, match="403-100.*API key set access") as caught:
        records(conn, "intent", window(7))
    assert caught.value.status == 403


def test_a_rejected_query_is_permanent_with_demandbase_s_message(
    demandbase_app: DemandbaseSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(demandbase_connector, "INTENT_MAX_DAYS", 400)
    with pytest.raises(PermanentError, match=r"400-223\): Date range must be 12 months or less"):
        records(connector(), "intent", window(380))


def test_a_bad_keyword_set_option_is_permanent(demandbase_app: DemandbaseSandbox) -> None:
    with pytest.raises(PermanentError, match="keyword_set_ids"):
        records(connector(options={"keyword_set_ids": "security"}), "intent", window(7))


def test_malformed_intent_rows_are_passed_on_for_quarantine(demandbase_app: DemandbaseSandbox) -> None:
    demandbase_app.faults.add("malformed", variant="missing_company", index=0, path=INTENT)
    found = records(connector(), "intent", window(14))
    assert "companyId" not in found[0] and found[0]["numPeopleResearching"] is not None
    assert all("companyId" in r for r in found[1:])


# --------------------------------------------------------------------------- authentication


def test_check_exchanges_the_key_set_and_names_the_tenant(demandbase_app: DemandbaseSandbox) -> None:
    saved: list[TokenSet] = []
    conn = connector(saved=saved)
    assert conn.check() == "Demandbase northwind"
    assert len(saved) == 1 and saved[0].expires_at is not None
    assert demandbase_app.state()["requests"]["list_jobs"] == 1  # no request went out without a token


@pytest.mark.parametrize("status", [400, 401])
def test_a_revoked_key_set_is_an_auth_error(sandboxes: Sandboxes, status: int) -> None:
    server = sandboxes.serve("demandbase", bad_credentials_status=status)
    server.app.faults.add("revoke_keyset")
    with pytest.raises(AuthError, match="reconnect") as caught:
        connector().refresh_tokens(force=True)
    assert caught.value.status == status and not caught.value.expired
    assert server.app.state()["requests"]["token"] == 1  # refused once, not retried


def test_a_key_set_revoked_mid_sync_is_an_auth_error(demandbase_app: DemandbaseSandbox) -> None:
    conn = connector()
    conn.refresh_tokens(force=True)
    demandbase_app.faults.add("revoke_keyset", path=INTENT)
    with pytest.raises(AuthError, match="API key set"):
        records(conn, "intent", window(7))


def test_without_a_key_set_nothing_is_sent(demandbase_app: DemandbaseSandbox) -> None:
    conn = Connector(account_id="northwind", tokens=TokenSet(extra={"client_id": SANDBOX_CLIENT_ID}))
    with pytest.raises(AuthError, match="client_id and client_secret"):
        conn.check()
    assert demandbase_app.state()["requests"] == {}


def test_a_throttled_job_creation_is_asked_again_without_a_second_job(demandbase_app: DemandbaseSandbox) -> None:
    demandbase_app.faults.add("throttle", times=2, path="/data/export/v1/job")
    assert len(records(connector(), "accounts")) == 300
    state = state_of(demandbase_app)
    assert state["counters"]["jobs_created"] == 1 and state["requests"]["create_job"] == 3
