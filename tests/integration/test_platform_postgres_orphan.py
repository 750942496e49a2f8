"""A state folder deleted and made anew at the same path (a fresh clone, `rm -rf var`) gets a working PostgreSQL.

As root the cluster lives outside the state folder (/var/tmp, named after the folder's path), so it outlives the
folder and its secrets; the new folder's generated passwords cannot open it. The platform sets the old cluster
aside (never deletes it), makes a fresh one, and `purge` removes both. A cluster an earlier version made carries
no record of its secrets: there the refused password, and secrets younger than the cluster, tell the same.
Each case runs on a private PostgreSQL (a free port), so nothing here depends on the suite's platform.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import psycopg
import pytest
from simpul.platform.probes import free_port_block
from private_platform import private_state

from simpul.platform.local import LocalPlatform
from simpul.platform.local_postgres import MADE_WITH
from simpul.settings import load_settings


def _platform(state: Path, port: int) -> LocalPlatform:
    return LocalPlatform(load_settings(state_dir=state, postgres_port=port))


def _owner_url(state: Path, port: int) -> str:
    """The owner role's URL with the password the secrets folder holds now (read after `up` generated it)."""
    return load_settings(state_dir=state, postgres_port=port).postgres_owner.replace("postgresql+psycopg://",
                                                                                     "postgresql://")


def _marked_table(state: Path, port: int) -> None:
    url = _owner_url(state, port)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("create table kept (n int)")


def _has_table(state: Path, port: int) -> bool:
    url = _owner_url(state, port)
    with psycopg.connect(url) as conn:
        return conn.execute("select to_regclass('public.kept')").fetchone()[0] is not None


@pytest.mark.parametrize("made_by", ["this version", "an earlier version"])
def test_a_state_folder_made_anew_gets_a_fresh_cluster_and_the_old_one_is_set_aside(made_by: str) -> None:
    port = free_port_block(1, consecutive=False)[0]
    state = private_state("pg-orphan")
    first = _platform(state, port)
    home = first.postgres_home
    messages: list[str] = []
    try:
        first.up(only=["postgres"])
        _marked_table(state, port)
        assert first.down(only=["postgres"]) == ["postgres"]
        if made_by == "an earlier version":
            (home / MADE_WITH).unlink()
        shutil.rmtree(state / "secrets")  # what a new state folder at the same path has: secrets of its own
        shutil.rmtree(state / "run", ignore_errors=True)
        if home.is_relative_to(state):  # not root: the cluster is inside the folder and goes with it
            shutil.rmtree(home)

        again = _platform(state, port)
        status = again.up(only=["postgres"], progress=messages.append)
        assert status.service("postgres").running  # type: ignore[union-attr]
        assert not _has_table(state, port), "the new state folder must get a fresh cluster, not the old one's data"
        aside = sorted(home.parent.glob(f"{home.name}.orphaned-*"))
        if not home.is_relative_to(state):
            assert len(aside) == 1 and (aside[0] / "data" / "PG_VERSION").is_file(), aside
            said = [m for m in messages if "set aside" in m]
            assert said and str(aside[0]) in said[0] and "purge" in said[0], messages
            assert (home / MADE_WITH).is_file()
        # a second start with the same secrets keeps its cluster
        assert again.down(only=["postgres"]) == ["postgres"]
        again.up(only=["postgres"])
        _marked_table(state, port)
        assert again.down(only=["postgres"]) == ["postgres"]
        again.up(only=["postgres"])
        assert _has_table(state, port)
        assert sorted(home.parent.glob(f"{home.name}.orphaned-*")) == aside
    finally:
        platform = _platform(state, port)
        platform.down(only=["postgres"])
        gone = platform.purge()
        shutil.rmtree(state, ignore_errors=True)
    if not home.is_relative_to(state):
        assert home in gone and not home.exists()
        assert not list(home.parent.glob(f"{home.name}.orphaned-*"))
