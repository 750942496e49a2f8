"""How `simpul gateway` asks uvicorn to serve: explicit client limits, and HTTPS only with a complete TLS pair."""

from __future__ import annotations

from pathlib import Path

import pytest

from producers.gateway.serving import (
    H11_MAX_INCOMPLETE_EVENT_BYTES,
    LIMIT_CONCURRENCY,
    TIMEOUT_KEEP_ALIVE_S,
    Serving,
    ServingError,
)


def test_plain_http_sets_the_client_limits() -> None:
    s = Serving("127.0.0.1", 18000)
    assert s.url == "http://127.0.0.1:18000"
    options = s.uvicorn_options()
    assert options["http"] == "h11"
    assert options["h11_max_incomplete_event_size"] == H11_MAX_INCOMPLETE_EVENT_BYTES
    assert options["timeout_keep_alive"] == TIMEOUT_KEEP_ALIVE_S
    assert options["limit_concurrency"] == LIMIT_CONCURRENCY
    assert "ssl_certfile" not in options


def test_tls_pair_serves_https(tmp_path: Path) -> None:
    cert, key = tmp_path / "gw.crt", tmp_path / "gw.key"
    cert.write_text("cert")
    key.write_text("key")
    s = Serving("0.0.0.0", 8443, cert, key)
    assert s.url == "https://0.0.0.0:8443"
    assert s.uvicorn_options()["ssl_certfile"] == str(cert) and s.uvicorn_options()["ssl_keyfile"] == str(key)


def test_half_a_tls_pair_or_a_missing_file_is_refused(tmp_path: Path) -> None:
    cert = tmp_path / "gw.crt"
    cert.write_text("cert")
    with pytest.raises(ServingError, match="both a certificate and its private key"):
        Serving("127.0.0.1", 1, cert, None).uvicorn_options()
    with pytest.raises(ServingError, match="gw.key is not a readable file"):
        Serving("127.0.0.1", 1, cert, tmp_path / "gw.key").uvicorn_options()


def test_the_documents_state_the_limits_the_gateway_enforces() -> None:
    """README's gateway section and docs/contract.md repeat the limits (contract/ cannot import the gateway)."""
    from producers.gateway.body import EVENT_JSON_BYTES, body_limit

    root = Path(__file__).resolve().parents[2]
    readme = (root / "README.md").read_text()
    contract = (root / "docs/contract.md").read_text()
    for doc in (readme, contract):
        assert f"{body_limit(1000):,} bytes" in doc and f"{EVENT_JSON_BYTES:,} per event" in doc
    assert f"at most {H11_MAX_INCOMPLETE_EVENT_BYTES // 1024} KiB" in readme
    assert f"after {TIMEOUT_KEEP_ALIVE_S} s" in readme and f"at most {LIMIT_CONCURRENCY} connections" in readme



def test_log_records_are_written_without_niks() -> None:
    """Every handler of the gateway's logging masks 16-digit runs: in the message, in uvicorn's access-log
    arguments (which its formatter unpacks), and in an exception's text."""
    import io
    import logging
    import sys

    from uvicorn.logging import AccessFormatter, DefaultFormatter

    from producers.gateway.serving import RedactNiks, log_config

    config = log_config()
    assert set(config["handlers"]) == {"default", "access"}
    assert all(h["filters"] == ["redact_niks"] for h in config["handlers"].values())
    assert config["filters"]["redact_niks"]["()"] == "producers.gateway.serving.RedactNiks"
    assert config["root"]["handlers"] == ["default"]

    def written(formatter: logging.Formatter, record: logging.LogRecord) -> str:
        stream = io.StringIO()
        handler = logging.StreamHandler(stream)
        handler.setFormatter(formatter)
        handler.addFilter(RedactNiks())
        handler.handle(record)
        return stream.getvalue()

    access = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5", "GET", "/v1/x?nik=3374015502900001", "1.1", 404), None)
    assert '"GET /v1/x?nik=3374************ HTTP/1.1" 404' in written(AccessFormatter(use_colors=False), access)
    try:
        raise ValueError("bad value 3374015502900002")
    except ValueError:
        error = logging.LogRecord("producers.gateway.app", logging.ERROR, __file__, 1, "failed for 3374015502900003",
                                  None, sys.exc_info())
    text = written(DefaultFormatter("%(message)s", use_colors=False), error)
    assert "failed for 3374************" in text and "Traceback" in text and "bad value 3374************" in text
    assert "337401550290000" not in text
