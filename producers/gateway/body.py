"""Reading a request body in bounded memory: as it arrives, and no further than the byte limit.

uvicorn does not read ahead for the app: it buffers a little over 64 KiB (its high-water mark plus one socket
read) of a body the app has not asked for and then stops reading the socket (the client's sends block). So what
a request costs is what the app keeps, and the app keeps at most the limit: the body is read chunk by chunk and
abandoned the moment it passes the limit, whatever the request declared (Content-Length, chunked transfer, or a
Content-Length that lies: h11 never hands the app more than the declared length, and what follows is parsed as
the next request, bounded by h11's 16 KiB limit for an incomplete request line and headers).
"""

from __future__ import annotations

from starlette.requests import ClientDisconnect, Request

from producers.exceptions import ProducerError

EVENT_JSON_BYTES = 4096
"""Room for one event's JSON in a request body. The largest example event of the contract is 497 bytes of JSON
(DisasterReported, `"event_type"` included; tests/unit/test_gateway_body.py keeps this true); the schemas bound
every number, enum and reference code but not free text (names, addresses, descriptions), so 4 KiB leaves eight
times that for long text and pretty-printing. The body limit follows from the batch limit: max_batch x 4 KiB,
4,096,000 bytes for the default 1,000 events."""


def body_limit(max_batch: int) -> int:
    """The most bytes one request may carry: `max_batch` events of EVENT_JSON_BYTES each."""
    return max_batch * EVENT_JSON_BYTES


class BodyTooLarge(ProducerError):
    """The body passed the limit; `declared` when Content-Length said so before anything was read."""

    def __init__(self, limit: int, declared: int | None = None) -> None:
        self.limit, self.declared = limit, declared
        said = f"Content-Length {declared:,}" if declared is not None else "the body"
        super().__init__(f"{said} is over the limit of {limit:,} bytes per request; send fewer events per request")


class BodyIncomplete(ProducerError):
    """The client closed the connection before the body was complete."""


async def read_limited(request: Request, limit: int) -> bytes:
    """The request's body, or BodyTooLarge as soon as it passes `limit` bytes (at once if Content-Length does)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(limit, int(declared))
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge(limit)
            chunks.append(chunk)
    except ClientDisconnect:
        raise BodyIncomplete("the client closed the connection before the body was complete") from None
    return b"".join(chunks)
