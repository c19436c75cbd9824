"""Google Ads: campaign × day performance through the official client library (gRPC, GAQL).

One stream, ``campaign_performance``, feeds the ad performance table. Each sync:

1. lists the customers the authorizing Google user can open (``ListAccessibleCustomers``) and
   checks that the connection's account, or the manager it is reached through, is one of them;
2. reads the account (``FROM customer``). A manager (MCC) account cannot report metrics itself:
   the connector lists every account under it (``FROM customer_client``, sent with
   ``login-customer-id`` = the manager) and reports each client that is not itself a manager and
   is ENABLED; cancelled, suspended and closed clients are skipped and recorded in the run's state;
3. streams the campaign report per account (``SearchStream``) for the window, 30 days per query.

A stream is read whole before its rows are handed on, so a stream cut by an expired token, a
throttle or a server error is asked again from the start without duplicating rows. Failures are
mapped by ``errors.py``, then the shared client's policy applies (``ApiClient.run``): an expired
access token is refreshed once and the call repeated, and the bounded backoff covers transient
errors and short throttles.

Per connection: ``login_customer_id`` (the manager's id) when the account is reached through a
manager; the restatement window is ``GOOGLE_ADS_RESTATEMENT_DAYS`` (14) unless the connection's
``restatement_days`` says otherwise (conversions keep arriving for up to 90 days).

Metrics a campaign type or an account does not have. Google Ads treats them in two ways:

- The whole query is refused. A metric Google cannot compute for the resource in FROM, or for a
  selected field or segment, fails the query with INVALID_ARGUMENT and the QueryError
  ``PROHIBITED_METRIC_IN_SELECT_OR_WHERE_CLAUSE`` (since v23 also
  ``PROHIBITED_FIELD_OR_SEGMENT_WITH_METRIC``); the message quotes each metric ("Cannot select or
  filter on the following metrics: 'conversions' (could not support requested resources: ...),
  since metric is incompatible with the resource in the FROM clause or other selected segmenting
  resources"). No row comes back, so the report is asked again without the quoted metrics, once per
  account and sync: the refusal is remembered in the run's state (``unavailable_metrics``), so later
  windows and a retried attempt leave them out from the start.
- The rows come back without it. Every metric is a proto3 ``optional`` field (explicit presence):
  a metric Google reports as zero is present with 0 (REST JSON ``"clicks": "0"``), while a metric it
  does not report for a row (one that does not apply to the campaign's type or network) is simply
  absent: the key is missing from the REST JSON, the field unset in the library's message (video
  metrics asked of a search ad group come back that way, beside zero clicks that are present).
  Absent is not zero.

Either way the metric's column (conversions, conversion value, view-through conversions) stays
NULL for those rows, never 0, the rest loads, and the run gets one note in plain words naming the
metric and the campaign type or account. Google documents no list of which metric each campaign
type leaves out, so the connector presumes none: it reads what each row carries. Impressions,
clicks and cost are another matter: a row or an account without one cannot be loaded, and that is a
PermanentError naming the metric.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from connectors import progress
from connectors.auth import OAuthSpec
from connectors.base import (
    ApiVersion,
    BaseConnector,
    GrantLifetimes,
    Option,
    Page,
    PlatformTotal,
    StreamSpec,
    Window,
)
from connectors.errors import PermanentError
from connectors.google_ads import API_VERSION, errors, gaql, mapping, records
from connectors.google_ads.records import Account, format_customer_id
from connectors.google_ads.session import AdsSession
from connectors.http import ApiClient
from connectors.quota import QuotaTerms

T = TypeVar("T")

DAYS_PER_QUERY = 30
STREAM_TIMEOUT_SECONDS = 900.0  # the deadline of one whole SearchStream
CALL_TIMEOUT_SECONDS = 120.0


def customer_id_from(raw: Any, what: str) -> str:
    """Digits only, as the API wants them (``123-456-7890`` → ``1234567890``)."""
    digits = str(raw or "").replace("-", "").replace(" ", "").strip()
    if len(digits) != 10 or not digits.isdigit():
        raise PermanentError(
            f"The {what} must be a Google Ads customer id: 10 digits, shown as 123-456-7890 in Google Ads "
            f"(got {raw!r})."
        )
    return digits


@dataclass
class SyncPlan:
    """Which accounts one sync reports on, and through which manager."""

    login_customer_id: str | None
    accounts: list[Account]
    skipped: list[Account] = field(default_factory=list)


class Connector(BaseConnector):
    platform = "google_ads"
    display_name = "Google Ads"
    oauth = OAuthSpec(
        scopes=(mapping.ADWORDS_SCOPE,),
        extra_authorize_params={"access_type": "offline", "prompt": "consent"},
    )
    streams = (StreamSpec(mapping.STREAM, "ad_performance_daily", mapping.AD_PERFORMANCE_DAILY),)
    # Stored as the 10 digits the API wants, however it was typed (123-456-7890 is the same account).
    account_id_pattern = r"[0-9]{10}"
    account_id_format = "10 digits, shown as 123-456-7890 in Google Ads"
    # Conversions are credited for up to 90 days (the longest conversion window); a connection's
    # restatement_days beyond that gains nothing. Not yet read by the pipeline.
    max_restatement_days = 90
    min_restatement_days = 14
    min_restatement_source = (
        "conversions are credited to the click date for the whole conversion window; re-read at least 14 "
        "days (support.google.com/google-ads/answer/3123169; Airbyte's conversion_window_days default)"
    )
    account_id_help = "The Google Ads customer id (123-456-7890 or digits only)."
    # A backfill goes one report query per account and 30 days, the newest first.
    backfill_slice_days = DAYS_PER_QUERY
    estimate_is_exact = True
    credential_specs = {
        "refresh_token": Option(
            "OAuth refresh token of a Google user with access to the account (scope adwords, offline "
            "access); Google does not rotate it",
            secret=True,
        ),
        "access_token": Option(
            "OAuth access token (1 hour); optional, a fresh one is obtained from the refresh token", secret=True
        ),
    }
    option_specs = {
        "login_customer_id": Option(
            "Manager (MCC) account id the account is reached through, digits or 123-456-7890; a connection "
            "to a manager account syncs every enabled client account under it",
            label="Manager account id (optional)",
            primary=True,
        ),
    }

    # -- set-up -------------------------------------------------------------------------------------

    @classmethod
    def api_version(cls) -> ApiVersion:
        # Versions live about a year; v26's sunset is projected, not yet published.
        return ApiVersion(
            API_VERSION, date(2027, 11, 1), "projected: developers.google.com/google-ads/api/docs/sunset-dates"
        )

    # Since 2026-09-09 the access level belongs to the Google Cloud project of the OAuth client:
    # Basic 15,000 operations a day, Explorer 2,880, Standard unlimited. One Search or
    # SearchStream query is one operation, however many rows or pages it returns.
    daily_quota = QuotaTerms(
        unit="operations",
        holder="Google Cloud project",
        rolling=True,
        source="developers.google.com/google-ads/api/docs/api-policy/access-levels and rate-sheet",
    )

    @classmethod
    def quota_label(cls, account_id: str) -> str:
        return f"OAuth client {cls.setting('CLIENT_ID') or '(not set)'}"

    @classmethod
    def estimate_calls(cls, window: Window, *, last_state: Mapping[str, Any], first: bool = True) -> int:
        """The discovery calls (accessible customers, the account, its clients when a manager) once
        per read, then one query per reported account and 30 days, as the latest sync found them."""
        discovery = int(last_state.get("discovery_calls", 2)) if first else 0
        accounts = max(1, len(last_state.get("reported_accounts", [])))
        return discovery + accounts * len(window.split(DAYS_PER_QUERY))

    @classmethod
    def grant_lifetimes(cls) -> GrantLifetimes:
        # Access tokens live 1 hour; a refresh token lasts until revoked, except that an app whose
        # OAuth consent screen is in "Testing" status gets refresh tokens that expire after 7 days
        # (developers.google.com/identity/protocols/oauth2, "Refresh token expiration").
        if int(cls.setting("OAUTH_APP_IN_TESTING")):
            return GrantLifetimes(timedelta(hours=1), timedelta(days=7), "Google OAuth: apps in testing, 7 days")
        return GrantLifetimes(timedelta(hours=1), None, "Google OAuth: published apps, until revoked")

    def base_url(self) -> str:
        return str(self.setting("API_BASE_URL"))

    def build_client(self) -> ApiClient:
        """The library's gRPC session carries every Google Ads call; the shared client wraps each in
        its refresh-once and bounded retries (``_call``), and sends no request of its own."""
        self.ads = AdsSession()
        return super().build_client()

    @classmethod
    def canonical_account_id(cls, raw: str) -> str:
        return str(raw).replace("-", "").replace(" ", "").strip()

    @property
    def customer_id(self) -> str:
        return customer_id_from(self.account_id, "account id")

    def login_customer_id(self) -> str | None:
        raw = self.options.get("login_customer_id")
        return customer_id_from(raw, "login_customer_id option") if raw not in (None, "") else None

    # -- the contract ---------------------------------------------------------------------------------
    def check(self) -> str:
        try:
            account = self.account(self.customer_id, self.login_customer_id())
        finally:
            self.ads.close()
        name = account.name or f"Google Ads {format_customer_id(account.id)}"
        return f"{name} (manager)" if account.manager else name

    def extract(self, stream: StreamSpec, window: Window) -> Iterator[Page]:
        """Not a declared stream: reports go through the library's gRPC ``SearchStream``, per account
        of the sync's plan and per 30 days."""
        lacking: dict[str, set[str | None]] = {}  # optional metric → campaign types whose rows lack it
        try:
            plan = self.plan()
            for account in plan.accounts:
                for part in window.split(DAYS_PER_QUERY):
                    yield from self.report(account, part, plan.login_customer_id, lacking)
        finally:
            self.ads.close()
        for note in unreported_notes(lacking):
            self.note_once(note)

    # -- discovery ------------------------------------------------------------------------------------
    def plan(self) -> SyncPlan:
        """The accounts this sync reports on; found once per connector (one extract step), however
        many windows it reads."""
        found: SyncPlan | None = getattr(self, "_plan", None)
        if found is None:
            found = self._plan = self._discover()
            self.save_state(
                reported_accounts=[a.id for a in found.accounts],
                discovery_calls=self._discovery_calls,
            )
        return found

    def _discover(self) -> SyncPlan:
        login = self.login_customer_id()
        entry = login or self.customer_id
        if entry not in self.accessible_customers():
            raise PermanentError(errors.no_access_message(entry, login, self.customer_id))
        account = self.account(self.customer_id, login)
        self._discovery_calls = 2
        if not account.manager:
            return SyncPlan(login, [account])
        self._discovery_calls = 3  # and the list of its clients
        login = login or account.id
        clients = [c for c in self.clients(account.id, login) if c.id != account.id and not c.manager]
        synced = [c for c in clients if c.status == mapping.SYNCED_CLIENT_STATUS]
        skipped = [c for c in clients if c.status != mapping.SYNCED_CLIENT_STATUS]
        self.save_state(skipped_clients=[c.as_dict() for c in skipped])
        for client in skipped:
            self.note_once(f"Skipped Google Ads client {client.label}: the account is {client.status}")
        return SyncPlan(login, synced, skipped)

    def accessible_customers(self) -> set[str]:
        def call() -> set[str]:
            response = self.ads.customers().list_accessible_customers(
                request={}, timeout=CALL_TIMEOUT_SECONDS
            )
            return {name.rsplit("/", 1)[-1] for name in response.resource_names}

        return self._call(call, "ListAccessibleCustomers", errors.CallContext(self.customer_id))

    def account(self, customer_id: str, login: str | None) -> Account:
        rows = self._search(customer_id, login, gaql.account())
        if not rows:
            raise PermanentError(f"Google Ads returned nothing for account {format_customer_id(customer_id)}")
        return records.account_from_customer(rows[0])

    def clients(self, manager_id: str, login: str) -> list[Account]:
        return [records.account_from_client(row) for row in self._search(manager_id, login, gaql.clients())]

    # -- reporting ------------------------------------------------------------------------------------
    def report(
        self,
        account: Account,
        window: Window,
        login: str | None,
        lacking: dict[str, set[str | None]] | None = None,
    ) -> list[Page]:
        """The campaign report of one account for one window, one page per stream batch.

        Metrics the account refused earlier in this sync are not asked for; a refusal now drops the
        refused metrics and asks once more. ``lacking`` collects the optional metrics some rows came
        without, by campaign type; a row without a required metric is a PermanentError.
        """
        while True:
            without = self.unavailable_metrics(account.id)
            try:
                pages = self._report_pages(account.id, gaql.campaign_report(window, without), login)
            except errors.MetricsRefused as exc:
                self._drop_refused_metrics(account, exc, without)
                continue
            break
        absent = absent_metrics(pages)
        required = [name for name in mapping.REQUIRED_METRICS if name in absent]
        if required:
            raise PermanentError(
                _required_rows_message(account, required, absent), code="required_metric_missing"
            )
        if lacking is not None:
            for name, kinds in absent.items():
                if name in mapping.OPTIONAL_METRICS and name not in without:
                    lacking.setdefault(name, set()).update(kinds)
        return pages

    def _report_pages(self, customer_id: str, query: str, login: str | None) -> list[Page]:
        def call() -> list[Page]:
            batches = self.ads.google_ads(login).search_stream(
                customer_id=customer_id, query=query, timeout=STREAM_TIMEOUT_SECONDS
            )
            pages: list[Page] = []
            for batch in batches:  # a long report streams for a while: each batch is progress
                pages.append([records.campaign_record(row) for row in batch.results])
                progress.beat()
            return pages

        pages = self._call(call, f"SearchStream {customer_id}", errors.CallContext(customer_id, login))
        return [page for page in pages if page]

    # -- reconciliation -------------------------------------------------------------------------------
    def platform_totals(self, window: Window) -> list[PlatformTotal]:
        """Each reported account's own totals over the window (``FROM customer``, the same days in
        the account's time zone and the same campaigns as the report), added up per currency.
        Metrics the account refused in this sync are not asked for."""
        sums: dict[tuple[str, str], Decimal] = {}
        accounts: dict[str, list[str]] = {}
        try:
            plan = self.plan()
            for account in plan.accounts:
                without = tuple(n for n in self.unavailable_metrics(account.id) if n in mapping.TOTALS_COLUMNS)
                rows = self._search(account.id, plan.login_customer_id, gaql.account_totals(window, without))
                for row in rows:
                    currency = str(row.customer.currency_code)
                    accounts.setdefault(currency, []).append(account.label)
                    for name in mapping.TOTALS_COLUMNS:
                        if name in without:
                            continue
                        found = records.value(row.metrics, name)
                        amount = Decimal(str(found or 0))
                        if name == "cost_micros":
                            amount = amount / 1_000_000
                        sums[(currency, name)] = sums.get((currency, name), Decimal(0)) + amount
        finally:
            self.ads.close()
        return [
            PlatformTotal(
                "ad_performance_daily",
                mapping.TOTALS_COLUMNS[name],
                amount,
                currency=currency,
                scope=f"account {', '.join(accounts[currency])} (FROM customer), every campaign",
            )
            for (currency, name), amount in sums.items()
        ]

    def unavailable_metrics(self, customer_id: str) -> tuple[str, ...]:
        """The metrics this account refused earlier in this sync (remembered in the run's state)."""
        return tuple(self.state.get("unavailable_metrics", {}).get(customer_id, ()))

    def _drop_refused_metrics(
        self, account: Account, exc: errors.MetricsRefused, without: tuple[str, ...]
    ) -> None:
        """Remember the optional metrics the account refused, with a note; a refused required metric,
        or a refusal naming nothing left to drop, is the PermanentError it is."""
        required = [name for name in exc.metrics if name in mapping.REQUIRED_METRICS]
        if required:
            named = _listed([f"{mapping.REQUIRED_METRICS[n]} (metrics.{n})" for n in required])
            raise PermanentError(
                f"Google Ads refused {named} in the campaign report of account {account.label}, and every "
                f"row of the ad performance table needs it, so this account's report cannot be loaded. "
                f"{exc.said}",
                status=exc.status,
                code=exc.code,
            ) from None
        dropped = [n for n in mapping.OPTIONAL_METRICS if n in exc.metrics and n not in without]
        if not dropped:
            raise exc
        known = dict(self.state.get("unavailable_metrics", {}))
        known[account.id] = [n for n in mapping.REPORT_METRICS if n in (*without, *dropped)]
        self.save_state(unavailable_metrics=known)
        labels = [mapping.OPTIONAL_METRICS[n] for n in dropped]
        self.note_once(
            f"Google Ads: account {account.label} does not report {_listed(labels)} (Google refused "
            f"{_listed([f'metrics.{n}' for n in dropped])} in its report query); those figures stay empty "
            "for its campaigns."
        )

    def _search(self, customer_id: str, login: str | None, query: str) -> list[Any]:
        def call() -> list[Any]:
            batches = self.ads.google_ads(login).search_stream(
                customer_id=customer_id, query=query, timeout=CALL_TIMEOUT_SECONDS
            )
            return [row for batch in batches for row in batch.results]

        return self._call(call, f"SearchStream {customer_id}", errors.CallContext(customer_id, login))

    # -- calling the library --------------------------------------------------------------------------
    def _call(self, call: Callable[[], T], what: str, context: errors.CallContext) -> T:
        """One library call with the current token, its errors mapped, under the shared client's
        policy (one refresh on an expired token, bounded retries)."""

        def once() -> T:
            self.refresh_tokens()  # a missing token, or one about to expire during a long sync
            self.ads.use_token(self.auth.tokens.access_token)
            try:
                return call()
            except Exception as exc:
                error = errors.translate(exc, context)
                if error is None:
                    raise
                raise error from None

        return self.client.run(once, what=what)


