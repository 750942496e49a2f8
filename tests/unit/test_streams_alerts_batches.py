"""The alerts worker's per-batch path raises the alerts the per-record path raised: every rule on the decoded
datum (no model per record) gives what it gives on the model, a message's state buffer writes each subject once
and ends in the same state, and the packed repartition messages carry every (subject, record) pair."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka.partitioner import DefaultPartitioner

from memory_registry import canonical_traffic
from schemas.codec import AvroCodec
from schemas.datum import CodecDecoder
from schemas.outcomes import AlertRule
from streams.alerts.app import REPARTITIONS, by_partition, case_key, pack, partition_of, unpack
from streams.alerts.rules import BufferedState, Deduplicator, evaluate, keyed_by_case, load_rules, partition_keys
from streams.runtime import decode_canonical, read_canonical

KEY = "alerts-batches-test-key-01234567"
RULES = load_rules()
NOW = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def canonical() -> tuple[AvroCodec, list[bytes]]:
    """Simulator traffic with its anomalies (the alerts it plans), as the gatekeeper writes it."""
    return canonical_traffic(4000, 5, KEY)


def _alerts(events: list[Any], state: dict[str, Any]) -> list[dict[str, Any]]:
    """Every alert, as the worker would run them: each event under each of its partition keys."""
    raised = []
    for event in events:
        for key in partition_keys(event):
            raised += [a.model_dump() for a in evaluate(event, RULES, state, NOW, key=key)]
    return raised


def test_every_rule_raises_the_same_alerts_on_the_datum(canonical: tuple[AvroCodec, list[bytes]]) -> None:
    codec, values = canonical
    decode = CodecDecoder(codec)
    models = [decode_canonical(codec, v) for v in values]
    views = [read_canonical(decode, v) for v in values]
    assert [partition_keys(v) for v in views] == [partition_keys(m) for m in models]  # type: ignore[arg-type]
    state_model: dict[str, Any] = {}
    state_view: dict[str, Any] = {}
    from_model, from_view = _alerts(models, state_model), _alerts(views, state_view)
    assert from_view == from_model
    assert state_view == state_model
    fired = {a["rule"] for a in from_model}
    assert len(fired) >= 6, fired  # the plan's anomalies reach most rules
    assert AlertRule.FEE_ABOVE_TARIFF in fired and AlertRule.AID_DOUBLE_PAYMENT in fired


class CountingTable(dict):
    """A dict that counts writes, as a Faust table would write its changelog."""

    writes = 0

    def __setitem__(self, key: str, value: Any) -> None:
        self.writes += 1
        super().__setitem__(key, value)


def test_a_message_buffer_writes_each_subject_once(canonical: tuple[AvroCodec, list[bytes]]) -> None:
    codec, values = canonical
    decode = CodecDecoder(codec)
    pairs = [(key.encode(), v) for v in values for key in partition_keys(read_canonical(decode, v))]  # type: ignore[arg-type]
    direct, per_event = CountingTable(), []
    for key, value in pairs:
        per_event += evaluate(read_canonical(decode, value), RULES, direct, NOW, key=key.decode())  # type: ignore[arg-type]
    table, batched = CountingTable(), []
    for _, items in by_partition(pairs, per_message=200):  # as the worker: one buffer per message
        buffered = BufferedState(table)
        for key, value in unpack(pack(items), None):
            batched += evaluate(read_canonical(decode, value), RULES, buffered, NOW, key=key)  # type: ignore[arg-type]
        buffered.flush()
    assert dict(table) == dict(direct)
    assert sorted(a.alert_id for a in batched) == sorted(a.alert_id for a in per_event)
    assert [a.model_dump() for a in Deduplicator({}).new(batched)] != []
    assert table.writes < direct.writes  # subjects written once per message, not once per event


def test_buffered_state_reads_through_and_writes_on_flush() -> None:
    table = CountingTable(a={"n": 1})
    buffered = BufferedState(table)
    assert buffered.get("a") == {"n": 1} and buffered.get("b") is None and buffered.get("b", 7) == 7
    with pytest.raises(KeyError):
        buffered["b"]  # noqa: B018
    buffered["b"] = {"n": 2}
    buffered["b"] = {"n": 3}
    assert "b" not in table and buffered["b"] == {"n": 3}
    assert buffered.flush() == 1 and table == {"a": {"n": 1}, "b": {"n": 3}} and table.writes == 1
    assert buffered.flush() == 0


def test_packed_messages_keep_every_pair_in_order() -> None:
    pairs = [(f"3374|PUNGLI|{i % 7}".encode(), b"\x00\x00\x00\x00\x07" + bytes([i % 256]) * (i % 50)) for i in range(300)]
    messages = by_partition(pairs, per_message=40)
    every = list(range(REPARTITIONS))
    back = []
    for partition, items in messages:
        assert 1 <= len(items) <= 40
        assert all(partition == partition_of(k) == DefaultPartitioner()(k, every, every) for k, _ in items)
        back += [(k.encode(), v) for k, v in unpack(pack(items), items[0][0])]  # type: ignore[union-attr]
    assert sorted(back) == sorted(pairs)
    for partition, _ in messages:  # within a partition, the batch's order is kept
        mine = [p for p in pairs if partition_of(p[0]) == partition]
        assert [p for p in back if partition_of(p[0]) == partition] == mine


def test_a_single_record_message_from_before_the_batching_is_one_pair() -> None:
    framed = b"\x00\x00\x00\x00\x07avro body"
    assert list(unpack(framed, b"3374|PUNGLI")) == [("3374|PUNGLI", framed)]
    assert list(unpack(framed, None)) == [(None, framed)]


def test_records_keyed_by_their_case_are_routed_without_a_decode(canonical: tuple[AvroCodec, list[bytes]]) -> None:
    """Routing by the message key (as the gatekeeper writes it: `<regency_code>:<case_id>`) and the writer schema
    id puts every record under the subject keys its datum gives; the other types are left to be read."""
    codec, values = canonical
    decode = CodecDecoder(codec)
    by_key, read = 0, set()
    for value in values:
        view = read_canonical(decode, value)
        message_key = f"{view.regency_code}:{view.case_id}".encode()  # streams.gatekeeper.logic: Routed.key
        fast = case_key(decode, value, message_key)
        if fast is None:
            read.add(type(view).event_type)
            assert not keyed_by_case(type(view).event_type)
        else:
            by_key += 1
            assert (fast.decode(),) == partition_keys(view)  # type: ignore[arg-type]
    assert by_key >= len(values) // 4, (by_key, len(values))
    assert {"ComplaintFiled", "StapleFoodPriceObserved", "SocialAidDisbursed"} <= read
    assert case_key(decode, values[0], None) is None  # no key: read it
    assert case_key(decode, b"not framed", b"3301:x") is None  # its read names the fault
