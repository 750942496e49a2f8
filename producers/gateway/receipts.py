"""What the gateway needs to answer `GET /v1/receipts/{event_id}`, without knowing where receipts live.

The transparency log sits above the producers, so the gateway never imports it: the composition root
(simpul.bootstrap) hands the app a `ReceiptLookup` that reads the log's store and turns its states into these
exceptions.
"""

from __future__ import annotations

from typing import Any, Protocol

from producers.exceptions import ProducerError


class ReceiptLookup(Protocol):
    """The receipt of one event as a JSON-able dict (the fields of producers.gateway.api.ReceiptOut), or None
    when the log holds no such event. Raises ReceiptPending or ReceiptsUnavailable."""

    def __call__(self, event_id: str) -> dict[str, Any] | None: ...


class ReceiptPending(ProducerError):
    """The event is in the log but no signed checkpoint covers it yet (one is signed every few seconds).

    `regency_code` is the event's regency when the lookup knows it, so that another regency's key learns
    nothing more than for a finished receipt."""

    def __init__(self, message: str, regency_code: str | None = None) -> None:
        super().__init__(message)
        self.regency_code = regency_code


class ReceiptsUnavailable(ProducerError):
    """The log's store cannot be read (not configured, not created yet, unreachable): the endpoint answers 503,
    the rest of the gateway keeps working."""
