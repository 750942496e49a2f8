"""Webhook signatures, for the dispatcher and for receivers.

Every POST carries:

* `X-Simpul-Alert-Id`: the alert id (stable per condition; deduplicate on it if you must be exactly-once);
* `X-Simpul-Timestamp`: Unix seconds when this attempt was signed;
* `X-Simpul-Signature`: `sha256=` + hex HMAC-SHA256(secret, `<timestamp>.<raw body>`).

A receiver checks it with::

    from consumers.alerts import verify_signature
    ok = verify_signature(secret, request.headers["X-Simpul-Timestamp"], raw_body,
                          request.headers["X-Simpul-Signature"], tolerance_s=300)

using the raw bytes of the body (not a re-serialised JSON) and a constant-time comparison (done for you).
"""

from __future__ import annotations

import hashlib
import hmac
import time

ALERT_ID_HEADER = "X-Simpul-Alert-Id"
TIMESTAMP_HEADER = "X-Simpul-Timestamp"
SIGNATURE_HEADER = "X-Simpul-Signature"
SCHEME = "sha256="


def _key(secret: str | bytes) -> bytes:
    return secret.encode() if isinstance(secret, str) else secret


def sign(secret: str | bytes, timestamp: str | int, body: bytes) -> str:
    """The `X-Simpul-Signature` value of `body` signed at `timestamp`."""
    message = str(timestamp).encode() + b"." + body
    return SCHEME + hmac.new(_key(secret), message, hashlib.sha256).hexdigest()


def signature_headers(secret: str | bytes, alert_id: str, body: bytes, now: float | None = None) -> dict[str, str]:
    """The headers of one delivery attempt (content type included)."""
    timestamp = str(int(time.time() if now is None else now))
    return {
        "Content-Type": "application/json",
        ALERT_ID_HEADER: alert_id,
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: sign(secret, timestamp, body),
    }


def verify_signature(secret: str | bytes, timestamp: str | int, body: bytes, header: str | None, *,
                     tolerance_s: float | None = None, now: float | None = None) -> bool:
    """True if `header` is the signature of `body` at `timestamp` (and, with `tolerance_s`, the timestamp is recent)."""
    if not header or not header.startswith(SCHEME):
        return False
    if tolerance_s is not None:
        try:
            age = abs((time.time() if now is None else now) - int(str(timestamp)))
        except ValueError:
            return False
        if age > tolerance_s:
            return False
    return hmac.compare_digest(sign(secret, timestamp, body), header)
