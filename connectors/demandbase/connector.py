"""Demandbase One (uapi): ABM accounts and intent for the ABM tables.

Two streams:

- ``accounts`` → ``abm_account``: one account export job per sync through the Data Export API (see
  ``connectors.demandbase.export`` for the job protocol and why a retried sync never creates a second
  job), its JSON result file read and reshaped (``connectors.demandbase.results``). The export is a
  snapshot of the tenant's accounts (optionally limited to account lists), not windowed. The job asks
  only for the fields the tenant's field catalogue lists (``connectors.demandbase.catalogue``): the
  others are a note on the run and empty columns; a refusal with ``400-155`` re-reads the catalogue.
- ``engagement`` and ``intent`` → ``abm_engagement_daily``, one row per account per day, each stream
  writing its own columns of those rows (``StreamSpec.columns``): a tenant without the Intent product,
  or an intent read that fails, leaves the day's engagement loaded and the intent figures as they were.
  ``engagement`` is one ``activity`` export job per sync for the window (its last 90 days, the API's
  limit per activity job), its activities summed per account and day (``connectors.demandbase.activity``),
  asking only for the activity fields the tenant's catalogue lists; a tenant that cannot export
  activities by account and day reads none (a note; the engagement columns stay empty). ``intent`` is
  the Intent API's cursor-paged ``POST /data/intent/v1/companies/intent/query`` for the sync window
  (widened by one intent period so a period that started before the window is not missed), filtered
  by keyword sets, aggregated to one record per account per period end date
  (``connectors.demandbase.intent``). Listing the keyword sets answers 403/404 for a tenant or key set
  without Intent: that stream fails alone (the run is partial) and is tried again on the next sync, so
  a tenant that gains Intent has it synced with no change of configuration.

Authentication is the client-credentials exchange of an API key set (``connectors.demandbase.keyset``):
the 8-hour access token is exchanged again when it is about to expire or is refused with 401. The
connection's ``account_id`` is only a label for the tenant (e.g. its Demandbase instance or key set
name): the key set alone decides which tenant's data is read.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import timedelta
from typing import Any, ClassVar

from connectors.auth import OAuthSpec, TokenSet
from connectors.base import ApiVersion, BaseConnector, GrantLifetimes, Option, Page, StreamSpec, Window
from connectors.demandbase import activity, mapping
from connectors.demandbase.catalogue import (
    FIELD_NOT_ENTITLED,
    FIELDS_NOT_AVAILABLE,
    FieldCatalogue,
    choose_fields,
    missing_fields_note,
)
from connectors.demandbase.export import JOBS_PATH, ExportJob, ExportTiming
from connectors.demandbase.intent import intent_periods
from connectors.demandbase.keyset import exchange_key_set
from connectors.demandbase.policy import DemandbaseErrorPolicy, DownloadPolicy
from connectors.demandbase.results import nest_fields
from connectors.errors import MalformedResponse, PermanentError
from connectors.http import ApiClient
from connectors.paginators import CursorPaginator
from connectors.quota import QuotaTerms

logger = logging.getLogger(__name__)

INTENT_PATH = "/data/intent/v1/companies/intent/query"
KEYWORD_SETS_PATH = "/data/export/v1/reference/keywordSet"
INTENT_PAGE_SIZE = 100  # the API's maximum
INTENT_MAX_FILTER_IDS = 10  # keywordSetIds per query
INTENT_MAX_DAYS = 365  # a query spans 12 months at most (400-223)
EXPORT_STREAMS = ("accounts", "engagement")  # each an export job per sync
INTENT_PERIOD_DAYS = 7  # intent periods are weekly windows
RECORDS_PER_PAGE = 1_000  # records per staged page
STATE_ACCOUNT_FIELDS = "account_fields"  # the fields this sync's account export asks for
STATE_FIELDS_NOTE = "account_fields_note"  # the note saying which wanted fields the tenant lacks
STATE_ACTIVITY_EXPORT = "activity_export"  # the activity export job's own state (its id, its name)
STATE_ACTIVITY_NOTE = "activity_fields_note"  # the note saying which activity fields the tenant lacks
ACTIVITY_MAX_DAYS = 90  # an activity export job spans 90 days at most (400-114)


def parse_ids(value: Any, option: str) -> list[int]:
    """Integer ids from an option given as a list or as a comma/space separated string."""
    if value in (None, "", []):
        return []
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value]
    items: Sequence[Any] = re.split(r"[\s,]+", value.strip()) if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise PermanentError(f"The Demandbase option {option} must be a list of numeric ids")
    ids: list[int] = []
    for item in items:
        text = str(item).strip()
        if isinstance(item, bool) or not text.isdigit():
            raise PermanentError(f"The Demandbase option {option} must list numeric ids; {item!r} is not one")
        ids.append(int(text))
    return list(dict.fromkeys(ids))


class Connector(BaseConnector):
    platform = "demandbase"
    display_name = "Demandbase"
    totals_unavailable = (
        "Demandbase's export jobs report no row count or total of their own (only the result file the "
        "sync reads), and the intent query's totalCount counts keyword rows the warehouse keeps as one "
        "row per account and week, so no independent figure matches a warehouse one"
    )
    # Client credentials: no authorization page, no refresh token; "refreshing" re-runs the exchange.
    oauth = OAuthSpec(
        refreshable=True,
    )
    streams = (
        StreamSpec("accounts", "abm_account", mapping.ABM_ACCOUNT),
        StreamSpec(
            "engagement",
            "abm_engagement_daily",
            mapping.ABM_ENGAGEMENT,
            columns=mapping.ENGAGEMENT_COLUMNS,
            shared=mapping.DAILY_SHARED_COLUMNS,
        ),
        StreamSpec(
            "intent",
            "abm_engagement_daily",
            mapping.ABM_INTENT,
            columns=mapping.INTENT_COLUMNS,
            shared=mapping.DAILY_SHARED_COLUMNS,
        ),
    )
    # Only a label of the tenant (the key set is what identifies it); never sent to the API.
    account_id_pattern = r"[A-Za-z0-9][A-Za-z0-9._-]*"
    account_id_format = "a label of letters, digits, '.', '_' and '-', starting with a letter or digit"
    policy = DemandbaseErrorPolicy()
    min_restatement_days = 7
    min_restatement_source = (
        "intent is reported over week-long windows (startDate to endDate), so a day's intent can change "
        "for a week (Demandbase Intent API)"
    )
    account_id_help = "A name for this Demandbase tenant (for your own reference)."
    credential_specs = {
        "client_id": Option("Client ID of a Demandbase API key set (Demandbase One > Settings > API keys)"),
        "client_secret": Option("Client secret of the same API key set", secret=True),
    }
    option_specs = {
        "keyword_set_ids": Option(
            "Intent keyword set ids to sync, comma-separated (default: every keyword set of the tenant)"
        ),
        "account_list_ids": Option(
            "Export only the accounts of these account lists, comma-separated ids (default: all accounts)"
        ),
    }
    # Export job polling: first wait, longest wait, and how long one attempt waits in all.
    export_timing: ClassVar[ExportTiming] = ExportTiming()

    @classmethod
    def api_version(cls) -> ApiVersion:
        return ApiVersion("v1", None, "Demandbase has announced no end of service for the uapi v1 endpoints")

    daily_quota = QuotaTerms(
        unit="export jobs",
        holder="Demandbase tenant",
        rolling=False,
        source="Demandbase rate limits: 60 export jobs created per day per tenant, reset at midnight UTC",
    )

    @classmethod
    def call_cost(cls, what: str) -> int:
        """Only creating an export job counts: the scarcest of the Data Export API's daily limits."""
        return 1 if what.startswith("POST ") and what.endswith("/job") else 0

    # One export job each for accounts and engagement per read; intent's queries are not counted.
    estimate_is_exact = True

    @classmethod
    def estimate_calls(cls, window: Window, *, last_state: Mapping[str, Any], first: bool = True) -> int:
        return sum(1 for stream in cls.streams if stream.name in EXPORT_STREAMS)

    @classmethod
    def grant_lifetimes(cls) -> GrantLifetimes:
        # The key set is exchanged for a token that lives 8 hours; the key set itself lasts until
        # it is deleted (Demandbase One API docs, "Authentication").
        return GrantLifetimes(timedelta(hours=8), None, "Demandbase API authentication: 8-hour tokens")

    def base_url(self) -> str:
        return str(self.setting("API_BASE_URL")).rstrip("/")

    def refresher(self) -> Callable[[TokenSet], TokenSet] | None:
        return exchange_key_set

    # -- the contract ---------------------------------------------------------------------------
    def check(self) -> str:
        self.refresh_tokens()
        self.client.get_json(JOBS_PATH, params={"page": 1, "perPage": 1})
        return f"Demandbase {self.account_id}"

    def extract(self, stream: StreamSpec, window: Window) -> Iterator[Page]:
        """Not declared streams: accounts and engagement are export jobs (create, poll, download a
        result file), and intent's pages are summed into periods before any is handed on."""
        self.refresh_tokens()
        if stream.name == "accounts":
            yield from self._accounts()
        elif stream.name == "engagement":
            yield from self._engagement(window)
        elif stream.name == "intent":
            yield from self._intent(window)
        else:
            raise PermanentError(f"Demandbase has no stream {stream.name!r}")

    # -- accounts -------------------------------------------------------------------------------
    def _accounts(self) -> Iterator[Page]:
        records = self._account_records()
        for start in range(0, len(records), RECORDS_PER_PAGE):
            yield [nest_fields(r, mapping.ACCOUNT_ENTITY) for r in records[start : start + RECORDS_PER_PAGE]]

    def _account_records(self) -> list[Any]:
        fields = self._account_fields()
        try:
            return self._export_accounts(fields)
        except PermanentError as exc:
            if exc.code not in (FIELDS_NOT_AVAILABLE, FIELD_NOT_ENTITLED):
                raise
            refused = exc
        # The tenant's entitlements changed since the catalogue was read: read it again, ask once more.
        again = self._account_fields(fresh=True)
        if again == fields:
            raise PermanentError(
                f"{refused.message}. Demandbase's field catalogue for this tenant still lists every "
                f"field asked for ({', '.join(fields)}); check the Export collection of the connection's "
                "API key set with Demandbase support.",
                status=refused.status,
                code=refused.code,
            )
        return self._export_accounts(again)

    def field_catalogue(self, entity: str) -> FieldCatalogue:
        """The tenant's export field catalogue, cached per tenant (API host and key set)."""
        client_id = str(self.auth.tokens.extra.get("client_id") or self.account_id)
        return FieldCatalogue(self.client, entity=entity, tenant_key=f"{self.base_url()}|{client_id}")

    def _replace_note(self, key: str, note: str | None) -> None:
        """Keep one note per ``key`` on the run: the latest (or none)."""
        previous = self.state.get(key)
        notes = [n for n in self.state.get("notes", []) if n != previous]
        if note is not None and note not in notes:
            notes.append(note)
        self.save_state(**{key: note, "notes": notes})

    def _account_fields(self, *, fresh: bool = False) -> list[str]:
        """The wanted account fields the tenant has; the others are noted once on the run."""
        saved = self.state.get(STATE_ACCOUNT_FIELDS)
        if not fresh and isinstance(saved, list) and saved:  # a retried attempt asks for the same
            return [str(name) for name in saved]
        available = self.field_catalogue("account").names(fresh=fresh)
        choice = choose_fields(
            mapping.ACCOUNT_EXPORT_FIELDS,
            mapping.REQUIRED_ACCOUNT_FIELDS,
            available,
            mapping.ACCOUNT_FIELD_LABELS,
        )
        note = missing_fields_note(choice.missing, mapping.ACCOUNT_FIELD_LABELS)
        previous = self.state.get(STATE_FIELDS_NOTE)
        notes = [n for n in self.state.get("notes", []) if n != previous]
        if note is not None and note not in notes:
            notes.append(note)
        self.save_state(
            **{STATE_ACCOUNT_FIELDS: list(choice.requested), STATE_FIELDS_NOTE: note, "notes": notes}
        )
        return list(choice.requested)

    def _export_accounts(self, fields: list[str]) -> list[Any]:
        return self._export_job("account", fields, "accounts", self.state, self.save_state).records()

    def _export_job(
        self,
        entity: str,
        fields: list[str],
        what: str,
        state: dict[str, Any],
        save_state: Callable[..., None],
        **dates: str,
    ) -> ExportJob:
        """An export job of ``entity`` rows with ``fields`` (limited to the connection's account
        lists, if any), named for this sync and ``what``, remembered in ``state``."""
        request: dict[str, Any] = {"entityType": entity, "fields": fields, **dates, "format": "JSON"}
        lists = parse_ids(self.options.get("account_list_ids"), "account_list_ids")
        if lists:
            request["accountListIds"] = lists
        return ExportJob(
            client=self.client,
            downloads=self._downloads_client(),
            request=request,
            base_name=self._job_base_name(what),
            state=state,
            save_state=save_state,
            timing=self.export_timing,
            sleep=self.client.sleep,
        )

    def _downloads_client(self) -> ApiClient:
        """For the signed result link: it carries its own authorization, so no bearer token is sent."""
        return ApiClient(
            base_url=self.base_url(),
            auth=None,
            policy=DownloadPolicy(),
            platform=self.platform,
            headers={"Accept": "application/json, application/x-ndjson"},
            sleep=self.client.sleep,
        )

    def _job_base_name(self, what: str) -> str:
        key = self.sync_key
        if not key:  # outside a sync (a manual run): still unique, and stable across attempts
            key = str(self.state.get("export_name_key") or f"run-{uuid.uuid4().hex[:10]}")
            self.save_state(export_name_key=key)
        return f"sales-dashboard {key} {what}"

    # -- intent ---------------------------------------------------------------------------------
    def _intent(self, window: Window) -> Iterator[Page]:
        set_ids = self._keyword_set_ids()
        if not set_ids:
            logger.warning("demandbase.no_keyword_sets", extra={"account_id": self.account_id})
        # A period ending inside the window may have started up to six days before it.
        rows: list[Any] = []
        if set_ids:
            query = Window(window.start - timedelta(days=INTENT_PERIOD_DAYS - 1), window.end)
            for part in query.split(INTENT_MAX_DAYS):
                for first in range(0, len(set_ids), INTENT_MAX_FILTER_IDS):
                    rows.extend(self._intent_rows(part, set_ids[first : first + INTENT_MAX_FILTER_IDS]))
        unreadable, periods = intent_periods(rows, window.start, window.end)
        yield from _pages([*unreadable, *periods])

    # -- activity (daily engagement) ------------------------------------------------------------
    def _engagement(self, window: Window) -> Iterator[Page]:
        """The activity export of the window's last 90 days, summed per account and day."""
        fields = self._activity_fields()
        if not fields:
            return
        part = Window(max(window.start, window.end - timedelta(days=ACTIVITY_MAX_DAYS - 1)), window.end)
        if part.start > window.start:
            self.note(
                f"Demandbase: daily engagement was read for the last {ACTIVITY_MAX_DAYS} days of the sync "
                f"window (from {part.start.isoformat()}): an activity export spans {ACTIVITY_MAX_DAYS} days "
                "at most."
            )
        saved = dict(self.state.get(STATE_ACTIVITY_EXPORT) or {})

        def save(**changes: Any) -> None:
            saved.update(changes)
            self.save_state(**{STATE_ACTIVITY_EXPORT: dict(saved)})

        job = self._export_job(
            "activity", fields, "activities", saved, save, fromDate=part.start.isoformat(), toDate=part.end.isoformat()
        )
        unreadable, days = activity.daily_engagement(job.records(), part.start, part.end, fields)
        yield from _pages([*unreadable, *days.values()])

    def _activity_fields(self) -> list[str]:
        """The wanted activity fields the tenant has; none when it cannot export activities by day."""
        available = self.field_catalogue("activity").names()
        labels = activity.ACTIVITY_FIELD_LABELS
        absent = [name for name in activity.REQUIRED_ACTIVITY_FIELDS if name not in available]
        if absent:
            named = " and ".join(labels[name] for name in absent)
            self._replace_note(
                STATE_ACTIVITY_NOTE,
                f"Demandbase: this tenant cannot export activities with their {named}, so no daily "
                "engagement was read; the engagement columns of the daily ABM table stay empty.",
            )
            return []
        choice = choose_fields(activity.ACTIVITY_EXPORT_FIELDS, (), available, labels)
        note = missing_fields_note(choice.missing, labels)
        self._replace_note(
            STATE_ACTIVITY_NOTE, note and note.replace("tenant has no", "tenant has no activity", 1)
        )
        return list(choice.requested)

    def _intent_rows(self, part: Window, set_ids: list[int]) -> Iterator[Any]:
        body = {
            "keywordSetIds": set_ids,
            "startDate": part.start.isoformat(),
            "endDate": part.end.isoformat(),
            "sortBy": "endDate",
            "sortOrder": "ASC",
        }
        paginator = CursorPaginator(token_path=("pagination", "after"), page_size=INTENT_PAGE_SIZE)
        for answer in self.client.paginate(INTENT_PATH, paginator, json_body=body):
            data = answer.get("data") if isinstance(answer, dict) else None
            if not isinstance(data, list):
                raise MalformedResponse("Demandbase's intent answer has no data list")
            yield from data

    def _keyword_set_ids(self) -> list[int]:
        configured = parse_ids(self.options.get("keyword_set_ids"), "keyword_set_ids")
        return configured or self._tenant_keyword_sets()

    def _tenant_keyword_sets(self) -> list[int]:
        """Every keyword set of the tenant, from the Export API's keywordSet reference data."""
        try:
            body = self.client.get_json(KEYWORD_SETS_PATH)
        except PermanentError as exc:
            if exc.status in (403, 404):  # the tenant has no Intent product, or the key set no access
                raise PermanentError(
                    f"{exc.message}. This Demandbase tenant or API key set has no access to Intent, "
                    "so no intent data can be synced for it.",
                    status=exc.status,
                    code=exc.code,
                ) from None
            raise PermanentError(
                f"{exc.message}. Could not list the tenant's intent keyword sets: set the connection "
                "option keyword_set_ids to the ids of the keyword sets to sync.",
                status=exc.status,
                code=exc.code,
            ) from None
        items = body.get("data") if isinstance(body, dict) else None
        ids: list[int] = []
        for item in items if isinstance(items, list) else []:
            value = item.get("id", item.get("keywordSetId")) if isinstance(item, dict) else None
            if isinstance(value, int) and not isinstance(value, bool):
                ids.append(value)
            elif isinstance(value, str) and value.isdigit():
                ids.append(int(value))
        return list(dict.fromkeys(ids))


def _pages(records: list[Any]) -> Iterator[Page]:
    for start in range(0, len(records), RECORDS_PER_PAGE):
        yield records[start : start + RECORDS_PER_PAGE]
