"""Offset commits survive a moving coordinator (a broker killed) and never raise for what a replay fixes."""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition

import consumers.kafka as ck
from consumers.kafka import Stopper, commit_offsets


class FlakyConsumer:
    """Raises the given errors in turn, then accepts the commit."""

    def __init__(self, *codes: int) -> None:
        self.codes = list(codes)
        self.commits: list[list[TopicPartition]] = []
        self.calls = 0

    def commit(self, *, offsets: list[TopicPartition], asynchronous: bool) -> None:
        self.calls += 1
        if self.codes:
            raise KafkaException(KafkaError(self.codes.pop(0)))
        self.commits.append(offsets)


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ck.time, "sleep", lambda _s: None)


OFFSETS = [TopicPartition("simpul.canonical.complaint", 0, 42)]


def test_waiting_for_coordinator_is_retried_until_it_commits() -> None:
    consumer = FlakyConsumer(KafkaError._WAIT_COORD, KafkaError.COORDINATOR_NOT_AVAILABLE, KafkaError.NOT_COORDINATOR)
    assert commit_offsets(consumer, OFFSETS) is True  # type: ignore[arg-type]
    assert consumer.calls == 4
    assert consumer.commits == [OFFSETS]


def test_a_coordinator_that_stays_away_gives_up_without_raising(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = iter(range(0, 10_000, 7))
    monkeypatch.setattr(ck.time, "monotonic", lambda: float(next(clock)))
    consumer = FlakyConsumer(*[KafkaError._WAIT_COORD] * 100)
    assert commit_offsets(consumer, OFFSETS, within_s=30) is False  # type: ignore[arg-type]
    assert consumer.commits == []
    assert 1 < consumer.calls < 100


def test_a_lost_assignment_is_skipped_at_once() -> None:
    consumer = FlakyConsumer(KafkaError.REBALANCE_IN_PROGRESS)
    assert commit_offsets(consumer, OFFSETS) is False  # type: ignore[arg-type]
    assert consumer.calls == 1


def test_a_stop_request_ends_the_retries() -> None:
    stop = Stopper()
    stop.stop()
    consumer = FlakyConsumer(*[KafkaError._WAIT_COORD] * 5)
    assert commit_offsets(consumer, OFFSETS, stop=stop) is False  # type: ignore[arg-type]
    assert consumer.calls == 1


def test_an_authorization_error_is_raised() -> None:
    consumer = FlakyConsumer(KafkaError.GROUP_AUTHORIZATION_FAILED)
    with pytest.raises(KafkaException):
        commit_offsets(consumer, OFFSETS)  # type: ignore[arg-type]


def test_nothing_to_commit_makes_no_request() -> None:
    consumer = FlakyConsumer()
    assert commit_offsets(consumer, []) is True  # type: ignore[arg-type]
    assert consumer.calls == 0


def test_a_fenced_consumer_is_named_so_it_can_be_replaced() -> None:
    from consumers.exceptions import ConsumerFenced

    consumer = FlakyConsumer(KafkaError.FENCED_INSTANCE_ID)
    with pytest.raises(ConsumerFenced, match="fenced"):
        commit_offsets(consumer, OFFSETS)  # type: ignore[arg-type]
    assert consumer.calls == 1
