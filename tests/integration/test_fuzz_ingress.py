"""Fuzzing the ingress topics: whatever bytes a regency writes, the gatekeeper neither crashes nor stalls, and
every input record ends exactly once either on a canonical topic (its `simpul.source` header names the input's
topic:partition:offset) or in the DLQ (`simpul.source_topic/partition/offset`) — never both, never missing.

Three hypothesis strategies (harness/fuzz.py): (a) random key/value/header bytes,
(b) Confluent-framed valid encodings with flipped, spliced, truncated or extended bodies and swapped schema ids,
(c) valid events whose fields were replaced by values of their Avro type (out-of-range numbers, unknown codes, bad
NIKs, another regency). For (c) an oracle says which fate each input must get. The inputs of a strategy are
written together with a raw producer and checked together against one running gatekeeper (a subprocess).
Every test ends with the accounting of its inputs, printed and asserted: delivered (on a canonical topic) + DLQ
with a reason == inputs written (a topic takes every record: no 4xx here).
Bounded: SIMPUL_FUZZ_EXAMPLES per strategy (300; 10,000 under SIMPUL_LONG_TESTS=1, as `make test-long` runs it),
derandomized; `python -m bench.fuzz` runs any number.
"""

from __future__ import annotations

import collections
import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Producer

import harness as h
from schemas.examples import example
from schemas.outcomes import Header
from simpul import bootstrap
from simpul.settings import Settings

pytestmark = pytest.mark.integration

LONG = os.environ.get("SIMPUL_LONG_TESTS") == "1"
EXAMPLES = int(os.environ.get("SIMPUL_FUZZ_EXAMPLES") or (10_000 if LONG else 300))
SEED = int(os.environ.get("SIMPUL_FUZZ_SEED", "0"))  # bench.fuzz --seed; the suite always runs the same inputs


class Fuzz:
    """One prefix with a running gatekeeper, and every input written to it so far (coordinates -> Input)."""

    def __init__(self, p: h.Pipeline) -> None:
        self.p = p
        self.codec = bootstrap.codec(p.settings)
        self.written: dict[tuple[str, int, int], h.Input] = {}
        self.run = uuid.uuid4().hex[:8]

    def write(self, inputs: list[h.Input], partition: int | None = None) -> list[tuple[str, int, int]]:
        producer = Producer(self.p.settings.kafka.librdkafka(**{"acks": "all", "linger.ms": 20}))
        coords: list[tuple[str, int, int] | None] = [None] * len(inputs)
        errors: list[str] = []

        def done(i: int):  # type: ignore[no-untyped-def]
            def cb(err, msg) -> None:  # type: ignore[no-untyped-def]
                if err is not None:
                    errors.append(str(err))
                else:
                    coords[i] = (msg.topic(), msg.partition(), msg.offset())
            return cb

        for i, x in enumerate(inputs):
            extra = {} if partition is None else {"partition": partition}
            producer.produce(self.p.topics.ingress(x.regency).name, key=x.key, value=x.value, headers=x.headers,
                             on_delivery=done(i), **extra)
            producer.poll(0)
        assert producer.flush(60) == 0 and not errors, errors[:3]
        out = [c for c in coords if c is not None]
        assert len(out) == len(inputs)
        self.written.update(zip(out, inputs, strict=True))
        return out

    def settle(self, coords: list[tuple[str, int, int]], timeout: float | None = None,
               grace: float | None = None) -> dict[tuple[str, int, int], str]:
        """Wait until the gatekeeper committed past every input and each of `coords` has its outcome. The
        deadlines grow with the inputs (0.1 s each: a loaded two-core host dead-letters 10,000 inputs in minutes)."""
        p = self.p
        timeout = timeout if timeout is not None else 240.0 + 0.1 * len(coords)
        grace = grace if grace is not None else 60.0 + 0.01 * len(coords)
        h.wait_for("the gatekeeper's lag on ingress to reach 0 (no stall)",
                   lambda: h.lag(p.settings, p.group("gatekeeper"), p.ingress) == 0, timeout=timeout, alive=p.alive)
        state: dict[str, object] = {}

        def all_accounted() -> bool:
            fates, problems = h.gatekeeper_accounting(p, list(self.written), timeout=120)
            state.update(fates=fates, problems=problems)
            return all(c in fates for c in coords)

        try:
            h.wait_for("an outcome for every input", all_accounted, timeout=grace, alive=p.alive, every=2.0)
        except h.Deadline:
            pass
        fates, problems = state["fates"], state["problems"]
        missing = [(c, self.written[c]) for c in coords if c not in fates]  # type: ignore[operator]
        assert not problems, problems[:10]
        assert not missing, f"{len(missing)} inputs have no outcome, e.g. {missing[:3]}"
        p.alive()
        return {c: fates[c] for c in coords}  # type: ignore[index]

    def check_expected(self, coords: list[tuple[str, int, int]], fates: dict[tuple[str, int, int], str]) -> None:
        wrong = []
        for c in coords:
            want, got = self.written[c].expect, fates[c]
            if want is None:
                continue
            if (want == "dlq" and not got.startswith("dlq:")) or (want != "dlq" and want != got):
                wrong.append((c, want, got, self.written[c]))
        assert not wrong, f"{len(wrong)} inputs got another fate than the spec's, e.g. {wrong[:3]}"


