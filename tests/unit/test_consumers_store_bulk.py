"""The store sink's fast path: datum decoding, the bulk writer, and the overlapped loop's commit order.

The rows built from decoded Avro data must be the rows the models gave; the bulk SQLite writer must store exactly
what SQLAlchemy's own statements store; offsets are committed only after their rows are (PostgreSQL's COPY path
runs in tests/integration/test_consumers_store.py).
"""

from __future__ import annotations

import io
import json
import uuid
from datetime import timedelta
from typing import Any

import fastavro
import pytest
import sqlalchemy as sa

from consumers.exceptions import StoreError
from consumers.kafka import Stopper
from consumers.store import writer
from consumers.store.db import connect, migrate
from consumers.store.rows import (BatchRows, Coordinates, datum_of, event_row, payload_json, service_request_row)
from consumers.store.sink import CodecDecoder, StoreSink, decoder, fold
from consumers.store.tables import EVENT_TABLES, TABLES, aggregates, alerts, complaints, service_requests
from memory_registry import MemoryRegistry
from schemas.codec import AvroCodec, frame
from schemas.examples import example, examples
from schemas.exceptions import EventValidationError, WireFormatError
from schemas.models import Event
from schemas.records import Aggregate, Alert

AT = Coordinates("p.events.x", 3, 77)


def codecs() -> tuple[AvroCodec, AvroCodec]:
    """(producer, consumer) codecs on one in-memory registry."""
    reg = MemoryRegistry()
    producer = AvroCodec(reg)  # type: ignore[arg-type]
    producer.register_all()
    return producer, AvroCodec(reg)  # type: ignore[arg-type]


def framed(codec: AvroCodec, event_type: str, datum: dict[str, Any], *, raw_ids: bool = False) -> bytes:
    """Confluent-framed Avro of a datum that need not satisfy the model (`raw_ids`: UUIDs written as given)."""
    schema = codec.catalog.get(event_type)
    parsed = schema.parsed
    if raw_ids:
        definition = json.loads(schema.text)
        for f in definition["fields"]:
            if isinstance(f["type"], dict) and f["type"].get("logicalType") == "uuid":
                f["type"] = "string"
        parsed = fastavro.parse_schema(definition, named_schemas={})
    body = io.BytesIO()
    fastavro.schemaless_writer(body, parsed, datum)
    return frame(codec.schema_id(event_type), body.getvalue())


def test_rows_from_the_datum_equal_the_rows_from_the_model() -> None:
    producer, consumer = codecs()
    decode = CodecDecoder(consumer)
    now = example("AirQualityReading").occurred_at
    for name, event in examples().items():
        model, record = decode(producer.encode(event))
        assert model is type(event) and model.model_validate(dict(record)) == event
        assert payload_json(record) == event.model_dump_json()
        row = event_row(model, record, AT, now)
        assert (row["event_id"], row["event_type"]) == (str(event.event_id), name)
        assert row["occurred_at"] == event.occurred_at
        assert service_request_row(name, record) == service_request_row(name, datum_of(event)[1])


def test_the_composition_roots_decode_is_replaced_by_the_datum_decoder() -> None:
    _, consumer = codecs()
    assert isinstance(decoder(consumer.decode), CodecDecoder) and isinstance(decoder(consumer), CodecDecoder)
    assert not isinstance(decoder(lambda data: example("AirQualityReading")), CodecDecoder)


def test_uuids_are_kept_as_canonical_text() -> None:
    producer, consumer = codecs()
    event = example("AirQualityReading")
    upper = {**event.to_avro(), "event_id": str(event.event_id).upper()}
    _, record = CodecDecoder(consumer)(framed(producer, "AirQualityReading", upper, raw_ids=True))
    assert record["event_id"] == str(event.event_id)
    bad = {**event.to_avro(), "event_id": "not-a-uuid"}
    with pytest.raises(WireFormatError, match="AirQualityReading"):
        CodecDecoder(consumer)(framed(producer, "AirQualityReading", bad, raw_ids=True))


class FakeMessage:
    def __init__(self, topic: str, value: bytes | None, offset: int = 0, partition: int = 0) -> None:
        self._t, self._v, self._o, self._p = topic, value, offset, partition

    def error(self): return None  # noqa: E704
    def topic(self): return self._t  # noqa: E704
    def partition(self): return self._p  # noqa: E704
    def offset(self): return self._o  # noqa: E704
    def value(self): return self._v  # noqa: E704


