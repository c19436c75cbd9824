"""Reading a finished export's result file.

Demandbase does not publish the layout of the file behind ``resultsUrl``. We request ``format: JSON``
and read, in this order of likelihood:

1. a JSON array of objects, one per exported record, keyed by the requested field names
   (``{"{Account}.id": 123, "{Account}.name": "...", ...}``) — the layout the sandbox serves;
2. a JSON object wrapping that array under ``data``, ``records`` or ``results``;
3. newline-delimited JSON (one object per line).

Field names carry their entity in braces, and the dot in them cannot be addressed by a mapping path,
so each record is reshaped to ``{"Account": {"id": 123, "name": "..."}}`` (``nest_fields``). Keys
without an entity (``"id"``) are taken as fields of ``default_entity``; objects already nested by
entity are merged as they are. Anything that is not an object is passed on unchanged so the
normalizer can quarantine it with its reason.
"""

from __future__ import annotations

import json
import re
from typing import Any

from connectors.errors import MalformedResponse
from connectors.http import Response

_WRAPPERS = ("data", "records", "results")
_ENTITY_FIELD = re.compile(r"^\{(?P<entity>[^}]+)\}\.(?P<field>.+)$")


def parse_results(response: Response) -> list[Any]:
    """Decode a result file into its records; an unreadable (e.g. cut) file is a MalformedResponse."""
    text = response.content.decode("utf-8-sig", errors="replace").strip()
    if not text:
        return []
    try:
        body = json.loads(text)
    except ValueError:
        return _ndjson(text, len(response.content))
    if isinstance(body, list):
        return body
    if isinstance(body, dict):
        for key in _WRAPPERS:
            if isinstance(body.get(key), list):
                return list(body[key])
        return [body]  # NDJSON with a single line
    raise MalformedResponse("Demandbase's export file is neither a JSON array nor JSON lines")


def _ndjson(text: str, size: int) -> list[Any]:
    records: list[Any] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except ValueError:
            raise MalformedResponse(
                f"Demandbase's export file ({size} bytes) is not valid JSON (line {number} unreadable)"
            ) from None
    return records


def split_field(name: str, default_entity: str) -> tuple[str, str]:
    """``"{Account}.engagementMinutesLast7Day"`` → ``("Account", "engagementMinutesLast7Day")``."""
    match = _ENTITY_FIELD.match(name)
    if match:
        return match.group("entity"), match.group("field")
    return default_entity, name


def nest_fields(record: Any, default_entity: str = "Account") -> Any:
    if not isinstance(record, dict):
        return record
    nested: dict[str, Any] = {}
    for key, value in record.items():
        if not isinstance(key, str):
            continue
        if _ENTITY_FIELD.match(key) is None and isinstance(value, dict):
            nested.setdefault(key, {}).update(value)  # already grouped by entity
            continue
        entity, field = split_field(key, default_entity)
        nested.setdefault(entity, {})[field] = value
    return nested
