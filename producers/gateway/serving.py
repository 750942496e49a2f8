"""How the gateway process serves (uvicorn): its address, TLS, and the limits that bound a slow or hostile client.

What bounds a client, measured with uvicorn 0.54 and h11 0.16 (tests/integration/test_gateway_process.py):
- the request line and headers: h11 keeps at most H11_MAX_INCOMPLETE_EVENT_BYTES of them while incomplete, then
  uvicorn answers 400 and closes the connection;
- the body: uvicorn buffers a little over 64 KiB the app has not asked for, then stops reading the socket; the app
  reads at most the body limit (producers.gateway.body), and refuses a request without a valid key before it
  reads any of it;
- an idle keep-alive connection is closed after TIMEOUT_KEEP_ALIVE_S;
- at most LIMIT_CONCURRENCY connections at once; uvicorn answers 503 beyond. Together: bodies being read hold at
  most LIMIT_CONCURRENCY x (body limit + 64 KiB), about 260 MB with the defaults. A complete body of a valid key
  is then parsed and validated in the thread pool (40 threads): a 3.9 MB batch of 1,000 events raised the
  gateway's RSS by 23 MiB at its peak, measured.
- Not bounded by uvicorn: how long a client may take to send its headers or body (it has no read timeout). A
  client that trickles bytes holds one connection slot, and no more memory than above, until it finishes or
  goes away; where that matters, a proxy in front bounds time (nginx `client_header_timeout`,
  `client_body_timeout`; the Kubernetes ingress).
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from producers.exceptions import ProducerError
from schemas.nik import redact_niks

H11_MAX_INCOMPLETE_EVENT_BYTES = 16 * 1024
TIMEOUT_KEEP_ALIVE_S = 5
LIMIT_CONCURRENCY = 64


class LogLevel(StrEnum):
    """uvicorn's log levels but `trace`; `info` adds the access log (method, path and status only)."""

    CRITICAL = "critical"
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"
    DEBUG = "debug"


class ServingError(ProducerError):
    """The gateway cannot serve as configured (an incomplete or unreadable TLS pair)."""


class RedactNiks(logging.Filter):
    """Masks every run of 16+ digits in a log record before any handler writes it: the access log repeats the
    path and query string a client sent, and an exception's text may repeat a value, either of which can be a
    NIK."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact_niks(record.msg)
        if isinstance(record.args, tuple):  # uvicorn's access formatter unpacks them: keep the tuple's shape
            record.args = tuple(redact_niks(a) if isinstance(a, str) else a for a in record.args)
        if record.exc_info and not record.exc_text:
            record.exc_text = redact_niks(logging.Formatter().formatException(record.exc_info))
        return True


def log_config() -> dict[str, Any]:
    """uvicorn's logging, with RedactNiks on every handler and the root logger (the gateway's own modules and
    libraries) written through it too."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"redact_niks": {"()": f"{__name__}.RedactNiks"}}
    for handler in config["handlers"].values():
        handler["filters"] = ["redact_niks"]
    config["root"] = {"handlers": ["default"], "level": "WARNING"}
    return config


@dataclass(frozen=True)
class Serving:
    """Address, TLS pair and limits of one gateway process."""

    host: str
    port: int
    tls_cert: Path | None = None
    tls_key: Path | None = None
    log_level: LogLevel = LogLevel.WARNING
    limit_concurrency: int = LIMIT_CONCURRENCY

    @property
    def scheme(self) -> str:
        return "https" if self.tls_cert else "http"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    def uvicorn_options(self) -> dict[str, Any]:
        """Keyword arguments of `uvicorn.run`; ServingError when only half a TLS pair is given or a file is
        unreadable."""
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ServingError("HTTPS needs both a certificate and its private key: give --tls-cert and --tls-key "
                               "(or SIMPUL_GATEWAY_TLS_CERT and SIMPUL_GATEWAY_TLS_KEY), or neither for plain HTTP")
        for what, path in (("certificate", self.tls_cert), ("private key", self.tls_key)):
            if path is not None and not path.is_file():
                raise ServingError(f"the TLS {what} {path} is not a readable file")
        options: dict[str, Any] = {
            "host": self.host, "port": self.port, "log_level": self.log_level.value, "log_config": log_config(),
            "http": "h11",
            "h11_max_incomplete_event_size": H11_MAX_INCOMPLETE_EVENT_BYTES,
            "timeout_keep_alive": TIMEOUT_KEEP_ALIVE_S, "limit_concurrency": self.limit_concurrency,
        }
        if self.tls_cert is not None:
            options.update(ssl_certfile=str(self.tls_cert), ssl_keyfile=str(self.tls_key))
        return options