KINDS = {f"p.events.{f}": "events" for f in EVENT_TABLES} | {"p.agg.prices": "agg", "p.alerts": "alerts"}


def topic_of(event: Event) -> str:
    return f"p.events.{type(event).family}"


def test_the_store_refuses_what_it_cannot_hold_and_the_model_check_is_opt_in() -> None:
    producer, consumer = codecs()
    ok = example("ServiceRequestCompleted")
    # breaks only a model rule (completed before it was submitted): stored unless validate=True
    late = ok.occurred_at + timedelta(hours=1)
    backwards = framed(producer, "ServiceRequestCompleted", {**ok.to_avro(), "submitted_at": late})
    # breaks what the store needs: an unknown regency, a case id wider than its column
    nowhere = framed(producer, "ServiceRequestCompleted", {**ok.to_avro(), "regency_code": "9999"})
    wide = framed(producer, "ServiceRequestCompleted", {**ok.to_avro(), "case_id": "C" * 201})
    msgs = [FakeMessage(topic_of(ok), v, i) for i, v in enumerate([backwards, nowhere, wide])]
    lenient = fold(msgs, KINDS, CodecDecoder(consumer))
    assert [at.offset for at, _ in lenient.poison] == [1, 2] and len(lenient.events["governance"]) == 1
    assert all(reason.startswith("EventValidationError") for _, reason in lenient.poison)
    strict = fold(msgs, KINDS, CodecDecoder(consumer, validate=True))
    assert [at.offset for at, _ in strict.poison] == [0, 1, 2] and not strict.events
    with pytest.raises(EventValidationError, match="submitted_at"):
        CodecDecoder(consumer, validate=True)(backwards)


def mixed_batch() -> BatchRows:
    """Every table the sink writes, with every column kind (JSON, booleans, floats, NULLs, timestamps)."""
    b = BatchRows()
    for i, event in enumerate(examples().values()):
        b.add_event(event, Coordinates(topic_of(event), i % 3, i), event.occurred_at)
    at = example("AirQualityReading").occurred_at
    b.add_aggregate(Aggregate(metric="prices", regency_code="3374", dimension="commodity_code",
                              dimension_value="BERAS", window="1d", window_start=at, window_end=at + timedelta(days=1),
                              values={"n": 2, "x": 1.5}, events=2, updated_at=at))
    b.add_alert(Alert(alert_id=str(uuid.uuid4()), rule="fee_above_tariff", severity="warning", regency_code="3374",
                      window_start=at, window_end=at, subject=["3374", "KTP_EL"], message="fee above tariff",
                      evidence_event_ids=[str(uuid.uuid4())], raised_at=at))
    assert b.service_requests and b.complaints
    return b


