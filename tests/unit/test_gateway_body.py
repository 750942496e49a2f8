"""The gateway reads a body only up to its limit: it stops at the chunk that crosses it, and at once when
Content-Length is over it; the limit follows from the batch limit and the room one event's JSON needs."""

from __future__ import annotations

import asyncio
import json

import pytest
from starlette.requests import Request

from producers.gateway.body import EVENT_JSON_BYTES, BodyIncomplete, BodyTooLarge, body_limit, read_limited
from schemas.catalog import event_types
from schemas.examples import example


class Sender:
    """An ASGI receive callable that hands out `chunks` and counts what was asked for."""

    def __init__(self, chunks: list[bytes], *, disconnect: bool = False) -> None:
        self.chunks, self.disconnect, self.asked = chunks, disconnect, 0

    async def __call__(self) -> dict[str, object]:
        self.asked += 1
        if self.asked > len(self.chunks):
            if self.disconnect:
                return {"type": "http.disconnect"}
            raise AssertionError("read past the end of the body")
        more = self.asked < len(self.chunks) or self.disconnect
        return {"type": "http.request", "body": self.chunks[self.asked - 1], "more_body": more}


def _read(sender: Sender, limit: int, headers: dict[str, str] | None = None) -> bytes:
    scope = {"type": "http", "method": "POST", "path": "/v1/events", "query_string": b"",
             "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]}
    return asyncio.run(read_limited(Request(scope, sender), limit))


def test_body_under_the_limit_is_read_whole() -> None:
    sender = Sender([b"a" * 400, b"b" * 400, b"c" * 200])
    assert _read(sender, 1000) == b"a" * 400 + b"b" * 400 + b"c" * 200


def test_reading_stops_at_the_chunk_that_crosses_the_limit() -> None:
    sender = Sender([b"x" * 400] * 1000)  # 400 kB, as a chunked upload without Content-Length would arrive
    with pytest.raises(BodyTooLarge) as caught:
        _read(sender, 1000)
    assert sender.asked == 3
    assert caught.value.declared is None and "1,000 bytes" in str(caught.value)


def test_declared_length_over_the_limit_is_refused_before_reading() -> None:
    sender = Sender([b"x" * 10])
    with pytest.raises(BodyTooLarge) as caught:
        _read(sender, 1000, {"Content-Length": str(100 * 1024 * 1024)})
    assert sender.asked == 0 and caught.value.declared == 100 * 1024 * 1024
    assert "Content-Length 104,857,600" in str(caught.value)


def test_a_client_gone_mid_body_is_named() -> None:
    with pytest.raises(BodyIncomplete, match="closed the connection"):
        _read(Sender([b"x" * 10], disconnect=True), 1000)


def test_the_limit_follows_the_batch_limit_with_room_for_every_event() -> None:
    """EVENT_JSON_BYTES leaves 8x the largest example event, as its docstring says (497 bytes)."""
    sizes = {t: len(json.dumps({"event_type": t, **example(t).model_dump(mode="json")})) for t in event_types()}
    assert max(sizes.values()) * 8 <= EVENT_JSON_BYTES
    assert max(sizes, key=sizes.__getitem__) == "DisasterReported" and max(sizes.values()) == 497
    assert body_limit(1000) == 4_096_000
