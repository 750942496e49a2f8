"""The stream processors on the real platform, driven by the simulator's plan and manifest.

Each test provisions its own prefix (topics, schemas), runs the workers as subprocesses
(`python -m simpul streams run <processor>`, as an operator runs them), sends a seeded simulation through
the SDK, and checks the outputs against the manifest exactly.
"""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from producers.simulator import FaultMix, plan
from producers.simulator.send import send_sdk
from producers.simulator.traffic import Expect
from schemas.catalog import family_of, nik_fields
from schemas.codec import AvroCodec
from schemas.examples import example
from schemas.models import is_nik_token, is_raw_nik
from schemas.nik import NikContext
from schemas.outcomes import AlertRule, Header, RejectReason
from simpul.settings import Settings
from schemas.records import Aggregate, Alert
from streams.alerts.app import unpack
from topics.admin import TopicAdmin
from topics.catalog import topic_names
from topics.plan import plan as plan_topics

from harness import terminate

pytestmark = pytest.mark.integration

EVENTS = 2000
SEED = 20250303
ROOT = Path(__file__).resolve().parents[2]


class Env:
    """One test's prefix, its topics, and the worker subprocesses it started."""

    def __init__(self, settings: Settings, prefix: str, state: Path) -> None:
        self.settings = Settings(**{**settings.model_dump(exclude={"kafka"}), "topic_prefix": prefix,
                                    "state_dir": state})
        self.prefix = prefix
        self.state = state
        self.topics = topic_names(prefix)
        self.codec = AvroCodec.from_url(settings.registry)
        self.workers: dict[str, subprocess.Popen[bytes]] = {}
        self.logs: list[Path] = []

    def env(self) -> dict[str, str]:
        s = self.settings
        return {**os.environ, "SIMPUL_TOPIC_PREFIX": self.prefix, "SIMPUL_KAFKA_BOOTSTRAP": s.kafka.bootstrap,
                "SIMPUL_REGISTRY_URL": s.registry, "SIMPUL_STATE_DIR": str(self.state),
                "SIMPUL_NIK_HMAC_KEY": s.secret("nik_hmac_key"), "PYTHONPATH": str(ROOT),
                "SIMPUL_DLQ_KEY": s.secret("dlq_key"),
                "SIMPUL_AGG_FLUSH_SECONDS": "0.5"}

    def start(self, processor: str) -> subprocess.Popen[bytes]:
        log = self.state / f"{processor}-{len(self.logs)}.log"
        self.logs.append(log)
        proc = subprocess.Popen([sys.executable, "-m", "simpul", "streams", "run", processor], env=self.env(), cwd=ROOT,
                                stdout=log.open("wb"), stderr=subprocess.STDOUT)
        self.workers[processor] = proc
        return proc

    def stop(self, processor: str) -> None:
        proc = self.workers.pop(processor, None)
        if proc is not None:
            terminate(proc)

    def names(self, role: str) -> list[str]:
        return [t.name for t in self.topics.role(role)]


@pytest.fixture
def env(settings: Settings, unique: str, tmp_path: Path) -> Iterator[Env]:
    prefix = f"st{unique}"
    e = Env(settings, prefix, tmp_path)
    admin = TopicAdmin(settings.kafka)
    admin.apply(plan_topics(e.topics, admin.observe(prefix).topics))
    e.codec.register_all()
    yield e
    for processor in list(e.workers):
        e.stop(processor)
    for log in e.logs:  # shown by pytest on failure
        print(f"==== {log.name}\n" + "\n".join(log.read_text(errors="replace").splitlines()[-40:]))
    client = AdminClient(settings.kafka.librdkafka())
    doomed = [t for t in client.list_topics(timeout=10).topics if t.startswith((f"{prefix}.", f"{prefix}-"))]
    if doomed:
        for future in client.delete_topics(doomed, operation_timeout=30).values():
            future.result()


def consumer(settings: Settings, group: str | None = None) -> Consumer:
    return Consumer(settings.kafka.librdkafka(**{
        "group.id": group or f"test-{uuid.uuid4().hex[:8]}", "enable.auto.commit": False,
        "auto.offset.reset": "earliest"}))


