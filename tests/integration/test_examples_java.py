"""examples/java built with Maven from Maven Central and run against the platform, as a regency developer runs them:
the hand-framed producer (kafka-clients + Avro) and the Apicurio serde producer publish events of two types for one
regency; the gatekeeper routes them; the province consumer reads the canonical topic, decodes each value with its
writer schema from the registry and sees every event exactly once, NIKs tokenised."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import harness as h
from simpul.settings import Settings
from tests.integration.examples_platform import EXAMPLES, example_env, gatekeeper_pipeline, json_lines, rejections

pytestmark = pytest.mark.integration

JAVA = EXAMPLES / "java"
PACKAGE = "id.go.jatengprov.simpul.examples"


def _jdk() -> Path:
    """A JDK 17+ (javac, not only a runtime): $JAVA_HOME, the one on PATH, or any under /usr/lib/jvm."""
    homes = [Path(os.environ["JAVA_HOME"])] if os.environ.get("JAVA_HOME") else []
    javac = shutil.which("javac")
    if javac:
        homes.append(Path(javac).resolve().parent.parent)
    homes += sorted(Path("/usr/lib/jvm").glob("*"))
    for home in homes:
        if (home / "bin" / "javac").is_file():
            out = subprocess.run([str(home / "bin" / "javac"), "-version"], capture_output=True, text=True).stdout
            found = re.search(r"javac (\d+)", out)
            if found and int(found.group(1)) >= 17:
                return home
    raise AssertionError("the Java examples need a JDK 17+ with javac (Debian: apt-get install "
                         "openjdk-17-jdk-headless); none on PATH, in $JAVA_HOME or under /usr/lib/jvm")


def _maven(settings: Settings) -> str:
    """The system's mvn, else the Maven `make setup` fetched under the state folder's lib/."""
    fetched = sorted((settings.state_dir / "lib" / "maven").glob("apache-maven-*/bin/mvn"))
    mvn = shutil.which("mvn") or (str(fetched[-1]) if fetched else None)
    assert mvn, "the Java examples need Maven: `make setup` fetches it, or apt-get install maven"
    return mvn


@pytest.fixture(scope="module")
def jdk() -> Path:
    return _jdk()


@pytest.fixture(scope="module")
def classpath(settings: Settings, jdk: Path) -> str:
    """Build once per module: `mvn compile` (Maven Central only; ~/.m2 caches it) and the dependency classpath."""
    started = time.monotonic()
    built = subprocess.run([_maven(settings), "-q", "-B", "compile", "dependency:build-classpath",
                            "-Dmdep.outputFile=target/classpath.txt"], cwd=JAVA, capture_output=True, text=True,
                           env={**os.environ, "JAVA_HOME": str(jdk)}, timeout=900, check=False)
    assert built.returncode == 0, f"mvn failed:\n{built.stdout[-4000:]}\n{built.stderr[-4000:]}"
    print(f"examples/java built in {time.monotonic() - started:.0f}s")
    return f"{JAVA / 'target' / 'classes'}:{(JAVA / 'target' / 'classpath.txt').read_text().strip()}"


@pytest.fixture(scope="module")
def pipeline(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[h.Pipeline]:
    with gatekeeper_pipeline(settings, tmp_path_factory.mktemp("ex-java") / "state", "exj") as p:
        yield p


def run(jdk: Path, classpath: str, main: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([str(jdk / "bin" / "java"), "-cp", classpath, f"{PACKAGE}.{main}", *args], env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, f"{main} exited {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    return proc


def test_java_producers_reach_the_province_consumer_once(jdk: Path, classpath: str, pipeline: h.Pipeline) -> None:
    env = example_env(pipeline, SIMPUL_REGENCY="3374")
    framed = json_lines(run(jdk, classpath, "HandFramedProducer", env).stdout)
    serde = json_lines(run(jdk, classpath, "ApicurioSerdeProducer", env).stdout)
    assert [e["event_type"] for e in framed] == ["ServiceRequestSubmitted", "ServiceRequestCompleted"] * 2
    assert [e["event_type"] for e in serde] == ["ServiceRequestSubmitted", "ServiceRequestCompleted"]
    assert {e["topic"] for e in framed + serde} == {f"{pipeline.prefix}.ingress.3374"}
    sent = {str(e["event_id"]): str(e["event_type"]) for e in framed + serde}
    assert len(sent) == 6, "every run makes fresh event ids"

    canonical = f"{pipeline.prefix}.events.governance"
    try:
        h.wait_for("the six events on the canonical topic", lambda: h.count(pipeline.settings, [canonical]) >= 6,
                   timeout=120, alive=pipeline.alive)
    except h.Deadline:
        raise AssertionError(f"rejected instead: {rejections(pipeline)}") from None

    group = {"SIMPUL_GROUP_ID": f"{pipeline.prefix}-province", "SIMPUL_IDLE_SECONDS": "20"}
    consumed = json_lines(run(jdk, classpath, "ProvinceConsumer", example_env(pipeline, **group), "6").stdout)
    got = {str(c["event"]["event_id"]): c for c in consumed}  # type: ignore[index]
    assert len(consumed) == 6 and {k: str(c["event_type"]) for k, c in got.items()} == sent
    for c in consumed:
        event = c["event"]
        assert event["regency_code"] == "3374"  # type: ignore[index]
        if c["event_type"] == "ServiceRequestSubmitted":
            assert str(event["applicant_nik"]).startswith("nik:")  # type: ignore[index]
    # the offsets were committed after handling: the same group, run again, has nothing left to hand over
    again = json_lines(run(jdk, classpath, "ProvinceConsumer", example_env(
        pipeline, **{**group, "SIMPUL_IDLE_SECONDS": "8"})).stdout)
    assert again == []
    assert rejections(pipeline) == []
