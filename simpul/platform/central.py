"""Files Simpul downloads from Maven Central itself, each checked against the checksum Central publishes beside it.

(The Kafka and Apicurio jars come through Maven, run with --strict-checksums, so Maven checks those.) A cached copy
is checked again on every use: one that no longer matches is refused, with its name and the expected checksum, and
fetched again; a fresh download that does not match is deleted and the fetch fails.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import httpx
from pydantic import BaseModel

from simpul.platform.exceptions import ArtifactDownloadFailed, ChecksumMismatch

CENTRAL_ENV = "SIMPUL_MAVEN_CENTRAL"  # a mirror of Maven Central's layout (default: Central itself)
CENTRAL = "https://repo.maven.apache.org/maven2"
ALGORITHMS = ("sha512", "sha1")  # the strongest Central publishes first; every file there has at least .sha1

Progress = Callable[[str], None]


class Coordinates(BaseModel):
    """One artifact on Maven Central: group:artifact:version[:classifier]:extension."""

    group: str
    artifact: str
    version: str
    extension: str = "jar"
    classifier: str | None = None

    @property
    def filename(self) -> str:
        return f"{self.artifact}-{self.version}{'-' + self.classifier if self.classifier else ''}.{self.extension}"

    def url(self, base: str | None = None) -> str:
        root = (base or os.environ.get(CENTRAL_ENV) or CENTRAL).rstrip("/")
        return f"{root}/{self.group.replace('.', '/')}/{self.artifact}/{self.version}/{self.filename}"


def digest(path: Path, algorithm: str) -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def published_checksum(coords: Coordinates, cache: Path) -> tuple[str, str]:
    """(algorithm, hex) that Central publishes for `coords`, downloaded now and kept beside the cached file."""
    last = ""
    for algorithm in ALGORITHMS:
        url = f"{coords.url()}.{algorithm}"
        try:
            response = httpx.get(url, timeout=60, follow_redirects=True)
        except httpx.HTTPError as exc:
            raise ArtifactDownloadFailed(f"could not reach {url}: {exc}") from exc
        if response.status_code == 404:
            last = f"{url}: 404"
            continue
        if response.status_code != 200:
            raise ArtifactDownloadFailed(f"{url} answered HTTP {response.status_code}")
        value = response.text.split()[0].strip().lower() if response.text.strip() else ""
        if len(value) != hashlib.new(algorithm).digest_size * 2:
            raise ArtifactDownloadFailed(f"{url} holds no {algorithm} checksum: {response.text[:120]!r}")
        cache.mkdir(parents=True, exist_ok=True)
        (cache / f"{coords.filename}.{algorithm}").write_text(value + "\n")
        return algorithm, value
    raise ArtifactDownloadFailed(f"Maven Central publishes no checksum for {coords.url()} ({last})")


def _kept_checksum(coords: Coordinates, cache: Path) -> tuple[str, str] | None:
    for algorithm in ALGORITHMS:
        kept = cache / f"{coords.filename}.{algorithm}"
        if kept.is_file():
            return algorithm, kept.read_text().split()[0].strip().lower()
    return None


def fetch(coords: Coordinates, cache: Path, progress: Progress = lambda _: None) -> tuple[Path, str]:
    """The artifact in `cache`, checked: a cached copy is used if it matches Central's checksum, else refused and
    fetched again. Returns the file and its checksum ("sha512:<hex>")."""
    path = cache / coords.filename
    if path.is_file():
        expected = _kept_checksum(coords, cache) or published_checksum(coords, cache)
        if digest(path, expected[0]) != expected[1]:
            # the kept checksum may be what changed: ask Central again before refusing the file
            expected = published_checksum(coords, cache)
        actual = digest(path, expected[0])
        if actual == expected[1]:
            return path, f"{expected[0]}:{expected[1]}"
        progress(f"refused {path}: its {expected[0]} is {actual}, but Maven Central publishes {expected[1]} for "
                 f"{coords.url()}; fetching it again")
        path.unlink()
    expected = published_checksum(coords, cache)
    partial = cache / f".{coords.filename}.part"
    progress(f"downloading {coords.url()}")
    try:
        with httpx.stream("GET", coords.url(), timeout=120, follow_redirects=True) as response:
            if response.status_code != 200:
                raise ArtifactDownloadFailed(f"{coords.url()} answered HTTP {response.status_code}")
            with open(partial, "wb") as out:
                for chunk in response.iter_bytes(1 << 20):
                    out.write(chunk)
    except httpx.HTTPError as exc:
        partial.unlink(missing_ok=True)
        raise ArtifactDownloadFailed(f"could not download {coords.url()}: {exc}") from exc
    actual = digest(partial, expected[0])
    if actual != expected[1]:
        partial.unlink()
        raise ChecksumMismatch(f"refused {coords.url()} (downloaded as {path}): its {expected[0]} is {actual}, but "
                               f"Maven Central publishes {expected[1]}; nothing was kept, try `make setup` again")
    partial.replace(path)
    return path, f"{expected[0]}:{expected[1]}"
