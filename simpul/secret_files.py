"""Per-installation secrets: generated once into `<state>/secrets` (folder 0700, files 0600) and read by every
process through `Settings`, so that no secret has a working public default.

Each secret is one file named like its environment variable in lower case (`simpul_nik_hmac_key`), which is the
layout pydantic-settings reads as a secrets folder and the layout of a Kubernetes Secret mounted as a volume.
The environment (`SIMPUL_NIK_HMAC_KEY`) wins over the folder; `SIMPUL_SECRETS_DIR` points at another folder.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from simpul.exceptions import SimpulError

Rotation = Literal["free", "keeps-old", "breaks-matching"]


@dataclass(frozen=True)
class SecretSpec:
    """One installation secret: what it protects and what rotating it means."""

    name: str
    protects: str
    rotation: Rotation

    @property
    def env(self) -> str:
        return f"SIMPUL_{self.name.upper()}"

    @property
    def filename(self) -> str:
        return f"simpul_{self.name}"


SPECS: tuple[SecretSpec, ...] = (
    SecretSpec("nik_hmac_key", "keys the NIK tokens (HMAC-SHA256) minted by the gatekeeper", "breaks-matching"),
    SecretSpec("dlq_key", "encrypts the original bytes of DLQ records (AES-256-GCM)", "keeps-old"),
    SecretSpec("alert_webhook_secret", "signs alert webhooks (HMAC-SHA256)", "free"),
    SecretSpec("session_key", "signs dashboard session cookies and CSRF tokens", "free"),
    SecretSpec("metrics_token", "bearer token of the dashboard's /metrics", "free"),
    SecretSpec("gateway_digest_key", "keys the gateway's retry digests (HMAC-SHA256)", "free"),
    SecretSpec("tlog_signing_key", "seeds the Ed25519 key signing the transparency log's checkpoints", "free"),
)
BY_NAME = {s.name: s for s in SPECS}
RETIRED_DLQ_KEYS = "dlq_keys_retired"
"""Earlier DLQ keys, comma-separated: rotating the DLQ key keeps them so that older records still decrypt."""

MIN_LENGTH = 32
KNOWN_DEVELOPMENT_VALUES = frozenset({
    "simpul-local-development-key-change-me", "simpul-local-webhook-secret-change-me", "change-me", "changeme",
    "simpul", "secret", "password", "test", "development",
})


class SecretError(SimpulError):
    """A secret is missing, a known development value, too short, or its folder is unsafe."""


def weakness(value: str) -> str | None:
    """Why `value` must not be used as a secret, or None when it may."""
    if value.strip().lower() in KNOWN_DEVELOPMENT_VALUES or "change-me" in value.lower():
        return "is a known development value"
    if len(value) < MIN_LENGTH:
        return f"is shorter than {MIN_LENGTH} characters"
    return None


def default_dir(state_dir: Path) -> Path:
    return state_dir / "secrets"


def _write_private(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.replace(tmp, path)


def private_dir(folder: Path) -> Path:
    """`folder`, created if needed, readable by its owner alone."""
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    return folder


def ensure(folder: Path) -> list[str]:
    """Generate every secret the folder lacks (32 random bytes, base64url); the names of those generated."""
    private_dir(folder)
    made = []
    for spec in SPECS:
        path = folder / spec.filename
        if not path.is_file() or not path.read_text().strip():
            _write_private(path, secrets.token_urlsafe(32))
            made.append(spec.name)
        else:
            os.chmod(path, 0o600)
    return made


def read(folder: Path, name: str) -> str | None:
    path = folder / f"simpul_{name}"
    return path.read_text().strip() if path.is_file() else None


def rotate(folder: Path, name: str) -> str:
    """Replace one secret with a new random value; the DLQ key keeps its predecessors for decryption."""
    spec = BY_NAME.get(name)
    if spec is None:
        raise SecretError(f"no secret named {name!r}; known: {', '.join(BY_NAME)}")
    private_dir(folder)
    old = read(folder, name)
    if spec.rotation == "keeps-old" and old:
        retired = [k for k in (read(folder, RETIRED_DLQ_KEYS) or "").split(",") if k]
        _write_private(folder / f"simpul_{RETIRED_DLQ_KEYS}", ",".join([old, *retired]))
    new = secrets.token_urlsafe(32)
    _write_private(folder / spec.filename, new)
    return new


def unsafe_files(folder: Path) -> list[Path]:
    """Files (and the folder itself) in the secrets folder that someone other than the owner can read."""
    if not folder.is_dir():
        return []
    found = [folder] if folder.stat().st_mode & 0o077 else []
    return found + [p for p in sorted(folder.iterdir()) if p.is_file() and p.stat().st_mode & 0o077]
