"""Errors of the regency side; an invalid event is refused before anything is sent."""

from __future__ import annotations

from schemas.exceptions import FieldProblem, SimpulError


class ProducerError(SimpulError):
    """Root of the producers' errors."""


class InvalidEvent(ProducerError, ValueError):
    """The event breaks the contract; `problems` names each field path and reason. Nothing was sent."""

    def __init__(self, event_type: str, problems: list[FieldProblem]) -> None:
        self.event_type = event_type
        self.problems = problems
        super().__init__(f"invalid {event_type} event, not sent: " + "; ".join(str(p) for p in problems))

    @property
    def fields(self) -> list[str]:
        return [p.path for p in self.problems]


class DeliveryFailed(ProducerError):
    """The broker did not acknowledge an accepted event in time; the caller must retry it (same event_id)."""


class ProducerClosed(ProducerError):
    """`publish` after `close`."""
