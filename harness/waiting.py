"""Waiting on a condition with a generous deadline (the machine is shared and slow), never on a fixed sleep."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from confluent_kafka import KafkaException


class Deadline(AssertionError):
    pass


def wait_for(what: str, done: Callable[[], bool], timeout: float = 300.0,
             alive: Callable[[], None] | None = None, every: float = 0.5) -> float:
    """Poll `done` until true; `alive` raises if a process we depend on died. Returns the seconds waited."""
    started = time.monotonic()
    deadline = started + timeout
    while True:
        if alive is not None:
            alive()
        try:
            if done():
                return time.monotonic() - started
        except KafkaException as exc:  # a broker restarting or killed: ask again
            print(f"wait_for({what}): {exc}", file=sys.stderr)
        if time.monotonic() > deadline:
            raise Deadline(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(every)
