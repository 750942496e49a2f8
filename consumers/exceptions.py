"""The consumers' error taxonomy: one root (`ConsumerError`, a `SimpulError`); messages say what to do."""

from __future__ import annotations

from schemas.exceptions import SimpulError


class ConsumerError(SimpulError):
    """Root of every error raised by the `consumers` package."""


class StoreError(ConsumerError):
    """The provincial store cannot be reached, migrated or written (transient: the batch is retried, never skipped)."""


class MigrationError(StoreError):
    """The store's schema could not be brought to the current revision."""


class ConsumerFenced(ConsumerError):
    """The broker fenced this consumer's static membership (`group.instance.id`): librdkafka cannot use the consumer
    again. It happens after a coordinator failover, a lone member fencing itself with its own late rejoin; a new
    consumer with the same id takes the partitions back, and the uncommitted batch is replayed (idempotently)."""


class NoAssignment(ConsumerError):
    """The consumer group was given no partition in time (is another sink of the same group running?)."""


class WebhookConfigError(ConsumerError):
    """The alert dispatch was started without a usable webhook or secret."""
