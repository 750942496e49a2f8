"""The Java artifacts of the local platform, resolved by Maven from Maven Central through deploy/local/ poms.

Maven's own local repository (~/.m2) caches the downloads; the state folder holds the jars we run.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from simpul.platform.exceptions import ArtifactDownloadFailed, PrerequisiteMissing

DEPLOY_LOCAL = Path(__file__).resolve().parents[2] / "deploy" / "local"
MIN_JAVA = 17


REGISTRY_MIN_JAVA = 21  # Apicurio Registry 3.3 is compiled for Java 21


def java_binary() -> str:
    """The java on PATH, checked for presence and version 17+ (what the Kafka broker needs)."""
    java = shutil.which("java")
    if java is None:
        raise PrerequisiteMissing(
            "java not found on PATH: install Java 17 or newer (Debian: apt-get install openjdk-17-jre-headless)"
        )
    major = java_major(java)
    if major < MIN_JAVA:
        raise PrerequisiteMissing(f"{java} is Java {major}; install Java {MIN_JAVA} or newer and put it first on PATH")
    return java


def registry_java() -> str:
    """A Java 21+ for Apicurio: the one on PATH if new enough, else $SIMPUL_REGISTRY_JAVA_HOME, $JAVA_HOME or
    any JDK under /usr/lib/jvm (Debian and Temurin packages install there)."""
    import os

    candidates = [java_binary()]
    for home in (os.environ.get("SIMPUL_REGISTRY_JAVA_HOME"), os.environ.get("JAVA_HOME")):
        if home:
            candidates.append(str(Path(home) / "bin" / "java"))
    candidates += [str(p) for p in sorted(Path("/usr/lib/jvm").glob("*/bin/java"), reverse=True)]
    for java in candidates:
        if Path(java).is_file() and java_major(java) >= REGISTRY_MIN_JAVA:
            return java
    raise PrerequisiteMissing(
        f"Apicurio Registry 3.3 needs Java {REGISTRY_MIN_JAVA}+ and none was found: install one (Debian 13: "
        "apt-get install openjdk-21-jre-headless; or a Temurin 21+ JDK) or set SIMPUL_REGISTRY_JAVA_HOME to it"
    )


def java_major(java: str) -> int:
    out = subprocess.run([java, "-version"], capture_output=True, text=True, check=False).stderr
    m = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    major = int(m.group(1)) if m else 0
    if major == 1 and m and m.group(2):  # "1.8.0" style
        major = int(m.group(2))
    return major


def maven_binary() -> str:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise PrerequisiteMissing("mvn not found on PATH: install Maven 3.8+ (Debian: apt-get install maven)")
    return mvn


def kafka_lib(state_dir: Path) -> Path:
    return state_dir / "lib" / "kafka"


def apicurio_home(state_dir: Path) -> Path:
    return state_dir / "lib" / "apicurio"


def ensure_artifacts(state_dir: Path) -> None:
    """Fetch what is missing; a second call with everything present does nothing and needs no Maven."""
    if not _kafka_present(state_dir):
        _mvn(["-f", str(DEPLOY_LOCAL / "kafka-pom.xml"), "dependency:copy-dependencies",
              f"-DoutputDirectory={kafka_lib(state_dir).resolve()}"], "Apache Kafka")
        (kafka_lib(state_dir) / ".complete").write_text(_pom_digest("kafka-pom.xml"))
    if not _apicurio_present(state_dir):
        _mvn(["-f", str(DEPLOY_LOCAL / "apicurio-pom.xml"), "dependency:unpack",
              f"-DoutputDirectory={apicurio_home(state_dir).resolve()}"], "Apicurio Registry")
        if not (apicurio_home(state_dir) / "quarkus-run.jar").is_file():
            raise ArtifactDownloadFailed(
                f"Maven ran but {apicurio_home(state_dir)} holds no quarkus-run.jar: delete that folder and run "
                "`make setup` again")
        (apicurio_home(state_dir) / ".complete").write_text(_pom_digest("apicurio-pom.xml"))


def _kafka_present(state_dir: Path) -> bool:
    marker = kafka_lib(state_dir) / ".complete"
    return marker.is_file() and marker.read_text() == _pom_digest("kafka-pom.xml")


def _apicurio_present(state_dir: Path) -> bool:
    marker = apicurio_home(state_dir) / ".complete"
    return (marker.is_file() and marker.read_text() == _pom_digest("apicurio-pom.xml")
            and (apicurio_home(state_dir) / "quarkus-run.jar").is_file())


def _pom_digest(pom: str) -> str:
    import hashlib

    return hashlib.sha256((DEPLOY_LOCAL / pom).read_bytes()).hexdigest()


def _mvn(args: list[str], what: str) -> None:
    mvn = maven_binary()
    proc = subprocess.run([mvn, "-q", "-B", *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise ArtifactDownloadFailed(
            f"Maven could not fetch {what} from Maven Central (exit {proc.returncode}). Check network access to "
            f"repo.maven.apache.org (or your mirror in ~/.m2/settings.xml) and run `make setup` again.\n{tail}"
        )
