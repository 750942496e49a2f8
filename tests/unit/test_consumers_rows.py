"""Record -> rows, the merge rules, and the SQL upserts on a real SQLite file (no broker)."""

from __future__ import annotations

import itertools
import json
import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from consumers.store.db import connect, migrate
from consumers.store.rows import (BatchRows, Coordinates, aggregate_row, complaint_row, datum_of, merge_complaint,
                                  merge_service_request, service_request_row)
from consumers.store.sink import fold
from consumers.store.tables import aggregates, complaints, counts, service_requests
from consumers.store.writer import write_batch
from schemas.examples import example
from schemas.reference import standard_for
from schemas.records import Aggregate

AT = datetime(2025, 3, 3, 2, 0, tzinfo=UTC)


def _id(n: int) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"test:{n}")


def submitted(fee: int = 0, n: int = 1):
    return example("ServiceRequestSubmitted", event_id=_id(n), case_id="SR-1", fee_charged_idr=fee, occurred_at=AT)


def completed(hours: float, outcome: str = "ISSUED", fee: int = 0, n: int = 2):
    return example("ServiceRequestCompleted", event_id=_id(n), case_id="SR-1", outcome=outcome, fee_charged_idr=fee,
                   submitted_at=AT, occurred_at=AT + timedelta(hours=hours))


def test_event_row_keeps_the_envelope_payload_and_coordinates() -> None:
    b = BatchRows()
    ev = example("HealthFacilityVisit")
    b.add_event(ev, Coordinates("p.events.living", 2, 41), AT)
    (row,) = b.events["living"].values()
    assert row["event_id"] == str(ev.event_id) and row["event_type"] == "HealthFacilityVisit"
    assert (row["source_topic"], row["source_partition"], row["source_offset"]) == ("p.events.living", 2, 41)
    assert json.loads(row["payload"])["facility_code"] == ev.facility_code and row["occurred_at"].tzinfo is not None
    assert row["payload"] == ev.model_dump_json()


def sr_row(event):
    model, record = datum_of(event)
    return service_request_row(model.event_type, record)


def cp_row(event):
    model, record = datum_of(event)
    return complaint_row(model.event_type, record)


def test_service_request_rows_compute_sla_and_fee_anomaly() -> None:
    std = standard_for("KTP_EL", "3374")
    ok = sr_row(completed(std.completion_time_hours * 0.5))
    late = sr_row(completed(std.completion_time_hours + 1))
    assert ok["sla_met"] is True and late["sla_met"] is False
    assert ok["completion_hours"] == std.completion_time_hours * 0.5
    assert sr_row(completed(999, outcome="REJECTED"))["sla_met"] is None
    assert sr_row(submitted(fee=std.official_fee_idr + 5000))["fee_anomaly"] is True
    assert sr_row(submitted(fee=std.official_fee_idr))["fee_anomaly"] is False
    assert sr_row(example("HealthFacilityVisit")) is None


def test_merges_are_commutative_and_idempotent() -> None:
    rows = [sr_row(submitted(fee=50_000)), sr_row(completed(3))]
    a = merge_service_request(rows[0], rows[1])
    assert a == merge_service_request(rows[1], rows[0]) == merge_service_request(a, rows[0])
    assert a["submitted_at"] == AT and a["outcome"] == "ISSUED" and a["fee_anomaly"] is True
    filed = cp_row(example("ComplaintFiled", occurred_at=AT))
    moved = cp_row(example("ComplaintStatusChanged", occurred_at=AT + timedelta(hours=1), from_status="FORWARDED", to_status="IN_PROGRESS"))
    c = merge_complaint(filed, moved)
    assert c == merge_complaint(moved, filed) == merge_complaint(c, moved)
    assert c["status"] == "IN_PROGRESS" and c["filed_at"] == AT and c["service_code"] == "KTP_EL"


