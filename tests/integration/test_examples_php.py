"""examples/php/publish.php (php-cli + curl) against `simpul gateway` and the gatekeeper: it publishes two events
of two types with fresh ids (202 accepted), sends the same request again (202 duplicate, the first copy's place,
nothing written twice) and reads back that each event was routed. Nothing is skipped: without php the test fails
saying how to install it."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator

import pytest

import harness as h
from simpul.settings import Settings
from tests.integration.examples_platform import (EXAMPLES, GatewayProcess, gatekeeper_pipeline, gateway_process,
                                                 json_lines)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def pipeline(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[h.Pipeline]:
    with gatekeeper_pipeline(settings, tmp_path_factory.mktemp("ex-php") / "state", "exphp") as p:
        yield p


@pytest.fixture(scope="module")
def gateway(pipeline: h.Pipeline) -> Iterator[GatewayProcess]:
    with gateway_process(pipeline) as gw:
        yield gw


def php() -> str:
    found = shutil.which("php")
    assert found, "the PHP example needs php-cli and php-curl: apt-get install -y php-cli php-curl (.ci/run does)"
    modules = subprocess.run([found, "-m"], capture_output=True, text=True, check=True).stdout.split()
    assert "curl" in modules, "php has no curl extension: apt-get install -y php-curl"
    return found


def test_php_publishes_retries_and_reads_back(gateway: GatewayProcess, pipeline: h.Pipeline) -> None:
    env = {"PATH": "/usr/bin:/bin", "SIMPUL_GATEWAY_URL": gateway.url, "SIMPUL_API_KEY": gateway.key("3322"),
           "SIMPUL_REGENCY": "3322"}
    proc = subprocess.run([php(), str(EXAMPLES / "php" / "publish.php")], env=env, capture_output=True, text=True,
                          timeout=180, check=False)
    assert proc.returncode == 0, f"publish.php exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    lines = json_lines(proc.stdout)
    publish = [x for x in lines if x["step"] == "publish"]
    retry = [x for x in lines if x["step"] == "retry"]
    outcome = [x for x in lines if x["step"] == "outcome"]
    assert [x["status"] for x in publish] == ["accepted", "accepted"]
    assert [x["status"] for x in retry] == ["duplicate", "duplicate"]
    place = ("event_id", "topic", "partition", "offset")
    assert [[x[k] for k in place] for x in retry] == [[x[k] for k in place] for x in publish]
    assert {x["topic"] for x in publish} == {f"{pipeline.prefix}.ingress.3322"}
    assert h.count(pipeline.settings, [f"{pipeline.prefix}.ingress.3322"]) == 2, "the retry wrote nothing"
    assert [(x["event_id"], x["http"], x["status"]) for x in outcome] == [
        (x["event_id"], 200, "routed") for x in publish]
