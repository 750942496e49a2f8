"""Apache Kafka's own command-line tools, run from the jars the local platform fetched (no separate install)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from simpul.platform import artifacts

CONSUMER_GROUPS = "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand"


def run_kafka_tool(state_dir: Path, main_class: str, *args: str, timeout: float = 120) -> str:
    """Run a Kafka tool class with our jars; returns its stdout, raises on a non-zero exit."""
    java = artifacts.java_binary()
    artifacts.ensure_artifacts(state_dir)
    proc = subprocess.run(
        [java, "-Xmx256m", f"-Dlog4j2.configurationFile={artifacts.DEPLOY_LOCAL / 'log4j2-tools.properties'}",
         "-cp", f"{artifacts.kafka_lib(state_dir.resolve())}/*", main_class, *args],
        capture_output=True, text=True, timeout=timeout, check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{main_class} exited {proc.returncode}: {proc.stderr.strip()[-2000:]}")
    return proc.stdout
