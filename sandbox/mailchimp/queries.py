"""What the Mailchimp sandbox reads from a request: paging (``count``/``offset``), send-time and
create-time filters, and the ``fields``/``exclude_fields`` selections (dot notation) it projects a body
through."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

from sandbox.core import SandboxRequest

DEFAULT_COUNT: Final = 10
MAX_COUNT: Final = 1000


class BadParam(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def count_and_offset(request: SandboxRequest) -> tuple[int, int]:
    values = {}
    for name, default, highest in (("count", DEFAULT_COUNT, MAX_COUNT), ("offset", 0, None)):
        raw = request.arg(name)
        if raw is None or raw == "":
            values[name] = default
            continue
        if not raw.isdigit() or (highest is not None and int(raw) > highest):
            limit = f" between 0 and {highest}" if highest is not None else " a non-negative integer"
            raise BadParam(name, f"The {name} parameter must be{limit}.")
        values[name] = int(raw)
    return values["count"], values["offset"]


def moment_param(request: SandboxRequest, name: str) -> datetime | None:
    raw = request.arg(name)
    if raw is None or raw == "":
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise BadParam(
            name, f"{raw!r} is not an ISO 8601 date-time (e.g. 2015-10-21T15:41:36+00:00)."
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


# A selection tree: a name maps to ``True`` (the whole value) or to the tree of its chosen parts.
Selection = dict[str, Any]


def _selection(raw: str | None) -> Selection | None:
    if raw is None or not raw.strip():
        return None
    tree: Selection = {}
    for path in (part.strip() for part in raw.split(",")):
        if not path:
            continue
        node = tree
        *parents, leaf = path.split(".")
        for name in parents:
            child = node.get(name)
            if child is True:
                break
            node = node.setdefault(name, {})
        else:
            node[leaf] = True
    return tree


def keep_fields(value: Any, tree: Selection) -> Any:
    """Only the selected paths (lists are looked through, as Mailchimp's dot notation does)."""
    if isinstance(value, list):
        return [keep_fields(item, tree) for item in value]
    if not isinstance(value, dict):
        return value
    return {
        name: item if tree[name] is True else keep_fields(item, tree[name])
        for name, item in value.items()
        if name in tree
    }


def drop_fields(value: Any, tree: Selection) -> Any:
    """Everything but the selected paths."""
    if isinstance(value, list):
        return [drop_fields(item, tree) for item in value]
    if not isinstance(value, dict):
        return value
    return {
        name: item if name not in tree else drop_fields(item, tree[name])
        for name, item in value.items()
        if tree.get(name) is not True
    }


def project(body: dict[str, Any], request: SandboxRequest) -> dict[str, Any]:
    included, excluded = _selection(request.arg("fields")), _selection(request.arg("exclude_fields"))
    if included is not None:
        body = keep_fields(body, included)
    if excluded is not None:
        body = drop_fields(body, excluded)
    return body
