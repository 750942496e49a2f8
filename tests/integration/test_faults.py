"""Faults beyond kills (docs/operations.md, "Faults beyond kills"): the schema registry stopped, PostgreSQL
restarted under the store sink, the gatekeeper's state folder out of space, and one of three brokers hung.

Each runs on a platform of its own: the registry, PostgreSQL and state-folder faults on one private platform
(`simpul platform up --with-postgres`, free ports, own state folder) shared by the module, each with its own topic
prefix; the hung broker on a private three-node cluster. The suite's platform is never touched.

`make test` runs a), b) and c) (about three minutes on two cores), with the registry down for 20 s; with
SIMPUL_LONG_TESTS=1 the registry stays down for a minute and d) runs too (its three-node cluster alone takes two
to three minutes to start): `SIMPUL_LONG_TESTS=1 pytest tests/integration/test_faults.py` with the suite's
environment (Makefile, TEST_ENV).
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.schema_registry.error import SchemaRegistryError
from fault_platform import (FaultPipeline, FaultPlatform, canonical_ids, dlq_reasons, events, send, sink_stats)
from private_platform import fetched_lib

import harness as h
from consumers.store.db import connect
from consumers.store.tables import EVENT_TABLES
from producers.simulator import plan
from producers.simulator.model import Expect
from producers.simulator.send import send_sdk
from schemas.catalog import FAMILIES
from schemas.codec import AvroCodec
from schemas.exceptions import RegistryError, WireFormatError
from simpul import bootstrap
from streams.runtime import data_dir

pytestmark = [pytest.mark.integration]

LONG = os.environ.get("SIMPUL_LONG_TESTS") == "1"
REGISTRY_OUTAGE_S = 60.0 if LONG else 20.0
POSTGRES_DOWN_S = 12.0  # longer than the sink's old retry budget (5 attempts, 7.5 s)
BROKER_HUNG_S = 30.0

CACHED, UNCACHED = "ServiceRequestSubmitted", "HealthFacilityVisit"  # of two families: two canonical topics


@pytest.fixture(scope="module")
def private() -> Iterator[FaultPlatform]:
    platform = FaultPlatform.up()
    try:
        yield platform
    finally:
        platform.down()


def pipeline(private: FaultPlatform, tmp_path: Path, store_url: str | None = None) -> FaultPipeline:
    p = FaultPipeline(private.settings, f"flt{uuid.uuid4().hex[:8]}", tmp_path / "state")
    p.store_url = store_url or f"sqlite:///{tmp_path / 'store.sqlite'}"
    p.provision()
    return p


def family_topic(p: h.Pipeline, event_type: str) -> str:
    from schemas.models import model_for

    return p.topics.events(model_for(event_type).family).name


def store_ids(url: str) -> list[str]:
    """Every event id in the store's event tables (a repeat would show twice)."""
    import sqlalchemy as sa

    engine = connect(url)
    try:
        with engine.connect() as conn:
            return [i for f in FAMILIES for (i,) in conn.execute(sa.select(EVENT_TABLES[f].c.event_id))]
    except sa.exc.DBAPIError:  # not migrated yet, or the database restarting
        return []
    finally:
        engine.dispose()


# ---- a) the schema registry stops ---------------------------------------------------------------------------------

class _AnsweringError:
    """A registry client whose every request is answered with an HTTP error (a registry starting or overloaded)."""

    def __init__(self, status: int) -> None:
        self.status = status

    def get_schema(self, schema_id: int) -> Any:
        raise SchemaRegistryError(self.status, 50001 if self.status >= 500 else 40403, "unavailable")

    lookup_schema = get_schema


@pytest.mark.parametrize("status", [500, 503])
def test_a_registry_answering_an_error_is_an_outage_not_an_undecodable_record(status: int) -> None:
    """Only an id the registry does not know (404) makes a record undecodable; any other answer is the registry's
    trouble, raised as RegistryError so the gatekeeper waits and retries instead of sending the record to the DLQ."""
    codec = AvroCodec(_AnsweringError(status))  # type: ignore[arg-type]
    framed = bytes([0, 0, 0, 0, 42]) + b"\x00"
    with pytest.raises(RegistryError) as raised:
        codec.decode_record(framed)
    assert not isinstance(raised.value, WireFormatError)
    with pytest.raises(WireFormatError, match="unknown to the registry"):
        AvroCodec(_AnsweringError(404)).decode_record(framed)  # type: ignore[arg-type]


