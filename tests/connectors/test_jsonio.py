"""Pages are read exactly as the standard library reads them, only faster."""

from __future__ import annotations

import json
import math

import pytest

from connectors import jsonio

pytestmark = pytest.mark.embedded


@pytest.mark.parametrize(
    "text",
    [
        '{"companyId": -9223372036854775809}',  # below the 64-bit range
        '{"companyId": 18446744073709551616}',  # above the unsigned 64-bit range
        '[12345678901234567890123456789, -1, 0, 1.5, "12"]',
        '{"a": 1, "a": 2}',
        '{"name": "Café \\u00e9", "nested": {"list": [true, false, null]}}',
    ],
)
def test_reads_what_the_standard_library_reads(text: str) -> None:
    for data in (text, text.encode()):
        assert jsonio.loads(data) == json.loads(text)
        assert type(jsonio.loads(data)) is type(json.loads(text))


def test_wide_integers_stay_integers() -> None:
    value = jsonio.loads(b'{"id": 123456789012345678901234567890}')["id"]
    assert value == 123456789012345678901234567890 and isinstance(value, int)


def test_what_strict_json_refuses_is_still_read() -> None:
    found = jsonio.loads(b'[NaN, Infinity, 1e400]')
    assert math.isnan(found[0]) and found[1] == math.inf and found[2] == math.inf


def test_writes_wide_integers_exactly() -> None:
    assert jsonio.loads(jsonio.dumps({"id": 2**70})) == {"id": 2**70}
