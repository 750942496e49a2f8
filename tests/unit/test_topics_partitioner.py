"""Our murmur2 partitioner equals Kafka's: the Java client's published values (Kafka's UtilsTest), and aiokafka's
pure-Python murmur2 on random keys of every length; a key lands where every client sends it."""

from __future__ import annotations

import random

import pytest
from aiokafka.partitioner import DefaultPartitioner as AiokafkaPartitioner
from aiokafka.partitioner import murmur2 as aiokafka_murmur2

from topics.partitioner import DefaultPartitioner, murmur2, partition_of

JAVA = {  # org.apache.kafka.common.utils.UtilsTest#testMurmur2 (signed 32-bit ints)
    "21": -973932308,
    "foobar": -790332482,
    "a-little-bit-long-string": -985981536,
    "a-little-bit-longer-string": -1486304829,
    "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
    "abc": 479470107,
}


@pytest.mark.parametrize(("text", "signed"), JAVA.items())
def test_the_java_clients_values(text: str, signed: int) -> None:
    assert murmur2(text.encode()) == signed & 0xFFFFFFFF


def test_equal_to_aiokafka_on_random_keys_of_every_length() -> None:
    rng = random.Random(20261203)
    keys = [rng.randbytes(n) for n in range(0, 200) for _ in range(20)] + [b"", b"\xff" * 7, b"\x80\x00\x00\x00"]
    assert [murmur2(k) for k in keys] == [aiokafka_murmur2(k) for k in keys]


def test_partitions_equal_aiokafkas_default_partitioner() -> None:
    rng = random.Random(7)
    ours, theirs = DefaultPartitioner(), AiokafkaPartitioner()
    for n in (1, 3, 6, 12, 35):
        parts = list(range(n))
        for _ in range(300):
            key = f"service_requests|{rng.randrange(3301, 3377)}|service_code|{rng.random()}|1h".encode()
            assert ours(key, parts, parts) == theirs(key, parts, parts) == partition_of(key, n)


def test_no_key_goes_to_an_available_partition() -> None:
    assert DefaultPartitioner()(None, [0, 1, 2, 3], [2]) == 2


def test_partition_cache_stays_bounded_under_unique_keys() -> None:
    """Case ids rarely repeat: a stream of new keys must not grow the cache past its size, nor change answers."""
    from topics.partitioner import PARTITION_CACHE, murmur2, partition_of

    partition_of.cache_clear()
    keys = [f"3374:SR-3374-2026-{n:06d}".encode() for n in range(3 * PARTITION_CACHE)]
    assert all(partition_of(k, 6) == (murmur2(k) & 0x7FFFFFFF) % 6 for k in keys)
    assert partition_of.cache_info().currsize == PARTITION_CACHE
    assert partition_of(b"3374:price:beras", 6) == partition_of(b"3374:price:beras", 6)
    assert partition_of.cache_info().hits >= 1