def count(settings: Settings, topics: list[str]) -> int:
    c = consumer(settings)
    try:
        md = c.list_topics(timeout=10)
        total = 0
        for t in topics:
            for p in md.topics[t].partitions:
                low, high = c.get_watermark_offsets(TopicPartition(t, p), timeout=10)
                total += high - low
        return total
    finally:
        c.close()


def read_all(settings: Settings, topics: list[str]) -> list:  # type: ignore[type-arg]
    c = consumer(settings)
    try:
        md = c.list_topics(timeout=10)
        ends = {}
        for t in topics:
            for p in md.topics[t].partitions:
                low, high = c.get_watermark_offsets(TopicPartition(t, p), timeout=10)
                if high > low:
                    ends[(t, p)] = (low, high)
        c.assign([TopicPartition(t, p, low) for (t, p), (low, _) in ends.items()])
        out, remaining = [], {k: v[1] for k, v in ends.items()}
        deadline = time.monotonic() + 60
        while remaining and time.monotonic() < deadline:
            for m in c.consume(1000, timeout=1):
                if m.error() is None and (m.topic(), m.partition()) in remaining:
                    out.append(m)
                    if m.offset() >= remaining[(m.topic(), m.partition())] - 1:
                        del remaining[(m.topic(), m.partition())]
        assert not remaining, f"could not read {remaining}"
        return out
    finally:
        c.close()


def caught_up(settings: Settings, group: str, topics: list[str]) -> bool:
    """The group's committed offsets reach the end of every partition of `topics`."""
    c = consumer(settings, group)
    try:
        md = c.list_topics(timeout=10)
        tps = [TopicPartition(t, p) for t in topics if t in md.topics for p in md.topics[t].partitions]
        committed = {(tp.topic, tp.partition): tp.offset for tp in c.committed(tps, timeout=10)}
        for tp in tps:
            low, high = c.get_watermark_offsets(tp, timeout=10)
            if high > low and committed[(tp.topic, tp.partition)] < high:
                return False
        return True
    finally:
        c.close()


