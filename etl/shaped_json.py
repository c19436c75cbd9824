"""Staged pages parsed straight into the values a mapping reads, without a dict per record.

A mapping reads a few dotted paths out of records that carry many more fields (a Google Ads row
has dozens of keys, a LinkedIn element its unused metrics and its end date). Parsing a page into
dicts builds every one of them; here the page is decoded by msgspec against a type made from the
mapping's paths: an object per record with exactly those keys (``gc=False`` structs, far cheaper
than dicts), every other key skipped by the parser without building anything. The values at the
paths come out as JSON would give them, and the normalizer converts them exactly as it converts
values read from dicts.

The type is strict about the shape only where a path goes through it: a page that is not a list
of objects, or a record with a non-object where a path expects an object, does not decode, and the
caller falls back to parsing the page into dicts, where each bad record gets its own reason. So
whenever this succeeds, it gives the same values as the dict path.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Sequence
from typing import Any, Optional

import msgspec

# A node of the path tree: the keys read below an object, each to its own node; ``None`` marks a
# value read whole (a path ends there, or indexes into it: what lies below is read as JSON).
Tree = dict[str, Any]


@functools.lru_cache(maxsize=64)
def _decoder_and_tree(paths: tuple[str, ...]) -> tuple[msgspec.json.Decoder[Any], Tree] | None:
    tree = _path_tree(paths)
    if tree is None:
        return None
    decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder(list[_struct_for(tree)])  # type: ignore[misc]
    return decoder, tree


def shaped_columns(pages: Sequence[bytes | str], paths: Sequence[str]) -> tuple[int, dict[str, list[Any]]] | None:
    """``(record count, {path: values})`` of the pages' records, or ``None`` when a page's shape
    does not fit (not a JSON list of objects, an object where a path needs one is something else,
    or JSON that msgspec refuses, such as NaN)."""
    ordered = tuple(sorted(set(paths)))
    shape = _decoder_and_tree(ordered)
    if shape is None:
        return None
    decoder, tree = shape
    records: list[Any] = []
    try:
        for page in pages:
            records.extend(decoder.decode(page))
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    wholes: dict[tuple[str, ...], list[Any]] = {}
    _read_fields(records, tree, (), wholes)
    return len(records), {path: _column_at(path, wholes) for path in ordered}


def _read_fields(
    values: list[Any], node: Tree, prefix: tuple[str, ...], wholes: dict[tuple[str, ...], list[Any]]
) -> None:
    """Each field of the structs in ``values`` as a column, a whole column at a time (C speed when
    no parent is missing), down to the values read whole."""
    for index, (key, child) in enumerate(sorted(node.items())):
        field = operator.attrgetter(f"f{index}")
        try:
            column = list(map(field, values))
        except AttributeError:  # a parent object was absent or null
            column = [None if value is None else field(value) for value in values]
        if child is None:
            wholes[(*prefix, key)] = column
        else:
            _read_fields(column, child, (*prefix, key), wholes)


def _column_at(path: str, wholes: dict[tuple[str, ...], list[Any]]) -> list[Any]:
    """The values at ``path``: the whole values it starts with, then (past them) each further part
    read as ``etl.normalize`` reads a dict, where a numeric part also indexes a list."""
    parts = tuple(path.split("."))
    depth = next(d for d in range(len(parts), 0, -1) if parts[:d] in wholes)
    column = wholes[parts[:depth]]
    for part in parts[depth:]:
        column = [_step(value, part) for value in column]
    return column


def _step(value: Any, part: str) -> Any:
    if value.__class__ is dict:
        return value.get(part)
    if part.isdigit() and value.__class__ is list:
        index = int(part)
        return value[index] if len(value) > index else None
    return None




def _path_tree(paths: Sequence[str]) -> Tree | None:
    tree: Tree = {}
    whole: set[tuple[str, ...]] = set()
    for path in paths:
        parts = path.split(".")
        keys = parts[: next((i for i, part in enumerate(parts) if part.isdigit()), len(parts))]
        if not keys:  # a path that indexes the record itself: left to the dict path
            return None
        whole.add(tuple(keys))
        node = tree
        for key in keys:
            node = node.setdefault(key, {})
    return _mark_whole(tree, whole, ())


def _mark_whole(tree: Tree, whole: set[tuple[str, ...]], prefix: tuple[str, ...]) -> Tree:
    return {
        key: None if (*prefix, key) in whole else _mark_whole(child, whole, (*prefix, key))
        for key, child in tree.items()
    }


def _struct_for(tree: Tree) -> Any:
    fields: list[tuple[str, Any, Any]] = []
    rename: dict[str, str] = {}
    for index, (key, child) in enumerate(sorted(tree.items())):
        name = f"f{index}"  # JSON keys need not be identifiers
        rename[name] = key
        fields.append((name, Any if child is None else Optional[_struct_for(child)], None))  # noqa: UP045
    return msgspec.defstruct("Shape", fields, rename=rename, gc=False)
