"""Files the dashboard sends to be saved. Every CSV download is built by ``csv_download``.

The file name is made of parts that may come from the warehouse (a campaign id), so it goes into
``Content-Disposition`` only sanitized, twice: ``filename=`` an ASCII fallback in quotes and
``filename*=`` (RFC 5987, as RFC 6266 describes) the UTF-8 name percent-encoded. Sanitizing keeps
letters and digits of any script, ``-`` and ``_``, and one ``.`` before the extension; anything
else (quotes, ``;``, ``\\``, ``/``, ``%``, dots, spaces, control and formatting characters such
as a right-to-left override) becomes ``_``. So a value cannot add a parameter to the header, end
the header, name a directory, change the extension or start the name with a dot.

Django's ``content_disposition_header`` is not used: it escapes ``"`` and ``\\`` as quoted-pairs
(which not every client undoes), sends a non-ASCII name only as ``filename*`` (no fallback for
clients without RFC 5987) and keeps ``/``, ``..`` and the like.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from typing import TYPE_CHECKING
from urllib.parse import quote

from django.http import HttpResponse

if TYPE_CHECKING:
    from dashboard.exports import ExportTable

STEM_MAX_LENGTH = 150
EXTENSION_MAX_LENGTH = 10
_RUNS = re.compile(r"_{2,}")


def filename_part(text: str) -> str:
    """``text`` as part of a file name: letters and digits of any script, ``-`` and ``_``; any
    other character becomes ``_`` (runs of them one ``_``)."""
    kept = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in unicodedata.normalize("NFC", text))
    return _RUNS.sub("_", kept)


def safe_filename(name: str, *, default: str = "download") -> str:
    """``name`` made safe to save: sanitized stem, at most one ``.``, the extension kept."""
    stem, dot, extension = name.rpartition(".")
    if not dot:
        stem, extension = name, ""
    extension = filename_part(extension).strip("_-")[:EXTENSION_MAX_LENGTH]
    stem = filename_part(stem).strip("_-")[:STEM_MAX_LENGTH].rstrip("_-") or default
    return f"{stem}.{extension}" if extension else stem


def ascii_filename(name: str, *, default: str = "download") -> str:
    """The safe name in ASCII only: accents dropped (é -> e), other characters ``_``."""
    decomposed = unicodedata.normalize("NFKD", name)
    text = "".join(ch if ch.isascii() else "_" for ch in decomposed if not unicodedata.combining(ch))
    return safe_filename(text, default=default)


def content_disposition(filename: str) -> str:
    """``attachment`` with the sanitized name as an ASCII fallback and as UTF-8 ``filename*``."""
    name = safe_filename(filename)
    fallback = ascii_filename(name)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def csv_download(table: ExportTable) -> HttpResponse:
    """The response that downloads one exported table as a CSV file."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = content_disposition(table.filename)
    response["X-Content-Type-Options"] = "nosniff"
    writer = csv.writer(response)
    writer.writerow(table.header)
    writer.writerows(table.rows)
    return response
