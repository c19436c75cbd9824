"""Log formatting: one line per event, ``key=value`` fields, and no secrets.

Code logs an event name as the message and the details as ``extra=``; the formatter appends every
extra field. The filter scrubs anything that looks like a credential from the message, the
arguments and the extra fields, so a token cannot reach the logs even by mistake.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from connectors.redaction import redact

_STANDARD_ATTRS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}

# The OAuth callback's query string carries a one-time authorization code and the state: the whole
# query is dropped wherever the callback's URL appears (the request line, a Referer).
_CALLBACK_QUERY = re.compile(r"(/oauth/callback/?)\?[^\s\"']*")


def scrub_access_line(text: str) -> str:
    """An access-log line without the callback's query string, and redacted like every record."""
    return redact(_CALLBACK_QUERY.sub(r"\1?[scrubbed]", text))


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_redact_value(v) for v in value)
    return value


class RedactSecretsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if record.args:
            if isinstance(record.args, dict):
                record.args = {k: _redact_value(v) for k, v in record.args.items()}
            else:
                record.args = tuple(_redact_value(a) for a in record.args)
        for key, value in list(vars(record).items()):
            if key not in _STANDARD_ATTRS:
                setattr(record, key, _redact_value(value))
        return True


class AccessLogFilter(logging.Filter):
    """For the web servers' request logs (``runserver``'s ``django.server``; gunicorn's access log
    goes through ``sales_dashboard.access_log``): the arguments are scrubbed as one line would be."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = scrub_access_line(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(scrub_access_line(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: scrub_access_line(v) if isinstance(v, str) else v for k, v in record.args.items()}
        return True


class StructuredFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = {k: v for k, v in vars(record).items() if k not in _STANDARD_ATTRS}
        if fields:
            line += " " + " ".join(f"{k}={v}" for k, v in sorted(fields.items()))
        return scrub_access_line(line)