@pytest.mark.timeout(600)
def test_a_registry_stopped_producers_and_gatekeeper_go_on_and_nothing_reaches_the_dlq(
        private: FaultPlatform, tmp_path: Path) -> None:
    p = pipeline(private, tmp_path)
    try:
        producer_codec = AvroCodec.from_url(p.settings.registry)
        producer_codec.schema_id(CACHED), producer_codec.schema_id(UNCACHED)  # the producer knows both ids
        p.start("gatekeeper")
        before = events(CACHED, 30)
        send(p.settings, p.prefix, producer_codec, before)
        h.wait_for("the first events routed", lambda: h.count(p.settings, [family_topic(p, CACHED)]) == 30,
                   timeout=120, alive=p.alive)

        private.stop("registry")
        stopped_at = time.monotonic()
        # a producer without a cached id is told at once, with the registry named
        with pytest.raises(RegistryError, match="cannot reach the registry"):
            AvroCodec.from_url(p.settings.registry).encode(events(CACHED, 1)[0])
        # the producer and the gatekeeper go on with the schema ids they hold
        during = events(CACHED, 30)
        send(p.settings, p.prefix, producer_codec, during)
        h.wait_for("events of a cached schema routed while the registry is down",
                   lambda: h.count(p.settings, [family_topic(p, CACHED)]) == 60, timeout=REGISTRY_OUTAGE_S,
                   alive=p.alive)
        # a schema id the gatekeeper never fetched: the records wait, none is rejected as undecodable
        waiting = events(UNCACHED, 20)
        send(p.settings, p.prefix, producer_codec, waiting)
        h.wait_for("the gatekeeper retrying the schema it lacks",
                   lambda: "retrying in" in p.log_text("gatekeeper"), timeout=REGISTRY_OUTAGE_S, alive=p.alive)
        time.sleep(max(0.0, REGISTRY_OUTAGE_S - (time.monotonic() - stopped_at)))  # the outage itself
        assert h.count(p.settings, [p.topics.dlq.name]) == 0, dlq_reasons(p)
        assert h.count(p.settings, [family_topic(p, UNCACHED)]) == 0
        outage = time.monotonic() - stopped_at

        private.start("registry")
        h.wait_for("the waiting events routed once the registry is back",
                   lambda: h.count(p.settings, [family_topic(p, UNCACHED)]) == 20, timeout=180, alive=p.alive)
        sent = {str(e.event_id) for e in [*before, *during, *waiting]}
        on_topics = canonical_ids(p)
        assert set(on_topics) == sent and set(on_topics.values()) == {1}, "an event lost or routed twice"
        assert h.count(p.settings, [p.topics.dlq.name]) == 0, dlq_reasons(p)
        print(f"\nFAULT registry down {outage:.0f}s: {len(sent)} events routed once each, DLQ 0")
    finally:
        p.stop_all()
        _ensure_running(private, "registry")
        p.cleanup()


def _ensure_running(private: FaultPlatform, service: str) -> None:
    """Start `service` again if a failed test left it stopped, so that the next test has its platform."""
    from simpul.platform.processes import recall

    if recall(private.state, service) is None:
        private.start(service)


# ---- b) PostgreSQL restarts under the store sink -------------------------------------------------------------------

