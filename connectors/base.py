"""The connector contract.

A connector declares its platform slug, OAuth spec, streams (each with the canonical dataset it
feeds and a field mapping that is pure data) and how to pull a stream for a date window. The
shared client (``connectors.http.ApiClient``) is built for it from the connection's tokens; it
yields plain records, page by page, and raises only ``connectors.errors`` types. It knows nothing
of pandas or warehouse tables.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, ClassVar

from django.conf import settings
from django.core.exceptions import ValidationError

from connectors.auth import OAuthSpec, TokenAuth, TokenSet, refresh_token_set
from connectors.concurrency import ConcurrencyLimit
from connectors.http import ApiClient, ErrorPolicy
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
class StreamSpec:
    """A stream: the canonical dataset it feeds and the mapping of its records to that dataset's columns.

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


class BaseConnector(ABC):
    platform: ClassVar[str]
    display_name: ClassVar[str]
    oauth: ClassVar[OAuthSpec | None] = None
    streams: ClassVar[tuple[StreamSpec, ...]]
    restatement_days_setting: ClassVar[str]
    # The longest restatement window that makes sense for the platform (a connection's own
    # setting is capped to it); None: no cap beyond the retention window.
    max_restatement_days: ClassVar[int | None] = None
    auth_scheme: ClassVar[str] = "Bearer"
    policy: ClassVar[ErrorPolicy] = ErrorPolicy()
    # Keys accepted by ``add_connection --credential key=value`` and what each one is.
    credential_keys: ClassVar[Mapping[str, str]] = {}
    option_keys: ClassVar[Mapping[str, str]] = {}
    # Options that take one of a fixed set of values (value, label): anything else is refused where
    # a connection is entered. An empty value means the option's default.
    option_choices: ClassVar[Mapping[str, tuple[tuple[str, str], ...]]] = {}
    # Simultaneous requests allowed per account across all workers (None: no limit).
    max_concurrent_requests: ClassVar[int | None] = None
    # What an account id of the platform looks like, once ``clean_account_id`` has put it in its
    # canonical form (a regular expression the whole id matches), and the same in words.
    account_id_pattern: ClassVar[str] = r"[A-Za-z0-9][A-Za-z0-9._-]*"
    account_id_format: ClassVar[str] = "letters, digits, '.', '_' and '-'"

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

    @abstractmethod
    def extract(self, stream: StreamSpec, window: Window) -> Iterator[Page]:
        """Yield the stream's raw records for the window, one page (list of dicts) at a time."""

    def default_headers(self) -> dict[str, str]:
        return {"Accept": "application/json"}

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

    def build_client(self) -> ApiClient:
        limit = self.max_concurrent_requests
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

    @classmethod
    def restatement_days(cls) -> int:
        return int(getattr(settings, cls.restatement_days_setting))
