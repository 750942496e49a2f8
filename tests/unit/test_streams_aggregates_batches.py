"""The aggregates worker's per-batch path gives the aggregates the per-record path gave: observations from the
decoded datum equal those from the model, and partial accumulators merged per window key equal folding the
observations one by one (samples, sums and all)."""

from __future__ import annotations

import pytest
from aiokafka.partitioner import DefaultPartitioner

from memory_registry import MemoryRegistry, canonical_traffic
from producers.simulator import FaultMix, plan
from schemas.codec import AvroCodec
from schemas.datum import CodecDecoder, EventView
from schemas.nik import tokenise_event
from streams.aggregates import accumulators as acc
from streams.aggregates.app import REPARTITIONS, by_partition, partition_of
from streams.aggregates.logic import WindowKeys, keys_for, observe
from streams.runtime import decode_canonical, read_canonical

KEY = "aggregates-batches-test-key-0123"
WINDOWS = (("1h", 3600), ("1d", 86400), ("30d", 30 * 86400))  # a wide one: windows with more values than a sample


@pytest.fixture(scope="module")
def canonical() -> tuple[AvroCodec, list[bytes]]:
    """Simulator traffic with its anomalies, as the gatekeeper writes it to the canonical topics."""
    return canonical_traffic(3000, 11, KEY)


def test_observations_from_the_datum_equal_those_from_the_model(canonical: tuple[AvroCodec, list[bytes]]) -> None:
    codec, values = canonical
    decode = CodecDecoder(codec)
    seen: set[str] = set()
    observed = 0
    for value in values:
        view = read_canonical(decode, value)
        assert isinstance(view, EventView)
        model = decode_canonical(codec, value)
        assert type(view).event_type == type(model).event_type
        from_view, from_model = observe(view), observe(model)  # type: ignore[arg-type]
        assert from_view == from_model
        observed += len(from_view)
        seen.add(type(view).event_type)
        for obs in from_view:
            assert WindowKeys(WINDOWS)(obs) == [(k, label, start.isoformat(), end.isoformat())
                                                for k, label, start, end in keys_for(obs, WINDOWS)]
    assert observed > len(values) // 2
    assert {"ServiceRequestCompleted", "AirQualityReading", "PublicWorksProgress", "SchoolQuotaPublished"} <= seen


def test_view_reads_the_datum_and_names_the_model() -> None:
    codec = AvroCodec(MemoryRegistry())  # type: ignore[arg-type]
    codec.register_all()
    records = plan(50, 3, FaultMix.clean(), nik_hmac_key=KEY).records
    event = tokenise_event(records[0].event, KEY.encode())
    view = read_canonical(CodecDecoder(codec), codec.encode(event))
    assert isinstance(view, EventView)
    assert view.ordering_key == event.ordering_key and view.occurred_at == event.occurred_at
    assert view.event_id == str(event.event_id)
    with pytest.raises(AttributeError, match="no field 'not_a_field'"):
        view.not_a_field  # noqa: B018
    assert isinstance(read_canonical(CodecDecoder(codec), b"not avro"), Exception)
    assert isinstance(read_canonical(CodecDecoder(codec), None), Exception)


def _one_by_one(values: list[bytes], codec: AvroCodec, sample_size: int) -> dict[str, dict]:
    table: dict[str, dict] = {}
    for value in values:
        for obs in observe(decode_canonical(codec, value)):  # type: ignore[arg-type]
            for key, *_ in keys_for(obs, WINDOWS):
                table[key] = acc.add(table.get(key), obs.counts, obs.values, obs.ratios, sample_size=sample_size)
    return table


def _batched(values: list[bytes], codec: AvroCodec, sample_size: int, batch: int) -> dict[str, dict]:
    decode, window_keys = CodecDecoder(codec), WindowKeys(WINDOWS)
    table: dict[str, dict] = {}
    for i in range(0, len(values), batch):
        partials: dict[str, dict] = {}
        for value in values[i:i + batch]:
            for obs in observe(read_canonical(decode, value)):  # type: ignore[arg-type]
                for key, *_ in window_keys(obs):
                    acc.fold_into(partials.setdefault(key, acc.empty()), obs.counts, obs.values, obs.ratios)
        for key, part in partials.items():
            table[key] = acc.merge(table.get(key), part, sample_size=sample_size)
    return table


@pytest.mark.parametrize("sample_size,batch", [(8, 97), (512, 1000)])
def test_merged_partials_equal_folding_one_by_one(canonical: tuple[AvroCodec, list[bytes]], sample_size: int,
                                                   batch: int) -> None:
    codec, values = canonical
    expected = _one_by_one(values, codec, sample_size)
    got = _batched(values, codec, sample_size, batch)
    assert got == expected
    assert {k: acc.snapshot(v) for k, v in got.items()} == {k: acc.snapshot(v) for k, v in expected.items()}
    # the small sample was really drawn from (a window with more values than it keeps)
    assert any(s["n"] > sample_size for a in expected.values() for s in a["stats"].values()) == (sample_size == 8)


def test_merge_replays_a_reservoir_exactly() -> None:
    values = [float((i * 7919) % 1000) / 7 for i in range(300)]
    one_by_one: dict | None = None
    for v in values:
        one_by_one = acc.add(one_by_one, {"n": 1}, {"x": v}, {"low": v < 50}, sample_size=16)
    merged: dict | None = None
    for start in (0, 5, 130, 131):  # batches of uneven sizes, the first one smaller than the sample
        end = {0: 5, 5: 130, 130: 131, 131: 300}[start]
        part = acc.empty()
        for v in values[start:end]:
            acc.fold_into(part, {"n": 1}, {"x": v}, {"low": v < 50})
        merged = acc.merge(merged, part, sample_size=16)
    assert merged == one_by_one
    assert merged is not None and merged["stats"]["x"]["sum"] == one_by_one["stats"]["x"]["sum"]  # same float rounding


def test_a_partial_that_lost_values_is_refused() -> None:
    bounded = acc.add(acc.add(None, values={"x": 1.0}, sample_size=8), values={"x": 2.0}, sample_size=8)
    bounded["stats"]["x"]["sample"] = [1.0]
    with pytest.raises(acc.IncompletePartial, match="keep 1 of 2 values"):
        acc.merge(None, bounded)


def test_partials_go_to_their_window_keys_partition() -> None:
    keys = [f"prices|33{i:02d}|BERAS|1h|2026-01-0{i % 9 + 1}T00:00:00+00:00" for i in range(40)]
    partials = {k: {"key": k} for k in keys}
    messages = by_partition(partials, per_message=3)
    assert sorted(item["key"] for _, items in messages for item in items) == sorted(keys)
    assert all(1 <= len(items) <= 3 for _, items in messages)
    every = list(range(REPARTITIONS))
    for partition, items in messages:
        for item in items:  # the partition Kafka's default partitioner gave each window key as a message key
            assert partition == partition_of(item["key"].encode()) == DefaultPartitioner()(item["key"].encode(), every, every)
