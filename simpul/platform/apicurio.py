"""Apicurio Registry as a local process: loopback only, schemas kept in an H2 file under the state folder."""

from __future__ import annotations

from pathlib import Path

from simpul.platform import artifacts, probes
from simpul.platform.processes import Started, log_path, remember, spawn
from simpul.settings import Settings


def registry_address(settings: Settings) -> str:
    """The Confluent-compatible API of the local registry."""
    return f"http://127.0.0.1:{settings.registry_port}/apis/ccompat/v7"


def start_registry(settings: Settings, state: Path) -> None:
    """Start the registry, remember its pid, and wait until it answers."""
    address = registry_address(settings)
    home = artifacts.apicurio_home(state)
    jar = home / "quarkus-run.jar"
    log = log_path(state, "registry")
    env = {
        "QUARKUS_HTTP_HOST": "127.0.0.1",
        "QUARKUS_HTTP_PORT": str(settings.registry_port),
        "QUARKUS_MANAGEMENT_PORT": str(settings.registry_management_port),
        "QUARKUS_MANAGEMENT_HOST": "127.0.0.1",
        "QUARKUS_LOG_CONSOLE_JSON": "false",
        # Schemas persist in an H2 file under the state folder (0600, like everything there), so schema ids
        # stay valid for the data the broker keeps across restarts (the default in-memory store would forget
        # them). H2's embedded user is local to that file, not a secret of this installation.
        "APICURIO_STORAGE_KIND": "sql",
        "APICURIO_STORAGE_SQL_KIND": "h2",
        "APICURIO_DATASOURCE_URL": f"jdbc:h2:file:{state / 'registry' / 'registry'};DB_CLOSE_ON_EXIT=FALSE",
        "APICURIO_DATASOURCE_USERNAME": "sa",
        "APICURIO_DATASOURCE_PASSWORD": "sa",
    }
    runtime = artifacts.registry_runtime()
    proc = spawn([runtime.java, "-Xms128m", "-Xmx512m", "-jar", str(jar)], log, env=env, cwd=home)
    remember(state, Started(name="registry", pid=proc.pid, marker=str(jar), address=address, java=runtime))
    probes.wait_until("registry", lambda: probes.registry_answers(address), 90, str(log),
                      alive=lambda: proc.poll() is None)
