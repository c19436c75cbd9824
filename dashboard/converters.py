"""Path converters for the dashboard's URLs.

``<id:...>`` is a row id: digits within 64 bits (a longer number is a 404, not an overflow).

``<campaign:...>`` is a campaign id exactly as its platform sent it, in one path segment, whatever
characters it holds. Three characters are written as ``~`` and two hex digits: ``/`` (``~2F``,
which would split the segment; ``%2F`` does not help, as servers decode it before routing), ``~``
itself (``~7E``) and a leading ``.`` (``~2E``, so an id ``.`` or ``..`` is never a dot segment that
browsers resolve away); an empty id is a lone ``~``. ``reverse()`` then percent-encodes the rest
(spaces, ``%``, ``?``, ``#``, unicode), which the server decodes again. An id like ``501`` keeps its
plain URL; a segment with any other ``~`` sequence matches no campaign (404).
"""

from __future__ import annotations

import re

from dashboard.ids import id_in_range

_ESCAPED = re.compile(r"~(2F|7E|2E)")
_WELL_FORMED = re.compile(r"(?:[^~/]|~(?:2F|7E|2E))+")
_UNESCAPE = {"2F": "/", "7E": "~", "2E": "."}


class IdConverter:
    regex = "[0-9]+"

    def to_python(self, value: str) -> int:
        number = int(value)  # a number past Python's digit limit raises ValueError too
        if not id_in_range(number):
            raise ValueError("not a row id")
        return number

    def to_url(self, value: int | str) -> str:
        number = int(value)
        if not id_in_range(number):
            raise ValueError("not a row id")
        return str(number)


def campaign_id_to_segment(campaign_id: str) -> str:
    if campaign_id == "":
        return "~"
    segment = campaign_id.replace("~", "~7E").replace("/", "~2F")
    return "~2E" + segment[1:] if segment.startswith(".") else segment


def campaign_id_from_segment(segment: str) -> str:
    if segment == "~":
        return ""
    if not _WELL_FORMED.fullmatch(segment):
        raise ValueError("not a campaign id segment")
    return _ESCAPED.sub(lambda found: _UNESCAPE[found[1]], segment)


class CampaignIdConverter:
    regex = "[^/]+"

    def to_python(self, value: str) -> str:
        return campaign_id_from_segment(value)

    def to_url(self, value: str) -> str:
        return campaign_id_to_segment(str(value))