def test_sql_upserts_match_the_python_merge_in_any_order_and_on_replay(tmp_path) -> None:
    engine = connect(f"sqlite:///{tmp_path / 's.sqlite'}")
    migrate(engine)
    events = [submitted(fee=50_000), completed(3), example("ComplaintFiled", occurred_at=AT),
              example("ComplaintStatusChanged", occurred_at=AT + timedelta(hours=1), from_status="FORWARDED", to_status="IN_PROGRESS")]
    for order in itertools.permutations(events):
        with engine.begin() as conn:
            conn.execute(sa.delete(service_requests))
            conn.execute(sa.delete(complaints))
        for ev in [*order, *order]:  # one record per batch, each twice: replays change nothing
            b = BatchRows()
            b.add_event(ev, Coordinates("t", 0, 0), AT)
            with engine.begin() as conn:
                write_batch(conn, b)
        with engine.connect() as conn:
            sr = conn.execute(sa.select(service_requests)).one()._mapping
            cp = conn.execute(sa.select(complaints)).one()._mapping
        assert (sr["submitted_at"], sr["outcome"], sr["fee_anomaly"], sr["fee_charged_idr"]) == (AT, "ISSUED", True, 50_000)
        assert (cp["status"], cp["filed_at"], cp["service_code"]) == ("IN_PROGRESS", AT, "KTP_EL")
    with engine.connect() as conn:
        c = counts(conn)
    assert c["events_governance"] == 4 and c["service_requests"] == 1 and c["complaints"] == 1
    engine.dispose()


def _agg(events: int, minute: int) -> Aggregate:
    return Aggregate(metric="prices", regency_code="3374", dimension="commodity_code", dimension_value="BERAS",
                     window="1d", window_start=AT, window_end=AT + timedelta(days=1), values={"n": events},
                     events=events, updated_at=AT + timedelta(minutes=minute))


def test_aggregates_keep_the_newest_value(tmp_path) -> None:
    engine = connect(f"sqlite:///{tmp_path / 's.sqlite'}")
    migrate(engine)
    for batch in ([_agg(1, 1), _agg(3, 3)], [_agg(2, 2)], [_agg(3, 3)]):
        b = BatchRows()
        for a in batch:
            b.add_aggregate(a)
        with engine.begin() as conn:
            write_batch(conn, b)
    with engine.connect() as conn:
        row = conn.execute(sa.select(aggregates)).one()._mapping
    assert row["events"] == 3 and row["values"] == {"n": 3} and row["window_key"] == _agg(1, 1).window_key
    assert aggregate_row(_agg(1, 1))["window_start"].tzinfo is not None
    engine.dispose()


class FakeMessage:
    def __init__(self, topic: str, value: bytes | None, offset: int = 0) -> None:
        self._t, self._v, self._o = topic, value, offset

    def error(self): return None  # noqa: E704
    def topic(self): return self._t  # noqa: E704
    def partition(self): return 0  # noqa: E704
    def offset(self): return self._o  # noqa: E704
    def value(self): return self._v  # noqa: E704


def test_fold_skips_poison_records_and_keeps_going() -> None:
    ev = example("AirQualityReading")
    kinds = {"p.events.environment": "events", "p.agg.prices": "agg", "p.alerts": "alerts"}

    def decode(data: bytes):
        if data == b"ok":
            return datum_of(ev)
        raise ValueError("not framed")

    msgs = [FakeMessage("p.events.environment", b"garbage", 1), FakeMessage("p.events.environment", b"ok", 2),
            FakeMessage("p.agg.prices", b"{}", 3), FakeMessage("p.alerts", None, 4),
            FakeMessage("p.agg.prices", _agg(1, 1).to_bytes(), 5)]
    batch = fold(msgs, kinds, decode)
    assert [str(at) for at, _ in batch.poison] == ["p.events.environment:0:1", "p.agg.prices:0:3", "p.alerts:0:4"]
    assert len(batch.events["environment"]) == 1 and len(batch.aggregates) == 1 and batch.records == 5
