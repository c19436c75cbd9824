"""The tenant's export field catalogue: which fields its Export collection lets it export.

Field availability depends on the tenant's entitlements: asking an export job for a field the tenant
does not have is refused as a whole with ``400-155`` ("Fields not available for this tenant"), not
answered with an empty column. ``GET /data/export/v1/fields?entityType=account`` lists the fields the
tenant has, as ``[{"name", "dataType", "label", "description"}]`` (names like
``{Account}.engagementMinutesLast7Day``). So the connector reads that list and asks only for the wanted
fields that exist (``choose_fields``): a missing optional field is a note on the run and an empty
column, a missing required one (the account id, the name) a ``PermanentError`` that names it.

The catalogue endpoint has a quota of its own (60 calls a day per tenant), so the list is kept in the
shared cache per tenant (the API base URL and the key set's client id) and read again at most once a
day (``MAX_AGE_SECONDS``), or at once when an export is refused with ``400-155`` (the tenant's
entitlements changed since). A copy older than a day is still used when a fresh read is throttled.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache as default_cache

from connectors.demandbase.export import EXPORT_PATH
from connectors.errors import MalformedResponse, PermanentError, RateLimited
from connectors.http import ApiClient

logger = logging.getLogger(__name__)

FIELDS_PATH = f"{EXPORT_PATH}/fields"
FIELDS_NOT_AVAILABLE = "400-155"
FIELD_NOT_ENTITLED = "403-104"  # the other answer the docs give to an unentitled field
MAX_AGE_SECONDS = 24 * 3600  # read at most once a day (the endpoint allows 60 calls a day)
KEEP_SECONDS = 7 * 24 * 3600  # an older copy still serves when a fresh read is throttled
CACHE_KEY = "demandbase:field-catalogue:{entity}:{scope}"


class FieldCatalogue:
    """The names of the fields one tenant can export for one entity type, cached for a day."""

    def __init__(
        self,
        client: ApiClient,
        *,
        entity: str,
        tenant_key: str,
        cache: Any = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.entity = entity
        scope = hashlib.sha256(tenant_key.encode()).hexdigest()[:32]
        self.key = CACHE_KEY.format(entity=entity, scope=scope)
        self.cache = default_cache if cache is None else cache
        self.clock = clock

    def names(self, *, fresh: bool = False) -> frozenset[str]:
        """The tenant's field names: from the cache when read less than a day ago (and not ``fresh``)."""
        kept = self._cached()
        if kept is not None and not fresh and self.clock() - kept[0] < MAX_AGE_SECONDS:
            return kept[1]
        try:
            names = self._read()
        except RateLimited:
            if kept is None or fresh:
                raise
            logger.warning("demandbase.field_catalogue_stale", extra={"entity": self.entity})
            return kept[1]
        self._store(names)
        return names

    def forget(self) -> None:
        try:
            self.cache.delete(self.key)
        except Exception:  # the cache is an optimisation: never fail a sync over it
            logger.warning("demandbase.field_catalogue_cache_unavailable", exc_info=True)

    def _read(self) -> frozenset[str]:
        body = self.client.get_json(FIELDS_PATH, params={"entityType": self.entity})
        if isinstance(body, dict):  # the documented answer is a bare array; tolerate an envelope
            body = body.get("data")
        if not isinstance(body, list):
            raise MalformedResponse(f"Demandbase's {self.entity} field catalogue is not a list of fields")
        names = frozenset(
            str(item["name"]) for item in body if isinstance(item, dict) and isinstance(item.get("name"), str)
        )
        if body and not names:
            raise MalformedResponse(f"Demandbase's {self.entity} field catalogue lists no field names")
        return names

    def _cached(self) -> tuple[float, frozenset[str]] | None:
        try:
            entry = self.cache.get(self.key)
        except Exception:
            logger.warning("demandbase.field_catalogue_cache_unavailable", exc_info=True)
            return None
        if not isinstance(entry, dict):
            return None
        read_at, names = entry.get("read_at"), entry.get("names")
        if not isinstance(read_at, int | float) or not isinstance(names, list):
            return None
        return float(read_at), frozenset(str(name) for name in names)

    def _store(self, names: frozenset[str]) -> None:
        entry = {"read_at": self.clock(), "names": sorted(names)}
        try:
            self.cache.set(self.key, entry, timeout=KEEP_SECONDS)
        except Exception:
            logger.warning("demandbase.field_catalogue_cache_unavailable", exc_info=True)


@dataclass(frozen=True)
class FieldChoice:
    requested: tuple[str, ...]  # wanted and available, in the wanted order
    missing: tuple[str, ...]  # wanted, optional and not available


def choose_fields(
    wanted: Sequence[str],
    required: Iterable[str],
    available: frozenset[str],
    labels: Mapping[str, str],
) -> FieldChoice:
    """The wanted fields the tenant has; a required one it lacks is a PermanentError naming it."""
    absent = [name for name in required if name not in available]
    if absent:
        described = ", ".join(f"{name} ({labels.get(name, name)})" for name in absent)
        one = len(absent) == 1
        raise PermanentError(
            f"Demandbase: this tenant cannot export the account field{'' if one else 's'} {described}, "
            f"which every account needs. Ask a Demandbase admin to add {'it' if one else 'them'} to the "
            "Export collection of the connection's API key set, then sync again.",
            code="required_field_missing",
        )
    return FieldChoice(
        requested=tuple(name for name in dict.fromkeys(wanted) if name in available),
        missing=tuple(name for name in dict.fromkeys(wanted) if name not in available),
    )


def missing_fields_note(missing: Sequence[str], labels: Mapping[str, str]) -> str | None:
    """In plain words: which kinds of fields the tenant lacks (their columns stay empty)."""
    groups = list(dict.fromkeys(labels.get(name, name) for name in missing))
    if not groups:
        return None
    named = groups[0] if len(groups) == 1 else ", ".join(groups[:-1]) + " or " + groups[-1]
    fields = "field" if len(missing) == 1 else "fields"
    them = "that column stays" if len(missing) == 1 else "those columns stay"
    return f"Demandbase: this tenant has no {named} {fields}; {them} empty."
