"""Errors of the stream processors. A poison message (it will never process: send it to the DLQ) is a different
type from a transient failure (retry, or crash and let the restart resume from the committed offset)."""

from __future__ import annotations

from schemas.exceptions import SimpulError


class StreamsError(SimpulError):
    """Root of every error raised by the `streams` package."""


class TransientFailure(StreamsError):
    """A failure that may pass (registry or broker unreachable): do not DLQ the record; retry or restart."""


class RulesConfigError(StreamsError):
    """streams/rules.yaml (or the file SIMPUL_ALERT_RULES_FILE names) is missing or malformed."""


class RecoveryError(StreamsError):
    """The gatekeeper could not read the tail of the canonical topics or the DLQ before starting."""


class StateWriteError(StreamsError):
    """A processor's local state (the gatekeeper's dedup cache) cannot be written, e.g. its disk is full: the
    processor stops before committing anything that depends on it, and resumes from the committed offsets."""


class StartupRefused(StreamsError):
    """The cluster refused a processor's start-up for good (its principal may not create or describe its internal
    topics): retrying would not help, the ACLs must change."""
