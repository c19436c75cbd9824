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
from collections.abc import Callable, Sequence
from typing import Any, Optional

import msgspec

Reader = Callable[[Any], tuple[Any, ...]]


@functools.lru_cache(maxsize=64)
def _decoder_and_reader(paths: tuple[str, ...]) -> tuple[msgspec.json.Decoder[Any], Reader] | None:
    tree = _path_tree(paths)
    if tree is None:
        return None
    decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder(list[_struct_for(tree)])  # type: ignore[misc]
    return decoder, _compile_reader(paths, tree)


def shaped_columns(pages: Sequence[bytes | str], paths: Sequence[str]) -> tuple[int, dict[str, list[Any]]] | None:
    """``(record count, {path: values})`` of the pages' records, or ``None`` when a page's shape
    does not fit (not a JSON list of objects, an object where a path needs one is something else,
    or JSON that msgspec refuses, such as an integer beyond 64 bits)."""
    ordered = tuple(sorted(set(paths)))
    shape = _decoder_and_reader(ordered)
    if shape is None:
        return None
    decoder, reader = shape
    records: list[Any] = []
    try:
        for page in pages:
            records.extend(decoder.decode(page))
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    if not records:
        return 0, {path: [] for path in ordered}
    columns = zip(*map(reader, records), strict=True)
    return len(records), {path: list(column) for path, column in zip(ordered, columns, strict=True)}


# A node of the path tree: the keys read below an object, each to its own node; ``None`` marks a
# value read whole (a path ends there, or indexes into it: what lies below is read as JSON).
Tree = dict[str, Any]


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


def _compile_reader(paths: tuple[str, ...], tree: Tree) -> Reader:
    """Compile ``record -> (value at path, ...)``: attributes down the structs, then (past a list
    index) JSON values read as the dict path reads them."""
    names: dict[tuple[str, ...], str] = {(): "r"}
    lines = ["def read(r):"]
    for path in paths:
        parts = tuple(path.split("."))
        node: Tree | None = tree
        for depth in range(1, len(parts) + 1):
            prefix = parts[:depth]
            parent, part = names[prefix[:-1]], prefix[-1]
            child = node.get(part, None) if node is not None else None
            if prefix not in names:
                name = f"v{len(names)}"
                if node is not None:  # a struct (or None when the key was absent or null)
                    index = sorted(node).index(part)
                    step = f"{parent}.f{index} if {parent} is not None else None"
                else:  # as ``etl.normalize`` reads a dict: a numeric part also indexes a list
                    step = f"{parent}.get({part!r}) if {parent}.__class__ is dict else "
                    if part.isdigit():
                        i = int(part)
                        step += f"({parent}[{i}] if {parent}.__class__ is list and len({parent}) > {i} else None)"
                    else:
                        step += "None"
                lines.append(f"    {name} = {step}")
                names[prefix] = name
            node = child if node is not None and isinstance(child, dict) else None
    lines.append(f"    return ({', '.join(names[tuple(path.split('.'))] for path in paths)},)")
    namespace: dict[str, Any] = {}
    exec(compile("\n".join(lines), "<shaped reader>", "exec"), namespace)  # keys are repr()'d
    reader: Reader = namespace["read"]
    return reader