@pytest.mark.timeout(600)
def test_b_postgres_restarted_under_the_store_sink_everything_stored_once(
        private: FaultPlatform, tmp_path: Path) -> None:
    db = f"simpul_faults_{uuid.uuid4().hex[:8]}"
    url = h.create_pg_database(private.settings, db)
    p = pipeline(private, tmp_path, url)
    try:
        bootstrap.store_engine(p.settings, url).dispose()  # migrated before the sink starts
        p.start("gatekeeper")
        p.start("sink-store")
        batch = events(CACHED, 400) + events(UNCACHED, 200)
        codec = AvroCodec.from_url(p.settings.registry)

        def trickle() -> None:  # 40 events/s, so that records keep arriving while PostgreSQL is down
            for i in range(0, len(batch), 20):
                send(p.settings, p.prefix, codec, batch[i:i + 20])
                time.sleep(0.5)

        sender = threading.Thread(target=trickle, name="faults-sender")
        sender.start()
        h.wait_for("the sink storing", lambda: len(store_ids(url)) >= 100, timeout=180, alive=p.alive)
        private.stop("postgres")
        time.sleep(POSTGRES_DOWN_S)  # the outage itself: the sink keeps receiving records meanwhile
        private.start("postgres")
        sender.join(180)
        assert not sender.is_alive()
        h.wait_for("every event stored", lambda: len(store_ids(url)) >= len(batch), timeout=180, alive=p.alive)
        ids = store_ids(url)
        assert sorted(ids) == sorted(str(e.event_id) for e in batch), "an event lost or stored twice"
        p.stop("sink-store")
        log = p.log_text("sink-store")
        stats = sink_stats(log)
        assert stats["retries"] >= 1 and stats["recovered"] >= 1, stats  # type: ignore[operator]
        assert "store write failed" in log and "store reachable again" in log
        print(f"\nFAULT postgres down {POSTGRES_DOWN_S:.0f}s under the sink: {len(ids)} stored once each, "
              f"retries={stats['retries']} recovered={stats['recovered']}")
    finally:
        p.stop_all()
        _ensure_running(private, "postgres")
        p.cleanup()
        h.drop_pg_database(private.settings, db)


# ---- c) the gatekeeper's state folder fills up ---------------------------------------------------------------------

@pytest.mark.timeout(600)
def test_c_gatekeeper_state_disk_full_stops_cleanly_and_resumes_without_loss(
        private: FaultPlatform, tmp_path: Path) -> None:
    p = pipeline(private, tmp_path)
    disk = p.state / "streams"  # the gatekeeper's dedup cache lives below: a 16 MiB disk of its own
    disk.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m,mode=0700", "tmpfs", str(disk)], check=True)
    try:
        codec = AvroCodec.from_url(p.settings.registry)
        p.start("gatekeeper")
        first = events(CACHED, 50)
        send(p.settings, p.prefix, codec, first)
        h.wait_for("the first events routed", lambda: h.count(p.settings, p.events) == 50, timeout=120,
                   alive=p.alive)
        assert data_dir("gatekeeper", p.settings, p.settings).is_relative_to(disk)

        filler = disk / "filler"
        with filler.open("wb") as out:  # the disk is full: every further write there fails
            try:
                while True:
                    out.write(b"\0" * (1 << 16))
                    out.flush()
            except OSError:
                pass
        second = events(CACHED, 50)
        send(p.settings, p.prefix, codec, second)
        proc = p.procs["gatekeeper"]
        try:
            proc.wait(120)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"the gatekeeper went on with a full disk\n{p.tail('gatekeeper')}") from None
        p.procs.pop("gatekeeper")
        log = p.log_text("gatekeeper")
        assert proc.returncode == 1, log[-3000:]
        assert "error: the gatekeeper's dedup cache at" in log and "No space left on device" in log, log[-3000:]
        assert "Traceback" not in log, log[-3000:]

        filler.unlink()  # space returns
        p.start("gatekeeper")
        h.wait_for("every event routed after the restart", lambda: h.count(p.settings, p.events) >= 100,
                   timeout=180, alive=p.alive)
        again = first[:5] + second[:5]  # the same events sent again: the dedup memory survived the stop
        send(p.settings, p.prefix, codec, again)
        h.wait_for("the repeats judged", lambda: "duplicates=10" in p.log_text("gatekeeper"), timeout=60,
                   alive=p.alive, every=1.0)
        on_topics = canonical_ids(p)
        assert set(on_topics) == {str(e.event_id) for e in first + second}
        assert set(on_topics.values()) == {1}, "an event routed twice"
        assert h.count(p.settings, [p.topics.dlq.name]) == 0, dlq_reasons(p)
        print(f"\nFAULT gatekeeper state disk full: stopped with exit 1, resumed; {len(on_topics)} events once each")
    finally:
        p.stop_all()
        subprocess.run(["umount", "-l", str(disk)], check=False)
        p.cleanup()


