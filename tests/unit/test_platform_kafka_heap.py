"""The local broker's heap flags: growing by default, committed and pre-touched when asked (the soak's setting)."""

from __future__ import annotations

from simpul.platform.local_kafka import broker_heap
from simpul.settings import Settings


def test_default_heap_grows_from_256m_to_its_limit() -> None:
    assert broker_heap(1, committed=False) == ["-Xms256m", "-Xmx1g"]
    assert broker_heap(3, committed=False) == ["-Xms256m", "-Xmx512m"]


def test_committed_heap_starts_at_its_limit_and_is_touched() -> None:
    assert broker_heap(1, committed=True) == ["-Xms1g", "-Xmx1g", "-XX:+AlwaysPreTouch"]
    assert broker_heap(3, committed=True) == ["-Xms512m", "-Xmx512m", "-XX:+AlwaysPreTouch"]


def test_the_setting_reads_from_the_environment(monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("SIMPUL_KAFKA_HEAP_COMMITTED", "1")
    assert Settings().kafka_heap_committed is True
    monkeypatch.delenv("SIMPUL_KAFKA_HEAP_COMMITTED")
    assert Settings().kafka_heap_committed is False
