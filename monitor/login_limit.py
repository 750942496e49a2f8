"""Failed dashboard logins, counted per user name and per client address in a sliding window.

Past the limit a login is answered 429 with Retry-After before any password is checked, which bounds both password
guessing and the argon2 work an attacker can make the dashboard do. Counts live in the process: one dashboard
instance is one limit (several instances each allow the limit).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

SWEEP_ABOVE = 10_000  # keys held before stale ones are swept out, so many guessed names cannot grow memory


class LoginLimiter:
    """At most `max_failures` failed logins per user name and per address within `window_s` seconds."""

    def __init__(self, max_failures: int, window_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_failures, self.window_s, self.clock = max_failures, window_s, clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, user: str, address: str) -> int | None:
        """Seconds until a login for `user` from `address` may be tried again, or None if it may be tried now."""
        now = self.clock()
        waits = []
        with self._lock:
            for key in self._keys(user, address):
                recent = self._recent(key, now)
                if len(recent) >= self.max_failures:
                    waits.append(recent[len(recent) - self.max_failures] + self.window_s - now)
        return max(1, int(max(waits)) + 1) if waits else None

    def failed(self, user: str, address: str) -> None:
        now = self.clock()
        with self._lock:
            if len(self._failures) > SWEEP_ABOVE:
                for key in list(self._failures):
                    self._recent(key, now)
            for key in self._keys(user, address):
                self._failures.setdefault(key, deque()).append(now)

    def succeeded(self, user: str) -> None:
        """A correct password clears the user's count (not the address's: one address may try many names)."""
        with self._lock:
            self._failures.pop(f"user:{user}", None)

    @staticmethod
    def _keys(user: str, address: str) -> tuple[str, str]:
        return f"user:{user}", f"addr:{address}"

    def _recent(self, key: str, now: float) -> deque[float]:
        """The key's failures inside the window; a key with none left is forgotten."""
        recent = self._failures.get(key, deque())
        while recent and recent[0] <= now - self.window_s:
            recent.popleft()
        if not recent:
            self._failures.pop(key, None)
        return recent
