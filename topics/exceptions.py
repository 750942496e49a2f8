"""Errors of topic provisioning; each message says what the operator can do about it.

`TopicsError` is the root of this package's errors and derives from Simpul's one root, `SimpulError`, which
lives in the bottom layer (`schemas`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from schemas.exceptions import SimpulError


class Described(Protocol):
    """What the refusal needs of a planned change (`topics.plan.Change`): one line that says what it would do."""

    def describe(self) -> str: ...


class TopicsError(SimpulError):
    """Anything that went wrong while reading the catalog, reading the cluster or changing it."""


class TopicCatalogError(TopicsError):
    """topics.yaml is missing, malformed, or cannot be expanded with the values given."""


class ClusterUnreachable(TopicsError):
    """The broker did not answer; the message names the bootstrap address that was tried."""


class ClusterStateError(TopicsError):
    """The broker answered, but reading or changing topic state failed."""


class DestructiveChangeRefused(TopicsError):
    """The plan holds changes that would lose data, and the operator did not allow them.

    Nothing is applied when this is raised: a half-applied plan is harder to reason about than none.
    """

    def __init__(self, refused: Sequence[Described]) -> None:
        self.refused = list(refused)
        lines = "\n".join(f"  - {change.describe()}" for change in self.refused)
        super().__init__(
            f"{len(self.refused)} change(s) would lose data and were refused; nothing was changed:\n{lines}\n"
            "Review them with `simpul topics plan`, then either fix topics.yaml or rerun "
            "`simpul topics apply --allow-destructive`."
        )
