"""Scrubbing secrets out of text: tokens, secrets, passwords and authorization codes.

Used wherever words that are not ours to trust are kept or shown (a platform's error text on a
run, a connection's status, Sync health and its CSV) and by the log filter
(``sales_dashboard.logging``), so a token a platform echoes back never reaches a page or a log.
It lives at the bottom of the dependency direction, beside the connectors whose text it cleans.
"""

from __future__ import annotations

import re

_SECRET_PATTERNS = [
    re.compile(r"(?i)(bearer|zoho-oauthtoken|oauth|basic)\s+[A-Za-z0-9._~+/=-]{8,}"),
    re.compile(
        r"(?i)((?:access|refresh)_?token|client_?secret|password|code|api_?key|secret)"
        r"([\"']?\s*[:=]\s*[\"']?)([^\s\"'&,}]+)"
    ),
]


def redact(text: str) -> str:
    text = _SECRET_PATTERNS[0].sub(lambda m: f"{m.group(1)} [redacted]", text)
    return _SECRET_PATTERNS[1].sub(lambda m: f"{m.group(1)}{m.group(2)}[redacted]", text)
