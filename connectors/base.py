"""The connector contract.

A connector declares its platform slug, OAuth spec and streams (each with the canonical dataset it
feeds, a field mapping that is pure data and, where the API allows, its endpoint: path, params,
records path and paginator). ``BaseConnector.extract`` is the one loop that reads a declared stream
for a date window, with small hooks for what a platform adds (params found at run time, annotating
records, notes); a platform whose API is not a paged listing overrides it. The shared client
(``connectors.http.ApiClient``) is built for it from the connection's tokens; it yields plain
records, page by page, and raises only ``connectors.errors`` types. It knows nothing of pandas or
warehouse tables.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, ClassVar

from django.conf import settings
from django.core.exceptions import ValidationError

from connectors.auth import OAuthSpec, TokenAuth, TokenSet, refresh_token_set
from connectors.concurrency import ConcurrencyLimit
from connectors.errors import MalformedResponse
from connectors.http import ApiClient, ErrorPolicy
from connectors.paginators import Paginator, dig
from connectors.platform_settings import prefix, value
from connectors.quota import Credential, QuotaBudget, QuotaTerms
from connectors.redaction import redact

ACCOUNT_ID_MAX_LENGTH = 64  # Connection.account_id

Record = dict[str, Any]
Page = list[Record]


@dataclass(frozen=True)
class Field:
    """Where a canonical column comes from in a raw record, and how to read it.

    ``path`` is dotted; a numeric part indexes a list (``pivotValues.0``). ``convert`` names one of
    the normalizer's converters: str, int, number, decimal, micros, date, ymd, datetime, urn_id,
    bool. ``required`` fields that are missing or unreadable send the record to quarantine.
    """

    path: str
    convert: str = "str"
    required: bool = False


@dataclass(frozen=True)
class Option:
    """A credential or an option a connection of the platform takes, as the connect form shows it.

    ``choices`` (value, label) limit it to a fixed set (an empty value means the default); a
    ``secret`` one is typed in a password field and never shown again; a ``primary`` option is shown
    up front, the others under "Advanced settings".
    """

    help: str
    label: str = ""  # default: the key in words ("login_customer_id" → "Login customer id")
    choices: tuple[tuple[str, str], ...] = ()
    secret: bool = False
    primary: bool = False

    def label_for(self, key: str) -> str:
        return self.label or key.replace("_", " ").capitalize()


@dataclass(frozen=True)
class StreamSpec:
    """A stream: the canonical dataset it feeds, the mapping of its records to that dataset's columns,
    and, where the API allows, its endpoint declared as data.

    Most streams own whole rows of their dataset. When two streams of a connector feed the same rows
    (one product's figures beside another's, e.g. ABM engagement and intent per account and day),
    each declares ``columns``: the columns it writes besides the natural key. It fails, loads and
    clears only those, so one stream's failure leaves the other's figures as they were. ``shared``
    columns (descriptive, e.g. a domain) are written by several such streams: set when a stream
    brings a value, never cleared by one.
    """

    name: str
    dataset: str  # the canonical dataset (warehouse table contract) the stream feeds
    mapping: Mapping[str, Field] = field(default_factory=dict)
    columns: tuple[str, ...] = ()  # the dataset columns this stream writes; empty: whole rows
    shared: tuple[str, ...] = ()  # descriptive columns other streams of the same rows write too
    # Where the API allows, the endpoint as data, read by ``BaseConnector.extract``: the path (below
    # the API base), fixed query parameters, where the records are in an answer, and how it pages (a
    # factory given this stream, called afresh for each read). No path: the connector reads it itself.
    path: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)
    records_path: tuple[str, ...] = ()
    paginator: Callable[[StreamSpec], Paginator] | None = None


@dataclass(frozen=True)
class Window:
    """An inclusive range of dates."""

    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def split(self, days: int) -> list[Window]:
        days = max(1, days)
        parts, cursor = [], self.start
        while cursor <= self.end:
            last = min(self.end, cursor + timedelta(days=days - 1))
            parts.append(Window(cursor, last))
            cursor = last + timedelta(days=1)
        return parts

    def halves(self) -> tuple[Window, Window]:
        middle = self.start + timedelta(days=self.days // 2 - 1)
        return Window(self.start, middle), Window(middle + timedelta(days=1), self.end)


@dataclass(frozen=True)
class PlatformTotal:
    """A total the platform itself reports for a sync window (an account-level or un-pivoted query,
    a report list's own count), to be set beside the warehouse's sum of the same rows.

    ``metric`` is a column of ``dataset`` (summed) or ``ROWS`` (the rows counted). The warehouse rows
    are those of the connection whose ``window_column`` (default: the dataset's own) falls in the
    window, and, when ``currency`` is given, in that currency. ``scope`` says in words what the
    platform's figure covers ("account 123-456-7890, every campaign").
    """

    ROWS: ClassVar[str] = "rows"

    dataset: str
    metric: str
    value: Decimal
    currency: str | None = None
    window_column: str | None = None
    scope: str = ""


class TotalsNotCompared(Exception):
    """The platform gives no independent total for this window (the message says why)."""


@dataclass(frozen=True)
class ApiVersion:
    """The version of the platform's API a connector speaks, and when the platform stops serving it.

    ``sunset`` is the published end of service, or the projected one where the platform publishes a
    rule rather than a date (``source`` says which); None when none is announced.
    """

    name: str
    sunset: date | None
    source: str

    def days_left(self, today: date) -> int | None:
        """Days until the platform stops serving this version (negative once it has); None: no end."""
        return None if self.sunset is None else (self.sunset - today).days


@dataclass(frozen=True)
class GrantLifetimes:
    """How long what a platform issues at sign-in lasts, as the platform documents it.

    ``access`` is the access token's life; ``grant`` is the authorization's own end, counted from
    the moment the account was authorized (refreshing within it gives new access tokens, not a
    longer grant). None: it does not expire (until revoked). ``source`` says where this comes from.
    """

    access: timedelta | None
    grant: timedelta | None
    source: str


class BaseConnector(ABC):
    platform: ClassVar[str]
    display_name: ClassVar[str]
    oauth: ClassVar[OAuthSpec | None] = None
    streams: ClassVar[tuple[StreamSpec, ...]]
    # The longest restatement window that makes sense for the platform (a connection's own
    # setting is capped to it); None: no cap beyond the retention window.
    max_restatement_days: ClassVar[int | None] = None
    # The shortest re-read window the platform's documentation allows: the restatement log may
    # suggest shortening a connection's window, never below this. Each platform says where it comes
    # from in ``min_restatement_source``.
    min_restatement_days: ClassVar[int] = 1
    min_restatement_source: ClassVar[str] = ""
    auth_scheme: ClassVar[str] = "Bearer"
    policy: ClassVar[ErrorPolicy] = ErrorPolicy()
    # What a connection of the platform brings: its credentials (``add_connection --credential
    # key=value``, or the connect form for platforms without a consent page) and its options.
    credential_specs: ClassVar[Mapping[str, Option]] = {}
    option_specs: ClassVar[Mapping[str, Option]] = {}
    # What to type as the account id, in the words of the platform's own screens.
    account_id_help: ClassVar[str] = ""
    # Simultaneous requests allowed per account across all workers (None: no limit).
    max_concurrent_requests: ClassVar[int | None] = None
    # What an account id of the platform looks like, once ``clean_account_id`` has put it in its
    # canonical form (a regular expression the whole id matches), and the same in words.
    account_id_pattern: ClassVar[str] = r"[A-Za-z0-9][A-Za-z0-9._-]*"
    account_id_format: ClassVar[str] = "letters, digits, '.', '_' and '-'"
    # Days per slice of a backfill (etl.backfill): a long window is read slice by slice, newest
    # first, so a quota cut keeps the slices already read. None: the window is read in one piece
    # (a platform whose reads are not bounded by the window's end, e.g. records modified since).
    backfill_slice_days: ClassVar[int | None] = None

    def __init__(
        self,
        *,
        account_id: str,
        tokens: TokenSet,
        options: Mapping[str, Any] | None = None,
        on_tokens: Callable[[TokenSet], None] | None = None,
        state: Mapping[str, Any] | None = None,
        on_state: Callable[[dict[str, Any]], None] | None = None,
        sync_key: str = "",
    ) -> None:
        self.account_id = account_id
        self.options = dict(options or {})
        # State kept across attempts of the same sync (e.g. an export job already created), and a
        # key unique to the sync, for naming things created on the platform.
        self.state: dict[str, Any] = dict(state or {})
        self._on_state = on_state
        self.sync_key = sync_key
        self.auth = TokenAuth(
            tokens, scheme=self.auth_scheme, refresher=self.refresher(), on_refresh=on_tokens
        )
        self.client = self.build_client()

    # -- the parts a platform provides -------------------------------------------------------
    @abstractmethod
    def base_url(self) -> str: ...

    @abstractmethod
    def check(self) -> str:
        """Prove the credentials work for this account; return the account's display name."""

    def default_headers(self) -> dict[str, str]:
        return {"Accept": "application/json"}

    # -- reading a stream -------------------------------------------------------------------------
    def extract(self, stream: StreamSpec, window: Window) -> Iterator[Page]:
        """Yield the stream's raw records for the window, one page (list of dicts) at a time.

        The one loop for declared streams: the stream's path and params (after those of
        ``stream_params``), paged by its paginator through ``ApiClient.paginate``, the records of
        each answer at its records path (``page_records``), each page that has any through
        ``on_records``, then ``on_stream_end``. A platform whose API is not a paged listing (a
        gRPC library, export jobs) overrides this method.
        """
        if not stream.path or stream.paginator is None:
            raise NotImplementedError(f"{self.platform} declares no endpoint for its {stream.name} stream")
        params = {**self.stream_params(stream, window), **stream.params}
        headers = self.stream_headers(stream, window)
        pages = self.client.paginate(stream.path, stream.paginator(stream), params=params, headers=headers)
        for body in pages:
            records = self.page_records(stream, body)
            if records:
                yield self.on_records(stream, records)
        self.on_stream_end(stream)

    def stream_params(self, stream: StreamSpec, window: Window) -> dict[str, Any]:
        """Query parameters of one read besides the declared ones (the window's dates, the fields the
        account has). Called once, before the first request: also where a read learns what it needs
        (the API host) and starts its tallies."""
        return {}

    def stream_headers(self, stream: StreamSpec, window: Window) -> dict[str, str]:
        """Headers sent with every page of one read (e.g. ``If-Modified-Since``)."""
        return {}

    def page_records(self, stream: StreamSpec, body: Any) -> list[Any]:
        """The records of one answer, at the stream's records path; an answer without them is malformed."""
        records = dig(body, stream.records_path)
        if not isinstance(records, list):
            where = ".".join(stream.records_path) or "records"
            raise MalformedResponse(f"{self.display_name}'s {stream.name} answer has no {where} list")
        return records

    def on_records(self, stream: StreamSpec, records: list[Any]) -> Page:
        """One page of records as staged: where a connector adds what the mapping reads but the
        records lack, and tallies what some records leave out. Default: as they came."""
        return records

    def on_stream_end(self, stream: StreamSpec) -> None:  # noqa: B027 (a hook; default: nothing)
        """After the last page: where a connector leaves the notes its tallies call for."""

    # -- reconciliation ---------------------------------------------------------------------------
    # Why the platform offers no total of its own to compare the warehouse with, in words; a
    # connector that reads such totals overrides ``platform_totals`` instead.
    totals_unavailable: ClassVar[str] = "the platform reports no total of its own for a window"

    def platform_totals(self, window: Window) -> list[PlatformTotal]:
        """The totals the platform itself reports for the window, read after each load and compared
        with the warehouse's sums of the same rows: an account-level or un-pivoted query, a report
        list's own count. Raises ``TotalsNotCompared`` where the platform offers none."""
        raise TotalsNotCompared(self.totals_unavailable)

    # -- the account id, as people type it -------------------------------------------------------
    @classmethod
    def canonical_account_id(cls, raw: str) -> str:
        """The id in the one form it is stored in (one account, one connection). Default: trimmed."""
        return str(raw).strip()

    @classmethod
    def clean_account_id(cls, raw: str) -> str:
        """The canonical account id, or a ValidationError that says what the platform's ids look like."""
        value = cls.canonical_account_id(raw)
        if not value:
            raise ValidationError(f"Enter the {cls.display_name} account id.", code="required")
        if len(value) > ACCOUNT_ID_MAX_LENGTH:
            raise ValidationError(
                f"A {cls.display_name} account id has at most {ACCOUNT_ID_MAX_LENGTH} characters "
                f"(got {len(value)}).",
                code="max_length",
            )
        if not re.fullmatch(cls.account_id_pattern, value):
            raise ValidationError(
                f"A {cls.display_name} account id is {cls.account_id_format}; got {raw!r}.", code="invalid"
            )
        return value

    # -- shared behaviour -----------------------------------------------------------------------
    def refresher(self) -> Callable[[TokenSet], TokenSet] | None:
        spec = self.oauth
        if spec is None or not spec.refreshable:
            return None
        return lambda tokens: refresh_token_set(spec, tokens)

    def concurrency_limit(self) -> int | None:
        """Simultaneous requests allowed per account across all workers (None: no limit)."""
        return self.max_concurrent_requests

    def build_client(self) -> ApiClient:
        limit = self.concurrency_limit()
        return ApiClient(
            base_url=self.base_url(),
            auth=self.auth,
            policy=self.policy,
            platform=self.platform,
            headers=self.default_headers(),
            concurrency=(lambda: ConcurrencyLimit(f"{self.platform}:{self.account_id}", limit))
            if limit
            else None,
        )

    def note(self, message: str) -> None:
        """Leave a note on the sync for the people reading its status (e.g. an account skipped)."""
        notes = [*self.state.get("notes", []), redact(message)]
        self.save_state(notes=notes)

    def note_once(self, message: str) -> None:
        """``note``, unless the sync already has this note (a later window, a retried attempt)."""
        if message not in self.state.get("notes", []):
            self.note(message)

    def save_state(self, **changes: Any) -> None:
        """Remember something for a later attempt of this sync; persisted at once."""
        self.state.update(changes)
        if self._on_state is not None:
            self._on_state(dict(self.state))

    def refresh_tokens(self, *, force: bool = False, margin_seconds: float | None = None) -> TokenSet:
        """Refresh when forced, or when the access token is missing or expires within the margin."""
        if force:
            return self.auth.refresh()
        margin = settings.TOKEN_REFRESH_MARGIN_SECONDS if margin_seconds is None else margin_seconds
        self.auth.ensure_fresh(margin)
        return self.auth.tokens

    @classmethod
    def stream(cls, name: str) -> StreamSpec:
        for spec in cls.streams:
            if spec.name == name:
                return spec
        raise KeyError(f"{cls.platform} has no stream {name!r}")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("oauth") is not None and "platform" in cls.__dict__:
            cls.oauth = replace(cls.__dict__["oauth"], settings_prefix=prefix(cls.platform))

    @classmethod
    def setting(cls, name: str) -> Any:
        """One of the platform's settings (``connectors/<platform>/settings.py``), by its short name."""
        return value(cls.platform, name)

    @classmethod
    def restatement_days(cls) -> int:
        """Days every sync re-reads: the platform's ``RESTATEMENT_DAYS`` setting."""
        return int(cls.setting("RESTATEMENT_DAYS"))

    @classmethod
    def api_version(cls) -> ApiVersion:
        """The API version this connector is pinned to (a platform with versions overrides it)."""
        return ApiVersion("unversioned", None, f"{cls.display_name} publishes no API versions")

    @classmethod
    def grant_lifetimes(cls) -> GrantLifetimes:
        """The documented lifetimes of the platform's access token and grant (each platform overrides it)."""
        return GrantLifetimes(None, None, f"{cls.display_name} documents no expiry")

    # -- the API budget (connectors.quota) -----------------------------------------------------------
    # The documented daily budget of one credential; None: the platform has none.
    daily_quota: ClassVar[QuotaTerms | None] = None

    @classmethod
    def quota_budget(cls) -> QuotaBudget | None:
        """The daily budget of one credential: the platform's ``daily_quota`` terms, the amount
        from its ``DAILY_QUOTA`` setting (0: not known); None: the platform has no daily budget."""
        terms = cls.daily_quota
        if terms is None:
            return None
        return QuotaBudget(
            amount=int(cls.setting("DAILY_QUOTA")) or None,
            unit=terms.unit,
            holder=terms.holder,
            rolling=terms.rolling,
            source=terms.source,
            setting=f"{prefix(cls.platform)}_DAILY_QUOTA",
        )

    @classmethod
    def quota_label(cls, account_id: str) -> str:
        """Names the credential whose budget a connection spends (never a secret). Default: the
        account itself (a Zoho CRM organization, a Demandbase tenant)."""
        return account_id

    @classmethod
    def quota_credential(cls, account_id: str) -> Credential | None:
        budget = cls.quota_budget()
        return None if budget is None else Credential(cls.platform, cls.quota_label(account_id), budget)

    @classmethod
    def call_cost(cls, what: str) -> int:
        """What one request costs of the budget, from "METHOD /path" (or a library call's name)."""
        return 1

    # Whether ``estimate_calls`` counts every call (else it is the least a read can cost: pages
    # depend on the data).
    estimate_is_exact: ClassVar[bool] = False

    @classmethod
    def estimate_calls(cls, window: Window, *, last_state: Mapping[str, Any], first: bool = True) -> int:
        """What reading ``window`` costs, without asking the platform: at least one call per stream
        and slice. ``last_state`` is the connection's latest run state (accounts found then);
        ``first`` False: a later slice of the same read (what a read learns once is not asked again)."""
        slices = len(window.split(cls.backfill_slice_days)) if cls.backfill_slice_days else 1
        return len(cls.streams) * slices

    def authorize_url(self) -> str | None:
        """The consent page for this account; None where the platform has none (API credentials).

        A platform whose accounts live in several data centres decides per account (Zoho CRM)."""
        return (self.oauth.authorize_url or None) if self.oauth and self.oauth.has_consent_page else None

    def token_url(self) -> str | None:
        """The token endpoint for this account; None where the platform has no OAuth."""
        return self.oauth.token_url if self.oauth else None
