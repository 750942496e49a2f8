"""Between cases the bench deletes the cases' topics and waits until the broker's files of them are gone, so that
no case runs on the partitions of the ones before it, and no removal lands in a measurement."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from bench import env
from simpul.settings import Settings


def test_waits_until_the_deleted_topics_files_are_gone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(state_dir=tmp_path)
    deleted: list[str] = []
    monkeypatch.setattr(env, "delete_topics", lambda _s, prefix: deleted.append(prefix))
    monkeypatch.setattr(env, "broker_log_dir", lambda _s: tmp_path)
    for name in ("benchraw1.ingress.3301-0.abc-delete", "benchgk2.canonical.health-4", "other.topic-0"):
        (tmp_path / name).mkdir()
    env.delete_later(settings, "benchraw1")
    env.delete_later(settings, "benchgk2")

    def broker_removes() -> None:
        time.sleep(1.2)
        (tmp_path / "benchraw1.ingress.3301-0.abc-delete").rmdir()
        time.sleep(0.6)
        (tmp_path / "benchgk2.canonical.health-4").rmdir()

    remover = threading.Thread(target=broker_removes)
    remover.start()
    waited = env.settle_deleted(settings)
    remover.join()
    assert sorted(deleted) == ["benchgk2", "benchraw1"]
    assert 1.7 <= waited < 10, waited  # until the last of them went, and no longer
    assert (tmp_path / "other.topic-0").is_dir()
    assert env.settle_deleted(settings) < 0.1  # nothing deferred: nothing to wait for


def test_a_broker_that_keeps_the_files_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(state_dir=tmp_path)
    monkeypatch.setattr(env, "delete_topics", lambda _s, _p: None)
    monkeypatch.setattr(env, "broker_log_dir", lambda _s: tmp_path)
    (tmp_path / "benchlat9.ingress.3301-0").mkdir()
    env.delete_later(settings, "benchlat9")
    with pytest.raises(RuntimeError, match="still holds files of deleted topics"):
        env.settle_deleted(settings, timeout=1.0)
