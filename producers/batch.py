"""Batch loads from JSON Lines: one event per line, `event_type` plus the event's fields (as the gateway takes them).

Every line ends counted: sent (acknowledged), invalid (refused before sending, with line number and field), or
failed (not acknowledged by the broker: publish the file again — duplicates are dropped downstream).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from pathlib import Path

from pydantic import BaseModel, Field

from producers.delivery import Delivery
from producers.exceptions import DeliveryFailed, InvalidEvent
from producers.sdk import RegencyProducer


class LineProblem(BaseModel):
    line: int
    field: str
    reason: str


class BatchSummary(BaseModel):
    file: str
    regency_code: str
    topic: str
    lines: int = 0
    sent: int = 0
    invalid: int = 0
    failed: int = 0
    problems: list[LineProblem] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.invalid == 0 and self.failed == 0


def count_lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(1 for line in handle if line.strip())


def publish_file(path: Path, producer: RegencyProducer, advance: Callable[[int], None] = lambda _: None,
                 max_problems: int = 100) -> BatchSummary:
    """Publish every line of `path` through `producer`; returns the counts once every event is settled."""
    summary = BatchSummary(file=str(path), regency_code=producer.regency_code, topic=producer.topic)
    pending: list[tuple[int, Future[Delivery]]] = []
    for number, text in _lines(path):
        summary.lines += 1
        try:
            data = json.loads(text)
            if not isinstance(data, dict):
                raise InvalidEvent("<line>", [])
            event_type = data.pop("event_type", None)
            if not isinstance(event_type, str):
                _note(summary, number, "event_type", "required: the record name of the event's schema", max_problems)
                summary.invalid += 1
                advance(1)
                continue
            pending.append((number, producer.publish_dict(event_type, data)))
        except ValueError as exc:
            if isinstance(exc, InvalidEvent) and exc.problems:
                for p in exc.problems:
                    _note(summary, number, p.path, p.message, max_problems)
            else:
                _note(summary, number, "<line>", "not a JSON object", max_problems)
            summary.invalid += 1
            advance(1)
        if len(pending) >= 5000:
            _settle(pending, summary, advance, max_problems)
    producer.flush()
    _settle(pending, summary, advance, max_problems)
    return summary


def _lines(path: Path) -> Iterable[tuple[int, str]]:
    with path.open(encoding="utf-8") as handle:
        for number, text in enumerate(handle, start=1):
            if text.strip():
                yield number, text


def _settle(pending: list[tuple[int, Future[Delivery]]], summary: BatchSummary, advance: Callable[[int], None],
            max_problems: int) -> None:
    for number, future in pending:
        try:
            future.result()
            summary.sent += 1
        except DeliveryFailed as exc:
            summary.failed += 1
            _note(summary, number, "<delivery>", str(exc), max_problems)
        advance(1)
    pending.clear()


def _note(summary: BatchSummary, line: int, field: str, reason: str, max_problems: int) -> None:
    if len(summary.problems) < max_problems:
        summary.problems.append(LineProblem(line=line, field=field, reason=reason))