def raw_rows(engine: sa.Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every stored row as the driver returns it (SQLite: the stored text), JSON parsed."""
    out = {}
    with engine.connect() as conn:
        for name, table in TABLES.items():
            rows = conn.exec_driver_sql(f"select * from {name} order by 1, 2").all()
            json_at = [i for i, c in enumerate(table.columns) if isinstance(c.type, sa.JSON)]
            out[name] = [tuple(json.loads(v) if i in json_at else v for i, v in enumerate(r)) for r in rows]
    return out


def test_bulk_sqlite_writes_what_sqlalchemy_writes(tmp_path) -> None:
    b = mixed_batch()
    bulk, plain = (connect(f"sqlite:///{tmp_path / n}") for n in ("bulk.sqlite", "plain.sqlite"))
    for e in (bulk, plain):
        migrate(e)
    for _ in range(2):  # the second time is a replay: nothing changes
        with bulk.begin() as conn:
            writer.write_batch(conn, b)
        with plain.begin() as conn:
            for family, rows in b.events.items():
                writer.insert_new(conn, EVENT_TABLES[family],
                                  [{**r, "payload": json.loads(r["payload"])} for r in rows.values()])
            writer.upsert_service_requests(conn, list(b.service_requests.values()))
            writer.upsert_complaints(conn, list(b.complaints.values()))
            writer.upsert_aggregates(conn, list(b.aggregates.values()))
            writer.insert_new(conn, alerts, list(b.alerts.values()))
    got, want = raw_rows(bulk), raw_rows(plain)
    assert got == want and sum(len(v) for v in got.values()) == b.row_count
    for e in (bulk, plain):
        e.dispose()


def test_every_table_has_a_copy_type_and_the_event_tables_share_one_stage() -> None:
    for table in (*EVENT_TABLES.values(), service_requests, complaints, aggregates, alerts):
        assert len(writer._stage(table).oids) == len(table.columns) + 1
        merge = writer._merge(table, writer._do_nothing)
        assert f"INSERT INTO {table.name} " in merge and f"= '{table.name}'" in merge
    assert len({writer._stage(t).table.name for t in EVENT_TABLES.values()}) == 1


class FakeConsumer:
    """Hands out prepared batches; records each commit with the event rows stored at that moment."""

    def __init__(self, batches: list[list[FakeMessage]], engine: sa.Engine, stop: Stopper) -> None:
        self.batches, self.engine, self.stop = list(batches), engine, stop
        self.commits: list[tuple[list[tuple[str, int, int]], int]] = []
        self.waited: list[bool] = []

    def subscribe(self, topics: list[str]) -> None: ...

    def consume(self, num_messages: int, timeout: float) -> list[FakeMessage]:
        if self.batches:
            return self.batches.pop(0)
        self.stop.stop()
        return []

    def commit(self, offsets: list[Any], asynchronous: bool) -> None:
        with self.engine.connect() as conn:
            stored = sum(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
                         for t in EVENT_TABLES.values())
        self.commits.append(([(tp.topic, tp.partition, tp.offset) for tp in offsets], stored))
        self.waited.append(not asynchronous)

    def assignment(self) -> list[Any]:
        return []

    def close(self) -> None: ...


def event_batches(producer: AvroCodec, sizes: list[int]) -> list[list[FakeMessage]]:
    out, offset = [], 0
    for size in sizes:
        batch = []
        for _ in range(size):
            event = example("AirQualityReading", event_id=uuid.uuid4())
            batch.append(FakeMessage(topic_of(event), producer.encode(event), offset))
            offset += 1
        out.append(batch)
    return out


def test_overlapped_loop_commits_each_batchs_offsets_after_its_rows(tmp_path) -> None:
    producer, consumer = codecs()
    engine = connect(f"sqlite:///{tmp_path / 's.sqlite'}")
    migrate(engine)
    stop = Stopper()
    fake = FakeConsumer(event_batches(producer, [3, 4, 2]), engine, stop)
    stats = StoreSink(engine, fake, KINDS, decoder(consumer)).run(stop=stop)  # type: ignore[arg-type]
    assert [c for c, _ in fake.commits] == [[("p.events.environment", 0, 3)], [("p.events.environment", 0, 7)],
                                            [("p.events.environment", 0, 9)]]
    assert all(stored >= offsets[0][2] for offsets, stored in fake.commits)  # never an offset ahead of its rows
    assert fake.waited == [False, False, True]  # the last commit before leaving is synchronous
    assert (stats.batches, stats.records, stats.rows) == (3, 9, 9)
    engine.dispose()


def test_a_failed_write_leaves_its_offsets_uncommitted(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    producer, consumer = codecs()
    engine = connect(f"sqlite:///{tmp_path / 's.sqlite'}")
    migrate(engine)
    real, calls = writer.write_batch, []

    def flaky(conn: sa.Connection, batch: BatchRows) -> None:
        calls.append(batch.records)
        if len(calls) == 2:
            raise sa.exc.OperationalError("insert", {}, Exception("database is locked"))
        real(conn, batch)

    monkeypatch.setattr("consumers.store.sink.write_batch", flaky)
    stop = Stopper()
    fake = FakeConsumer(event_batches(producer, [3, 4, 2]), engine, stop)
    sink = StoreSink(engine, fake, KINDS, decoder(consumer), write_retries=1)  # type: ignore[arg-type]
    with pytest.raises(StoreError, match="restart replays it"):
        sink.run(stop=stop)
    assert fake.commits == [([("p.events.environment", 0, 3)], 3)]
    engine.dispose()
