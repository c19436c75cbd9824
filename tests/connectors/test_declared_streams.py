"""``BaseConnector.extract``, the one loop for declared streams: path, params, records path,
paginator, and the hooks a platform adds (params found at run time, headers, annotation, notes)."""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from connectors.auth import TokenSet
from connectors.base import BaseConnector, Page, StreamSpec, Window
from connectors.errors import MalformedResponse
from connectors.paginators import CursorPaginator

BASE = "https://api.example.test"
WINDOW = Window(date(2026, 3, 1), date(2026, 3, 7))
pytestmark = pytest.mark.embedded


class Toy(BaseConnector):
    platform = "toy"
    display_name = "Toy"
    streams = (
        StreamSpec(
            "items",
            "email_campaign",
            path="/items",
            params={"fields": "id"},
            records_path=("data", "items"),
            paginator=lambda _stream: CursorPaginator(token_path=("next",), token_param="cursor"),
        ),
        StreamSpec("report", "email_campaign"),
    )

    def base_url(self) -> str:
        return BASE

    def check(self) -> str:
        return "Toy"

    def stream_params(self, stream: StreamSpec, window: Window) -> dict[str, Any]:
        self.seen = 0
        return {"since": window.start.isoformat()}

    def stream_headers(self, stream: StreamSpec, window: Window) -> dict[str, str]:
        return {"X-Since": window.start.isoformat()}

    def on_records(self, stream: StreamSpec, records: list[Any]) -> Page:
        self.seen += len(records)
        return [{**record, "_stream": stream.name} for record in records]

    def on_stream_end(self, stream: StreamSpec) -> None:
        self.note_once(f"Toy: {self.seen} {stream.name} read")


def toy() -> Toy:
    return Toy(account_id="1", tokens=TokenSet(access_token="t"))


@responses.activate
def test_a_declared_stream_is_read_page_by_page_through_its_hooks() -> None:
    responses.get(f"{BASE}/items", json={"data": {"items": [{"id": 1}, {"id": 2}]}, "next": "c2"})
    responses.get(f"{BASE}/items", json={"data": {"items": []}, "next": "c3"})
    responses.get(f"{BASE}/items", json={"data": {"items": [{"id": 3}]}, "next": None})
    conn = toy()
    pages = list(conn.extract(conn.stream("items"), WINDOW))
    assert pages == [
        [{"id": 1, "_stream": "items"}, {"id": 2, "_stream": "items"}],
        [{"id": 3, "_stream": "items"}],
    ]
    queries = [parse_qs(urlsplit(call.request.url or "").query) for call in responses.calls]
    assert queries[0] == {"since": ["2026-03-01"], "fields": ["id"]}
    assert [q.get("cursor") for q in queries] == [None, ["c2"], ["c3"]]
    assert all(call.request.headers["X-Since"] == "2026-03-01" for call in responses.calls)
    assert conn.state["notes"] == ["Toy: 3 items read"]


@responses.activate
def test_an_answer_without_the_records_is_malformed_and_names_the_stream() -> None:
    responses.get(f"{BASE}/items", json={"data": {"things": []}})
    conn = toy()
    with pytest.raises(MalformedResponse, match="Toy's items answer has no data.items list"):
        list(conn.extract(conn.stream("items"), WINDOW))


def test_a_stream_without_an_endpoint_is_read_by_its_connector() -> None:
    conn = toy()
    with pytest.raises(NotImplementedError, match="report"):
        list(conn.extract(conn.stream("report"), WINDOW))
