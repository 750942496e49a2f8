"""The suite's one way to reach the platform: reuse a running one, else start one for the session.

Whichever provider runs it (local processes, Docker via testcontainers, an existing cluster through
SIMPUL_KAFKA_BOOTSTRAP & co.), tests receive a `Settings` pointing at real Kafka, registry and PostgreSQL.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.stores import create_pg_database, drop_pg_database
from simpul import secret_files
from simpul.platform import platform_for, probes
from simpul.platform.external import ExternalPlatform
from simpul.platform.local import LocalPlatform
from simpul.platform.endpoints import PlatformStatus
from simpul.settings import Settings, load_settings


@pytest.fixture(scope="session")
def platform() -> Iterator[PlatformStatus]:
    """The running platform; what this session started, it stops at the end, and nothing else."""
    base = load_settings()
    provider = platform_for(base)
    before = provider.status()
    if not any(s.running for s in before.services) and _answers_at_configured_addresses(base):
        provider = ExternalPlatform(base)  # another checkout's platform on the same ports: use it as it is
        before = provider.status()
    already = {s.name for s in before.services if s.running}
    # The suite runs on a plaintext Kafka (`make test` gives it a state folder and ports of its own: var/test);
    # the secured platform is tested on private platforms (tests/integration/test_platform_secure.py & co.).
    mode = {"secure": False} if isinstance(provider, LocalPlatform) else {}
    # As root the suite's PostgreSQL cluster lives under /var/tmp, outside the clone: one this session makes (new,
    # or made afresh after setting aside one a deleted clone left), it also deletes, with what it set aside, so
    # that a clean clone's run leaves nothing behind.
    began = time.time()
    status = provider.up(with_postgres=True, **mode)
    yield status
    started = [s.name for s in status.services if s.running and s.name not in already]
    if started:
        provider.down(only=started)
    if "postgres" in started and isinstance(provider, LocalPlatform):
        made = provider.postgres_home / "data" / "PG_VERSION"
        if made.is_file() and made.stat().st_mtime >= began - 1:
            provider.purge()


def _answers_at_configured_addresses(settings: Settings) -> bool:
    return (probes.kafka_answers(settings.kafka.bootstrap) and probes.registry_answers(settings.registry)
            and probes.postgres_answers(settings.postgres))


@pytest.fixture(scope="session")
def settings(platform: PlatformStatus) -> Settings:
    """Settings whose addresses are the platform's, as an operator would configure an existing cluster; the
    installation's secrets come from the state folder, generated on first use as `simpul platform up` does
    (PostgreSQL's URLs too: the platform's port and the role passwords of the secrets folder)."""
    secret_files.ensure(load_settings().secrets_folder)
    return load_settings(
        kafka_bootstrap=platform.kafka_bootstrap,
        registry_url=platform.registry_url,
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, settings: Settings, unique: str,
              tmp_path: Path) -> Iterator[str]:
    """A fresh, empty provincial store on each real database: a SQLite file, and a PostgreSQL database of the
    platform's own cluster (created, owned and dropped by the owner role, which also migrates it)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.sqlite'}"
        return
    name = f"simpul_test_{unique}"
    url = create_pg_database(settings, name)
    try:
        yield url
    finally:
        drop_pg_database(settings, name)


@pytest.fixture
def unique() -> str:
    """A short random name part, so tests never share topics, subjects or groups."""
    return uuid.uuid4().hex[:10]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.integration)
