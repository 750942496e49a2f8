"""The transparency stage's fast paths give the bytes of the slow ones they replace.

An event's leaf is computed by the stage from the decoded Avro datum, and by `simpul audit verify` and a regency
from the stored JSON payload: the two must hash alike for every event the simulator makes. A published receipt is
written as text, not through its model: it must be the model's JSON byte for byte.
"""

from __future__ import annotations

import io
import json
import uuid
from datetime import UTC, datetime

import fastavro
import pytest

from consumers.store.rows import payload_json
from consumers.store.sink import CodecDecoder
from memory_registry import MemoryRegistry
from producers.simulator.faults import FaultMix
from producers.simulator.model import Expect
from producers.simulator.traffic import plan
from schemas.codec import AvroCodec, frame
from schemas.examples import example
from transparency.leaves import datum_leaf, event_leaf
from transparency.log_store import CheckpointRecord, proof_json, proof_text
from transparency.receipts import Receipt
from transparency.stage import Signer, receipt_json
from transparency.tree import MerkleTree

KEY = "unit-test-nik-key-" + "k" * 20


def _codecs() -> tuple[AvroCodec, CodecDecoder]:
    reg = MemoryRegistry()
    producer = AvroCodec(reg)  # type: ignore[arg-type]
    producer.register_all()
    return producer, CodecDecoder(AvroCodec(reg))  # type: ignore[arg-type]


def test_the_leaf_of_a_decoded_datum_is_the_leaf_of_its_stored_payload() -> None:
    producer, decode = _codecs()
    events = [r.event for r in plan(3000, 20261202, FaultMix.clean(), nik_hmac_key=KEY).records
              if r.expect is Expect.EVENT]
    assert len({type(e).__name__ for e in events}) >= 8  # many event types, not one
    for event in events:
        _model, record = decode(producer.encode(event))
        assert datum_leaf(record) == event_leaf(payload_json(record)), event.event_type


@pytest.mark.parametrize("value", [0.1, 1e16, 1e-7, 123456.789, 2.0 ** 60])
def test_floats_hash_alike_however_they_are_written(value: float) -> None:
    producer, decode = _codecs()
    event = example("AirQualityReading")
    body = io.BytesIO()  # the Avro of a datum as given (the model bounds pm25; the leaf must not care)
    fastavro.schemaless_writer(body, producer.catalog.get("AirQualityReading").parsed,
                               {**event.to_avro(), "pm25": value})
    _model, record = decode(frame(producer.schema_id("AirQualityReading"), body.getvalue()))
    assert record["pm25"] == value
    assert datum_leaf(record) == event_leaf(payload_json(record))


def test_a_published_receipt_is_the_receipt_models_json() -> None:
    tree = MerkleTree(bytes([i]) * 32 for i in range(11))
    signer = Signer.from_secret("jatengprov.go.id/simpul/test", "s" * 32)
    record: CheckpointRecord = signer.checkpoint(11, tree.root(), datetime(2026, 12, 2, 18, 0, tzinfo=UTC))
    proofs = tree.inclusion_proofs_hex(0, 11)
    assert proofs == [proof_json(tree.inclusion_proof(i, 11)) for i in range(11)]
    for idx in (0, 5, 10):
        event_id = str(uuid.uuid4())
        text = proof_text(proofs[idx])
        assert json.loads(text) == proofs[idx]
        got = receipt_json(record, (event_id, "3374", idx, 11, text), tree.leaf(idx))
        want = Receipt(event_id=event_id, regency_code="3374", leaf_hash=tree.leaf(idx).hex(), log_index=idx,
                       tree_size=11, inclusion_proof=proofs[idx], checkpoint=record.note,
                       verifier_key=record.verifier_key, origin=record.origin).model_dump_json().encode()
        assert got == want
    assert proof_text([]) == "[]"