def wait_for(what: str, done: Callable[[], bool], timeout: float = 120.0, env: Env | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if env is not None:
            for name, proc in env.workers.items():
                assert proc.poll() is None, f"{name} worker exited with {proc.returncode}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def headers(m) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {k: (v or b"").decode() for k, v in (m.headers() or [])}


def check_gatekeeper_output(env: Env, records, manifest) -> None:  # type: ignore[no-untyped-def]
    """Canonical topics hold exactly the unique valid events; the DLQ exactly the rejects; no raw NIK anywhere."""
    expected_ids = collections.Counter(str(r.event.event_id) for r in records if r.expect is Expect.EVENT)
    assert all(n == 1 for n in expected_ids.values())
    canonical = read_all(env.settings, env.names("events"))
    seen = collections.Counter(headers(m)["simpul.event_id"] for m in canonical)
    twice = [i for i, n in seen.items() if n > 1]
    assert not twice, f"{len(twice)} event ids on the canonical topics twice"
    assert set(seen) == set(expected_ids), (
        f"missing {len(set(expected_ids) - set(seen))}, unexpected {len(set(seen) - set(expected_ids))}")
    per_family = collections.Counter(m.topic().rsplit(".", 1)[1] for m in canonical)
    assert {f: per_family.get(f, 0) for f in manifest.events} == manifest.events
    raw_niks = {getattr(r.event, f) for r in records for f in nik_fields(r.event_type)} - {None}
    for m in canonical:
        event = env.codec.decode(m.value(), NikContext.CANONICAL)
        assert str(event.event_id) == headers(m)["simpul.event_id"]
        assert m.key() == event.ordering_key.encode()
        for f in nik_fields(type(event).event_type):
            value = getattr(event, f)
            assert value is None or (is_nik_token(value) and not is_raw_nik(value))
        assert not any(n.encode() in m.value() for n in raw_niks if is_raw_nik(n))
    dlq = read_all(env.settings, [env.topics.dlq.name])
    reasons = collections.Counter(headers(m)["simpul.reason"] for m in dlq)
    assert {r: reasons.get(r, 0) for r in manifest.dlq} == manifest.dlq
    assert set(reasons) <= {r.value for r in RejectReason}
    sources = [(headers(m)["simpul.source_topic"], headers(m)["simpul.source_partition"],
                headers(m)["simpul.source_offset"]) for m in dlq]
    assert len(set(sources)) == len(sources), "a rejected record is in the DLQ twice"
    assert all(headers(m)["simpul.reason_message"] and headers(m)["simpul.rejected_at"] for m in dlq)


def expected_output(manifest) -> int:  # type: ignore[no-untyped-def]
    return sum(manifest.events.values()) + sum(manifest.dlq.values())


def output_topics(env: Env) -> list[str]:
    return [*env.names("events"), env.topics.dlq.name]


def test_faulty_simulation_routes_rejects_alerts_and_aggregates_exactly(env: Env) -> None:
    started = time.monotonic()
    p = plan(EVENTS, SEED, nik_hmac_key=env.settings.secret("nik_hmac_key"))
    manifest = p.manifest
    assert all(manifest.alerts[r.value] > 0 for r in AlertRule) and all(
        manifest.dlq[r] > 0 for r in ("undecodable", "invalid_event", "regency_mismatch")) and manifest.duplicates_sent
    for processor in ("gatekeeper", "alerts", "aggregates"):
        env.start(processor)
    send_sdk(p.records, kafka=env.settings.kafka, codec=env.codec, topic_prefix=env.prefix, show_progress=False)
    wait_for("the gatekeeper's output", lambda: count(env.settings, output_topics(env)) >= expected_output(manifest),
             env=env)
    wait_for("the gatekeeper to commit", lambda: caught_up(env.settings, f"{env.prefix}-gatekeeper",
                                                           env.names("ingress")), env=env)
    check_gatekeeper_output(env, p.records, manifest)

    # alerts: every injected anomaly raised once, nothing else
    wait_for("the alerts", lambda: count(env.settings, [env.topics.alerts.name]) >= sum(manifest.alerts.values()),
             env=env)
    wait_for("the alerts processor to commit", lambda: caught_up(
        env.settings, f"{env.prefix}-alerts", [*env.names("events"), f"{env.prefix}-alerts-subjects-repartition"]),
        env=env)
    alerts = [Alert.model_validate_json(m.value()) for m in read_all(env.settings, [env.topics.alerts.name])]
    assert len({a.alert_id for a in alerts}) == len(alerts), "an alert id was emitted twice"
    got = {rule: sorted(a.subject for a in alerts if a.rule == rule) for rule in manifest.alerts}
    assert got == {rule: sorted(s) for rule, s in manifest.expected_alert_subjects.items()}
    assert all(a.evidence_event_ids for a in alerts)

    # aggregates: the latest day windows add up to the valid events
    wait_for("the aggregates processor to commit", lambda: caught_up(
        env.settings, f"{env.prefix}-aggregates",
        [*env.names("events"), f"{env.prefix}-aggregates-observations-repartition"]), env=env)
    time.sleep(2)  # one more flush of changed windows
    latest: dict[bytes, Aggregate] = {}
    for m in read_all(env.settings, env.names("agg")):
        latest[m.key()] = Aggregate.model_validate_json(m.value())
    valid = [r.event for r in p.records if r.expect is Expect.EVENT]
    by_type = collections.Counter(type(e).event_type for e in valid)
    day = [a for a in latest.values() if a.window == "1d"]
    hour = [a for a in latest.values() if a.window == "1h"]
    assert sum(a.values.get("filed", 0) for a in day if a.metric == "complaints") == by_type["ComplaintFiled"]
    assert sum(a.values.get("filed", 0) for a in hour if a.metric == "complaints") == by_type["ComplaintFiled"]
    assert sum(a.values.get("requests", 0) for a in day if a.metric == "service_requests") == \
        by_type["ServiceRequestSubmitted"]
    assert sum(a.values.get("price_idr_count", 0) for a in day if a.metric == "prices") == \
        by_type["StapleFoodPriceObserved"]
    prices = [e.price_idr for e in valid if type(e).event_type == "StapleFoodPriceObserved"]
    assert max(a.values["price_idr_max"] for a in day if a.metric == "prices") == max(prices)
    assert {a.metric for a in latest.values()} >= {"service_requests", "complaints", "prices", "air_quality",
                                                    "social_aid"}
    print(f"faulty run: {EVENTS} records, {len(alerts)} alerts, {len(latest)} windows, "
          f"{time.monotonic() - started:.1f}s")


def test_clean_simulation_raises_no_alert(env: Env) -> None:
    started = time.monotonic()
    p = plan(EVENTS, SEED + 1, FaultMix.clean(), nik_hmac_key=env.settings.secret("nik_hmac_key"))
    assert sum(p.manifest.alerts.values()) == 0
    env.start("gatekeeper")
    env.start("alerts")
    send_sdk(p.records, kafka=env.settings.kafka, codec=env.codec, topic_prefix=env.prefix, show_progress=False)
    wait_for("the gatekeeper's output",
             lambda: count(env.settings, output_topics(env)) >= expected_output(p.manifest), env=env)
    wait_for("the alerts processor to commit", lambda: caught_up(
        env.settings, f"{env.prefix}-alerts", [*env.names("events"), f"{env.prefix}-alerts-subjects-repartition"])
        and sum(1 for m in read_all(env.settings, [f"{env.prefix}-alerts-subjects-repartition"])  # records, packed
                for _ in unpack(m.value(), m.key())) >= expected_output(p.manifest),
        env=env)
    check_gatekeeper_output(env, p.records, p.manifest)
    alerts = [Alert.model_validate_json(m.value()) for m in read_all(env.settings, [env.topics.alerts.name])]
    assert alerts == [], [(a.rule, a.subject) for a in alerts[:5]]
    print(f"clean run: {EVENTS} records, {time.monotonic() - started:.1f}s")


def test_gatekeeper_sigkill_and_restart_keeps_exact_counts(env: Env) -> None:
    started = time.monotonic()
    p = plan(EVENTS, SEED + 2, nik_hmac_key=env.settings.secret("nik_hmac_key"))
    records = list(p.records)
    half = len(records) // 2
    first = env.start("gatekeeper")
    send_sdk(records[:half], kafka=env.settings.kafka, codec=env.codec, topic_prefix=env.prefix,
             show_progress=False)
    wait_for("some output", lambda: count(env.settings, output_topics(env)) >= half // 3, env=env)
    os.kill(first.pid, signal.SIGKILL)
    first.wait(10)
    written_at_kill = count(env.settings, output_topics(env))
    env.workers.pop("gatekeeper")
    send_sdk(records[half:], kafka=env.settings.kafka, codec=env.codec, topic_prefix=env.prefix,
             show_progress=False)
    env.start("gatekeeper")
    wait_for("the gatekeeper's output", lambda: count(env.settings, output_topics(env)) >= expected_output(p.manifest),
             env=env)
    wait_for("the gatekeeper to commit", lambda: caught_up(env.settings, f"{env.prefix}-gatekeeper",
                                                           env.names("ingress")), env=env)
    time.sleep(2)
    check_gatekeeper_output(env, records, p.manifest)
    print(f"sigkill run: {written_at_kill} outputs at the kill, {EVENTS} records, {time.monotonic() - started:.1f}s")


def _children(pid: int) -> dict[int, str]:
    """The live child processes of `pid` (pid -> command line), from /proc."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found[int(entry.name)] = cmdline
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_streams_run_all_routes_an_event_rejects_another_and_stops_on_sigterm(env: Env) -> None:
    """`simpul streams run all`: its three processors run as children of one command; a valid event reaches its
    canonical topic (and the aggregates and alerts read it), an undecodable record goes to the DLQ, and SIGTERM to
    the command stops all three, each with exit code 0, and the command with 0."""
    log = env.state / "all.log"
    env.logs.append(log)
    proc = subprocess.Popen([sys.executable, "-m", "simpul", "streams", "run", "all"], env=env.env(), cwd=ROOT,
                            stdout=log.open("wb"), stderr=subprocess.STDOUT)
    try:
        wait_for("three processors", lambda: len(_children(proc.pid)) == 3, timeout=60)
        kids = _children(proc.pid)
        assert sorted(cmd.split(" streams run ")[1].split()[0] for cmd in kids.values()) == [
            "aggregates", "alerts", "gatekeeper"]

        event = example("ComplaintFiled", event_id=uuid.uuid4())
        ingress = env.topics.ingress(event.regency_code).name
        producer = Producer(env.settings.kafka.librdkafka())
        written: list[str] = []

        def delivered(err, msg) -> None:  # type: ignore[no-untyped-def]
            assert err is None, err
            written.append(f"{msg.topic()}:{msg.partition()}:{msg.offset()}")

        producer.produce(ingress, env.codec.encode(event), event.ordering_key.encode(), on_delivery=delivered)
        producer.flush(30)
        producer.produce(ingress, b"not an avro record", b"3374:garbage", on_delivery=delivered)
        assert producer.flush(30) == 0 and len(written) == 2

        canonical = env.topics.events(family_of("ComplaintFiled")).name
        wait_for("the canonical event and the DLQ record", lambda: count(
            env.settings, [canonical]) >= 1 and count(env.settings, [env.topics.dlq.name]) >= 1)
        assert proc.poll() is None
        [routed] = read_all(env.settings, [canonical])
        assert headers(routed)[Header.EVENT_ID] == str(event.event_id)
        assert headers(routed)[Header.SOURCE] == written[0]
        assert env.codec.decode(routed.value(), NikContext.CANONICAL).event_id == event.event_id
        [rejected] = read_all(env.settings, [env.topics.dlq.name])
        assert headers(rejected)[Header.REASON] == RejectReason.UNDECODABLE.value
        assert ":".join(headers(rejected)[h] for h in (Header.SOURCE_TOPIC, Header.SOURCE_PARTITION,
                                                       Header.SOURCE_OFFSET)) == written[1]

        wait_for("an aggregate window of the event", lambda: count(env.settings, env.names("agg")) >= 1)
        wait_for("the alerts processor to read it", lambda: count(
            env.settings, [f"{env.prefix}-alerts-subjects-repartition"]) >= 1 and caught_up(
            env.settings, f"{env.prefix}-alerts", [canonical, f"{env.prefix}-alerts-subjects-repartition"]))
        assert proc.poll() is None and all(_alive(pid) for pid in kids)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert code == 0, log.read_text(errors="replace")[-3000:]
    assert not [pid for pid in kids if _alive(pid)], "a processor outlived `streams run all`"
    text = log.read_text(errors="replace")
    for name in ("gatekeeper", "aggregates", "alerts"):
        assert f"streams: {name} stopped (exit 0)" in text, text[-3000:]


def test_streams_run_on_a_prefix_without_topics_fails_in_one_line(settings: Settings, unique: str,
                                                                   tmp_path: Path) -> None:
    """A processor that cannot start says why in one line on stderr and exits 1, without a traceback."""
    prefix = f"sn{unique}"
    e = Env(settings, prefix, tmp_path)
    try:
        done = subprocess.run([sys.executable, "-m", "simpul", "streams", "run", "gatekeeper"], env=e.env(), cwd=ROOT,
                              capture_output=True, text=True, timeout=120)
    finally:
        client = AdminClient(settings.kafka.librdkafka())
        doomed = [t for t in client.list_topics(timeout=10).topics if t.startswith((f"{prefix}.", f"{prefix}-"))]
        if doomed:
            for future in client.delete_topics(doomed, operation_timeout=30).values():
                future.result()
    assert done.returncode == 1, done.stderr[-2000:]
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and f"{prefix}.events." in errors[0] and "simpul topics apply" in errors[0], done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""
