"""JSON in and out for page-sized payloads: msgspec and orjson where they can, the standard
library otherwise.

Reading uses msgspec: as fast as orjson here, and exact for integers of any width (orjson 3.13
reads an integer wider than 64 bits as a float, which would turn a long identifier into a rounded
number). What msgspec refuses as not strict JSON (NaN, Infinity, a number too large for a float,
a lone surrogate) goes through ``json``, so nothing a platform sends is read differently from the
standard library. Writing uses orjson, which refuses integers wider than 64 bits; those go
through ``json`` as well.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec
import orjson


def loads(data: bytes | str) -> Any:
    try:
        return msgspec.json.decode(data)
    except msgspec.MsgspecError:
        return json.loads(data)


def dumps(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value)