def absent_metrics(pages: list[Page]) -> dict[str, set[str | None]]:
    """Report metrics some records came without (None), with the campaign types of those records."""
    absent: dict[str, set[str | None]] = {}
    for page in pages:
        for record in page:
            for name, found in record["metrics"].items():
                if found is None:
                    absent.setdefault(name, set()).add(record["campaign"]["advertising_channel_type"])
    return absent


def campaign_types(kinds: set[str | None]) -> str:
    """``{"PERFORMANCE_MAX", "VIDEO"}`` → "Performance Max and Video campaigns"."""
    names = sorted(
        mapping.CAMPAIGN_TYPE_LABELS.get(kind, kind.replace("_", " ").title()) for kind in kinds if kind
    )
    if None in kinds:
        names.append("some other" if names else "some")
    return f"{_listed(names)} campaigns"


def unreported_notes(lacking: dict[str, set[str | None]]) -> list[str]:
    """In plain words: which optional metrics which campaign types' rows did not have (left empty).
    Metrics missing for the same campaign types share one note."""
    by_kinds: dict[frozenset[str | None], list[str]] = {}
    for name in mapping.OPTIONAL_METRICS:
        if lacking.get(name):
            by_kinds.setdefault(frozenset(lacking[name]), []).append(mapping.OPTIONAL_METRICS[name])
    notes = []
    for kinds, labels in by_kinds.items():
        verb = "is" if labels == ["conversion value"] else "are"
        notes.append(
            f"Google Ads: {_listed(labels)} {verb} not reported for {campaign_types(set(kinds))}; "
            "those figures stay empty."
        )
    return notes


def _required_rows_message(account: Account, required: list[str], absent: dict[str, set[str | None]]) -> str:
    named = _listed([f"{mapping.REQUIRED_METRICS[n]} (metrics.{n})" for n in required])
    kinds = set().union(*(absent[n] for n in required))
    return (
        f"Google Ads returned rows of {campaign_types(kinds)} without {named} for account {account.label}; "
        "every row of the ad performance table needs it, so this report cannot be loaded."
    )


def _listed(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
