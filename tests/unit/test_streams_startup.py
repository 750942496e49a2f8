"""A processor started while the cluster is away keeps trying its start-up for `streams_startup_wait_s`, then stops
with an error that names the setting: a stage restarted during a broker outage must not stop for good on the first
failed request (the chaos run's broker kill found it)."""

from __future__ import annotations

import logging
import re
import time

import pytest

from simpul.settings import Settings
from simpul.platform.probes import free_port_block
from streams.exceptions import TransientFailure
from streams.runtime import ensure_internal_topics



def test_start_up_retries_until_its_wait_then_names_the_setting(caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings(kafka_bootstrap=f"127.0.0.1:{free_port_block(1)[0]}", streams_startup_wait_s=4.0)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="simpul.streams"), pytest.raises(TransientFailure) as err:
        ensure_internal_topics(settings, settings, {"p-aggregates-windows-changelog": (1, True)}, timeout=1.0)
    took = time.monotonic() - started
    assert "SIMPUL_STREAMS_STARTUP_WAIT_S" in str(err.value) and "brokers" in str(err.value)
    retries = [r for r in caplog.records if "start-up waits for the cluster" in r.getMessage()]
    attempts = int(re.search(r"after (\d+) attempts", str(err.value)).group(1))  # type: ignore[union-attr]
    assert attempts >= 2 and len(retries) == attempts - 1, (attempts, [r.getMessage() for r in caplog.records])
    assert 4.0 <= took < 30.0, took


def test_the_wait_is_a_setting_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIMPUL_STREAMS_STARTUP_WAIT_S", "42")
    assert Settings().streams_startup_wait_s == 42.0
    monkeypatch.setenv("SIMPUL_STREAMS_STARTUP_WAIT_S", "0")
    with pytest.raises(ValueError, match="streams_startup_wait_s"):
        Settings()