# ---- d) one of three brokers hangs --------------------------------------------------------------------------------

@pytest.fixture
def three_brokers(private: FaultPlatform) -> Iterator[h.Cluster]:
    root = Path(tempfile.mkdtemp(prefix="simpul-faults3-"))
    cluster = h.Cluster.up(root / "cluster", shared_lib=fetched_lib())
    try:
        yield cluster
    finally:
        for pid in cluster.broker_pids():  # never leave a broker stopped
            os.kill(pid, signal.SIGCONT)
        cluster.down()


@pytest.mark.timeout(900)
@pytest.mark.skipif(not LONG, reason="long: the three-node cluster alone takes 2-3 minutes to start on two cores; "
                                     "set SIMPUL_LONG_TESTS=1")
def test_d_a_broker_hung_for_30s_nothing_lost_nothing_twice(
        private: FaultPlatform, three_brokers: h.Cluster, tmp_path: Path) -> None:
    base = private.settings.model_copy(update={"kafka_bootstrap": three_brokers.bootstrap})
    p = FaultPipeline(base, f"flt{uuid.uuid4().hex[:8]}", tmp_path / "state", replication=3)
    p.store_url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    p.provision()
    pl = plan(800, 20261202, nik_hmac_key=p.settings.secret("nik_hmac_key"))
    manifest = pl.manifest
    expected = sorted(str(r.event.event_id) for r in pl.records if r.expect is Expect.EVENT)
    try:
        bootstrap.store_engine(p.settings, p.store_url).dispose()
        p.start("gatekeeper")
        p.start("sink-store")
        codec = bootstrap.codec(p.settings)
        sent: dict[str, Any] = {}
        sender = threading.Thread(target=lambda: sent.update(report=send_sdk(
            pl.records, kafka=p.settings.kafka, codec=codec, topic_prefix=p.prefix, rate=25.0, show_progress=False)))
        sender.start()
        h.wait_for("a quarter of the records through the gatekeeper",
                   lambda: h.count(p.settings, [*p.events, p.topics.dlq.name]) >= len(pl.records) // 4,
                   timeout=240, alive=p.alive)
        victim = three_brokers.broker_pids()[1]
        os.kill(victim, signal.SIGSTOP)
        hung_at = time.monotonic()
        try:
            time.sleep(BROKER_HUNG_S)  # the hang itself: the pipeline runs on meanwhile
        finally:
            os.kill(victim, signal.SIGCONT)
        hung = time.monotonic() - hung_at
        sender.join(300)
        assert not sender.is_alive() and "report" in sent, "the sender did not finish"
        h.wait_for("every event stored", lambda: len(store_ids(p.store_url)) >= len(expected), timeout=300,
                   alive=p.alive, every=2.0)
        assert sorted(store_ids(p.store_url)) == expected, "an event lost or stored twice"
        on_topics = canonical_ids(p)
        assert sorted(on_topics) == expected and set(on_topics.values()) == {1}, "canonical: lost or twice"
        dlq = h.read_all(p.settings, [p.topics.dlq.name])
        sources = {(h.headers(m)["simpul.source_topic"], h.headers(m)["simpul.source_offset"],
                    h.headers(m)["simpul.source_partition"]) for m in dlq}
        assert len(sources) == len(dlq), "a rejected record reached the DLQ twice"
        assert dict(dlq_reasons(p)) == {k: v for k, v in manifest.dlq.items() if v}
        print(f"\nFAULT broker pid {victim} hung {hung:.0f}s: {len(expected)} events stored once each, "
              f"DLQ {len(dlq)} as planned, {manifest.duplicates_sent} duplicates dropped")
    finally:
        p.stop_all()
