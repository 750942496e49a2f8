"""examples/python against the platform: the SDK publishes events of two types with fresh ids, the gatekeeper
routes them, and the province service (consumers.province, the SDK's consumer side) hands each over once, typed and
NIK-tokenised, committing after handling; a handler that fails gets its record again on the next run."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest

import harness as h
from consumers.exceptions import ConsumerError
from consumers.province import HandlerFailed, ProvinceConsumer
from producers.sdk import RegencyProducer
from schemas.examples import example
from schemas.models import Event
from simpul import bootstrap
from simpul.settings import Settings
from tests.integration.examples_platform import EXAMPLES, example_env, gatekeeper_pipeline, json_lines, rejections

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def pipeline(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[h.Pipeline]:
    with gatekeeper_pipeline(settings, tmp_path_factory.mktemp("ex-python") / "state", "exp") as p:
        yield p


def run(script: str, env: dict[str, str], *args: str) -> str:
    proc = subprocess.run([sys.executable, str(EXAMPLES / "python" / script), *args], env=env, capture_output=True,
                          text=True, timeout=180, check=False)
    assert proc.returncode == 0, f"{script} exited {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    return proc.stdout


def canonical_count(p: h.Pipeline, at_least: int) -> None:
    topic = p.topics.events("governance").name
    try:
        h.wait_for(f"{at_least} events on {topic}", lambda: h.count(p.settings, [topic]) >= at_least, timeout=120,
                   alive=p.alive)
    except h.Deadline:
        raise AssertionError(f"rejected instead: {rejections(p)}") from None


def test_sdk_publisher_and_province_service(pipeline: h.Pipeline) -> None:
    env = example_env(pipeline, SIMPUL_REGENCY="3301")
    sent = json_lines(run("publish.py", env))
    assert [s["event_type"] for s in sent] == ["ServiceRequestSubmitted", "ServiceRequestCompleted"] * 2
    assert {s["topic"] for s in sent} == {f"{pipeline.prefix}.ingress.3301"}
    assert len({s["event_id"] for s in sent}) == 4, "every run makes fresh event ids"
    again = json_lines(run("publish.py", env))
    assert not {s["event_id"] for s in sent} & {s["event_id"] for s in again}
    canonical_count(pipeline, 8)

    group = {"SIMPUL_GROUP_ID": f"{pipeline.prefix}-service", "SIMPUL_IDLE_SECONDS": "20"}
    consumed = json_lines(run("province_service.py", example_env(pipeline, **group), "8"))
    by_id = {str(c["event"]["event_id"]): c for c in consumed}  # type: ignore[index]
    assert len(consumed) == 8 and set(by_id) == {str(s["event_id"]) for s in sent + again}
    for s in sent + again:
        assert by_id[str(s["event_id"])]["event_type"] == s["event_type"]
    nik = [c["event"]["applicant_nik"] for c in consumed if c["event_type"] == "ServiceRequestSubmitted"]  # type: ignore[index]
    assert len(nik) == 4 and all(str(n).startswith("nik:") for n in nik)
    # committed after handling: the same group has nothing left
    assert json_lines(run("province_service.py", example_env(pipeline, **{**group, "SIMPUL_IDLE_SECONDS": "5"}))) == []


def test_a_failing_handler_gets_its_event_again(pipeline: h.Pipeline) -> None:
    case = f"SR-3374-{uuid.uuid4().hex[:8]}"  # one case: one partition, in order
    events = [example("ServiceRequestStatusChanged", event_id=uuid.uuid4(), case_id=case) for _ in range(3)]
    with RegencyProducer("3374", pipeline.settings.kafka, bootstrap.codec(pipeline.settings),
                         topic_prefix=pipeline.prefix) as producer:
        for e in events:
            producer.publish(e).result(60)
    group = f"{pipeline.prefix}-retry-{uuid.uuid4().hex[:6]}"
    ours = {e.event_id for e in events}

    def consumer() -> ProvinceConsumer:
        return ProvinceConsumer(pipeline.settings.kafka, bootstrap.codec(pipeline.settings), group, ["governance"],
                                topic_prefix=pipeline.prefix)

    seen: list[Event] = []

    def fail_on_second(event: Event) -> None:
        if event.event_id in ours:
            if len(seen) == 1:
                raise RuntimeError("the province's database is down")
            seen.append(event)

    h.wait_for("our three events routed", lambda: _routed(pipeline, ours), timeout=120, alive=pipeline.alive)
    with consumer() as first, pytest.raises(HandlerFailed, match=str(events[1].event_id)):
        first.run(fail_on_second, idle_s=20)
    assert [e.event_id for e in seen] == [events[0].event_id]

    later: list[Event] = []
    with consumer() as second:
        second.run(lambda e: later.append(e) if e.event_id in ours else None, idle_s=8)
    assert [e.event_id for e in later] == [events[1].event_id, events[2].event_id]
    assert all(type(e).event_type == "ServiceRequestStatusChanged" for e in later)


def _routed(p: h.Pipeline, ids: set[uuid.UUID]) -> bool:
    codec = bootstrap.codec(p.settings)
    on_topic = {codec.decode_record(m.value())[1]["event_id"] for m in
                h.read_all(p.settings, [p.topics.events("governance").name], timeout=60)}
    return {str(i) for i in ids} <= {str(i) for i in on_topic}


def test_unknown_family_is_refused(settings: Settings) -> None:
    with pytest.raises(ConsumerError, match="not event families"):
        ProvinceConsumer(settings.kafka, bootstrap.codec(settings), "g", ["weather"])
