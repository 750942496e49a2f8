"""The transparency log's errors: a proof or a signature that does not verify says which and why."""

from __future__ import annotations

from schemas.exceptions import SimpulError


class TransparencyError(SimpulError):
    """Root of the transparency log's errors."""


class ProofError(TransparencyError):
    """An inclusion or consistency proof, or its request, is not valid for the trees it names."""


class NoteError(TransparencyError):
    """A signed checkpoint is malformed, or not signed by the key it is checked against."""