@pytest.fixture(scope="module")
def fuzz(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzz]:
    prefix = f"fz{uuid.uuid4().hex[:8]}"
    # logs outside pytest's rotating tmp folders, so they survive for a post-mortem
    p = h.Pipeline(settings, prefix, Path(tempfile.mkdtemp(prefix=f"simpul-{prefix}-")))
    p.provision()
    p.start("gatekeeper")
    try:
        yield Fuzz(p)
    finally:
        print(p.tails())
        p.cleanup()


def _account(name: str, coords: list[tuple[str, int, int]], fates: dict[tuple[str, int, int], str]) -> None:
    """Every input written is delivered or dead-lettered with a reason, once: delivered + DLQ == inputs."""
    delivered = sum(1 for c in coords if fates[c].startswith("event:"))
    reasons = collections.Counter(fates[c].split(":", 1)[1] for c in coords if fates[c].startswith("dlq:"))
    print(f"fuzz ingress {name}: inputs={len(coords)} delivered={delivered} dlq={sum(reasons.values())} 4xx=0 "
          f"dlq_by_reason={dict(sorted(reasons.items()))}")
    assert not {r for r in reasons if r in ("", "?")}, f"DLQ records without a reason: {reasons}"
    assert delivered + sum(reasons.values()) == len(coords) == len(set(coords)), (delivered, reasons, len(coords))


def test_random_bytes_all_end_in_the_dlq(fuzz: Fuzz) -> None:
    inputs = h.collect(h.random_bytes, EXAMPLES, seed=SEED + 1)
    coords = fuzz.write(inputs)
    fates = fuzz.settle(coords)
    fuzz.check_expected(coords, fates)
    _account("random bytes", coords, fates)


def test_mutated_framed_avro_is_routed_or_dead_lettered_exactly_once(fuzz: Fuzz) -> None:
    muts = h.collect(h.mutations, EXAMPLES, seed=SEED + 2)
    inputs = [h.framed_mutation(m, fuzz.codec, i, fuzz.run) for i, m in enumerate(muts)]
    coords = fuzz.write(inputs)
    fates = fuzz.settle(coords)
    fuzz.check_expected(coords, fates)
    kinds = collections.Counter(f.split(":")[0] for f in fates.values())
    assert kinds["dlq"] > 0
    _account("framed mutations", coords, fates)


def test_valid_events_with_mutated_fields_get_the_specified_fate(fuzz: Fuzz) -> None:
    items = h.collect(h.mutated_events(), EXAMPLES, seed=SEED + 3)
    inputs = [x for i, item in enumerate(items) if (x := h.mutated_event_input(item, fuzz.codec, i, fuzz.run))]
    assert len(inputs) >= EXAMPLES // 2, f"only {len(inputs)} of {len(items)} mutations fit Avro"
    coords = fuzz.write(inputs)
    fates = fuzz.settle(coords)
    fuzz.check_expected(coords, fates)
    outcomes = collections.Counter(f for f in fates.values())
    assert any(f.startswith("event:") for f in outcomes) and "dlq:invalid_event" in outcomes \
        and "dlq:regency_mismatch" in outcomes, outcomes
    _account("mutated events", coords, fates)


def test_forged_source_headers_cannot_make_a_restarted_gatekeeper_skip_a_record(fuzz: Fuzz) -> None:
    """A regency writes garbage carrying `simpul.source` = the next offset of another regency's partition; the
    gatekeeper dead-letters it. After a gatekeeper crash, that other regency's next record must still be routed."""
    p = fuzz.p
    victim_topic = p.topics.ingress("3374").name
    high = h.watermarks(p.settings, [victim_topic])[(victim_topic, 0)][1]
    forged = h.Input("forged", "3301", b"x", b"garbage", [(Header.SOURCE, f"{victim_topic}:0:{high}".encode())],
                     expect="dlq")
    coords = fuzz.write([forged])
    fuzz.settle(coords)
    p.kill("gatekeeper")
    ev = example("ServiceRequestSubmitted", event_id=uuid.uuid4(), case_id=f"SR-FORGED-{fuzz.run}")
    valid = h.Input("valid", "3374", ev.ordering_key.encode(), fuzz.codec.encode(ev), [],
                    expect="event:governance")
    [where] = fuzz.write([valid], partition=0)
    assert where == (victim_topic, 0, high)
    p.start("gatekeeper")
    fates = fuzz.settle([where], grace=15)  # the gatekeeper committed past it: its output would be there
    assert fates[where] == "event:governance"


def test_null_key_and_value_is_dead_lettered(fuzz: Fuzz) -> None:
    coords = fuzz.write([h.Input("null", r, None, None, [], expect="dlq") for r in ("3374", "3301", "3302", "3303", "3304")])
    later = fuzz.write([h.Input("after", "3374", b"k", f"garbage {i}".encode(), [], expect="dlq") for i in range(20)])
    fates = fuzz.settle(later, timeout=120)  # what follows the null record
    fuzz.check_expected(later, fates)
    fates = fuzz.settle(coords, timeout=120, grace=15)
    fuzz.check_expected(coords, fates)
