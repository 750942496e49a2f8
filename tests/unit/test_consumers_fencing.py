"""A fenced static member is replaced by a new consumer; other fatal errors still stop the process."""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaError

import consumers.kafka as ck
from consumers.exceptions import ConsumerFenced, StoreError
from consumers.kafka import Stopper, raise_on_fatal, rejoin_when_fenced


class Record:
    def __init__(self, code: int | None) -> None:
        self._err = KafkaError(code) if code is not None else None

    def error(self) -> KafkaError | None:
        return self._err

    def topic(self) -> str:
        return "simpul.canonical.complaint"


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ck.time, "sleep", lambda _s: None)


@pytest.mark.parametrize("code", [KafkaError._FATAL, KafkaError.FENCED_INSTANCE_ID])
def test_fencing_raises_consumer_fenced(code: int) -> None:
    with pytest.raises(ConsumerFenced, match="fenced"):
        raise_on_fatal(Record(code))  # type: ignore[arg-type]


def test_a_missing_topic_is_a_store_error_naming_it() -> None:
    with pytest.raises(StoreError, match="simpul.canonical.complaint"):
        raise_on_fatal(Record(KafkaError.UNKNOWN_TOPIC_OR_PART))  # type: ignore[arg-type]


@pytest.mark.parametrize("code", [None, KafkaError._PARTITION_EOF, KafkaError._TRANSPORT])
def test_passing_errors_and_good_records_do_not_raise(code: int | None) -> None:
    raise_on_fatal(Record(code))  # type: ignore[arg-type]


def test_a_fenced_run_starts_again_with_a_new_consumer() -> None:
    starts: list[int] = []

    def start() -> str:
        starts.append(len(starts))
        if len(starts) < 3:
            raise ConsumerFenced("fenced")
        return "drained"

    assert rejoin_when_fenced(start) == "drained"
    assert len(starts) == 3


def test_fenced_every_time_gives_up_with_the_error() -> None:
    calls = []

    def start() -> None:
        calls.append(1)
        raise ConsumerFenced("two processes share one group.instance.id")

    with pytest.raises(ConsumerFenced):
        rejoin_when_fenced(start, limit=4)
    assert len(calls) == 4


def test_no_rejoin_once_a_stop_was_requested() -> None:
    stop = Stopper()
    stop.stop()
    calls = []

    def start() -> None:
        calls.append(1)
        raise ConsumerFenced("fenced")

    with pytest.raises(ConsumerFenced):
        rejoin_when_fenced(start, stop=stop)
    assert len(calls) == 1
