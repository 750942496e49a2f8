"""Downloads from Maven Central are checked against the checksum Central publishes beside each file: a cached copy
that changed is refused (naming it and the expected checksum) and fetched again; a download that does not match is
not kept. Served here by a real HTTP server laid out as Central is (SIMPUL_MAVEN_CENTRAL points at it)."""

from __future__ import annotations

import hashlib
import http.server
import subprocess
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from simpul.platform import central, java, maven
from simpul.platform.exceptions import ArtifactDownloadFailed, ChecksumMismatch

COORDS = central.Coordinates(group="org.example.tools", artifact="thing", version="1.2.3", classifier="bin",
                             extension="tar.gz")
PAYLOAD = bytes(range(256)) * 4096  # 1 MiB


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def mirror(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The folder a local HTTP server serves as Maven Central; COORDS published there with its .sha512."""
    root = tmp_path / "central"
    folder = root / "org" / "example" / "tools" / "thing" / "1.2.3"
    folder.mkdir(parents=True)
    (folder / COORDS.filename).write_bytes(PAYLOAD)
    (folder / f"{COORDS.filename}.sha512").write_text(hashlib.sha512(PAYLOAD).hexdigest() + "  " + COORDS.filename)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv(central.CENTRAL_ENV, f"http://127.0.0.1:{server.server_address[1]}")
    try:
        yield folder
    finally:
        server.shutdown()
        server.server_close()


def test_coordinates_name_the_file_as_central_lays_it_out() -> None:
    assert maven.DISTRIBUTION.url(central.CENTRAL) == (
        f"{central.CENTRAL}/org/apache/maven/apache-maven/{maven.MAVEN_VERSION}/"
        f"apache-maven-{maven.MAVEN_VERSION}-bin.tar.gz")


def test_a_download_is_checked_and_its_checksum_kept_beside_it(mirror: Path, tmp_path: Path) -> None:
    said: list[str] = []
    path, checksum = central.fetch(COORDS, tmp_path / "cache", said.append)
    assert path.read_bytes() == PAYLOAD and checksum == f"sha512:{hashlib.sha512(PAYLOAD).hexdigest()}"
    assert (tmp_path / "cache" / f"{COORDS.filename}.sha512").read_text().strip() == hashlib.sha512(PAYLOAD).hexdigest()
    said.clear()
    central.fetch(COORDS, tmp_path / "cache", said.append)
    assert said == [], "a cached copy that matches is used as it is"


def test_a_tampered_cached_copy_is_refused_and_fetched_again(mirror: Path, tmp_path: Path) -> None:
    path, _ = central.fetch(COORDS, tmp_path / "cache")
    tampered = bytearray(path.read_bytes())
    tampered[1000] ^= 0xFF
    path.write_bytes(bytes(tampered))
    said: list[str] = []
    again, _ = central.fetch(COORDS, tmp_path / "cache", said.append)
    expected = hashlib.sha512(PAYLOAD).hexdigest()
    assert said[0].startswith(f"refused {path}:") and expected in said[0], said
    assert hashlib.sha512(bytes(tampered)).hexdigest() in said[0]
    assert again == path and path.read_bytes() == PAYLOAD


def test_a_download_that_does_not_match_is_not_kept(mirror: Path, tmp_path: Path) -> None:
    (mirror / COORDS.filename).write_bytes(PAYLOAD[:-1] + b"\x00")  # the mirror serves other bytes
    with pytest.raises(ChecksumMismatch) as caught:
        central.fetch(COORDS, tmp_path / "cache")
    message = str(caught.value)
    assert COORDS.filename in message and hashlib.sha512(PAYLOAD).hexdigest() in message, message
    assert not (tmp_path / "cache" / COORDS.filename).exists()
    assert not list((tmp_path / "cache").glob(".*.part"))


def test_sha1_when_central_publishes_no_sha512(mirror: Path, tmp_path: Path) -> None:
    (mirror / f"{COORDS.filename}.sha512").unlink()
    (mirror / f"{COORDS.filename}.sha1").write_text(hashlib.sha1(PAYLOAD).hexdigest())
    _, checksum = central.fetch(COORDS, tmp_path / "cache")
    assert checksum == f"sha1:{hashlib.sha1(PAYLOAD).hexdigest()}"


def test_no_published_checksum_no_download(mirror: Path, tmp_path: Path) -> None:
    (mirror / f"{COORDS.filename}.sha512").unlink()
    with pytest.raises(ArtifactDownloadFailed, match="publishes no checksum"):
        central.fetch(COORDS, tmp_path / "cache")
    assert not (tmp_path / "cache" / COORDS.filename).exists()


def test_the_machines_ca_bundle_becomes_a_trust_store_java_reads(tmp_path: Path) -> None:
    bundle = Path("/etc/ssl/certs/ca-certificates.crt")
    runtime = java.find(java.KAFKA_MIN_JAVA)
    keytool = Path(runtime.home) / "bin" / "keytool" if runtime else None
    if not bundle.is_file() or keytool is None or not keytool.is_file():
        pytest.skip("needs the machine's CA bundle and a Java runtime with keytool")
    store = tmp_path / "cacerts.jks"
    count = maven.write_truststore(bundle, store)
    assert count > 10
    listed = subprocess.run([str(keytool), "-list", "-keystore", str(store), "-storetype", "JKS", "-storepass",
                             maven.TRUSTSTORE_PASSWORD], capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0, listed.stdout + listed.stderr  # the integrity check passed
    assert f"contains {count} entries" in listed.stdout and "trustedCertEntry" in listed.stdout
