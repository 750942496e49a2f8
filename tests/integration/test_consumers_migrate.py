"""Several sinks starting at once on a fresh PostgreSQL store: one migrates, the others wait; none fails."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from alembic.script import ScriptDirectory

from consumers.store.db import alembic_config, migrate


def test_concurrent_migrations_of_one_database(store_url: str) -> None:
    if not store_url.startswith("postgresql"):
        pytest.skip("SQLite serialises writers itself; the advisory lock is PostgreSQL's")
    with ThreadPoolExecutor(4) as pool:
        revisions = list(pool.map(lambda _: migrate(store_url), range(4)))
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None and revisions == [head] * 4
