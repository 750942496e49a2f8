"""The gatekeeper's local dedup cache: staged entries are visible at once, committed ones survive a reopen, and
the changelog position is kept with them."""

from __future__ import annotations

import json
from pathlib import Path

from streams.gatekeeper.dedup import DedupTable, entry_key, entry_value
from streams.gatekeeper.logic import DedupMemory

EID = "9541cce0-92b2-4f03-8229-f72e85f3586e"


def test_changelog_records_are_json() -> None:
    assert json.loads(entry_key(EID)) == EID
    assert json.loads(entry_value(1700000000000, "p.ingress.3374:2:41")) == [1700000000000, "p.ingress.3374:2:41"]


def test_staged_then_committed_entries_and_offsets_survive_a_reopen(tmp_path: Path) -> None:
    table = DedupTable(tmp_path / "dedup")
    assert table.get(EID) is None and table.next_offset(2) == 0
    key, value = entry_key(EID), entry_value(1000, "p.ingress.3374:2:41")
    table.stage(key, value)
    assert table.get(EID) == [1000, "p.ingress.3374:2:41"]
    table.commit({key: value}, {2: 17})
    table.close()
    reopened = DedupTable(tmp_path / "dedup")
    assert reopened.get(EID) == [1000, "p.ingress.3374:2:41"]
    assert reopened.next_offset(2) == 17 and reopened.next_offset(0) == 0
    reopened.close()


def test_uncommitted_entries_are_lost_with_the_process(tmp_path: Path) -> None:
    """A crash before the changelog acknowledged a batch leaves nothing behind: the replay decides afresh."""
    table = DedupTable(tmp_path / "dedup")
    table.stage(entry_key(EID), entry_value(1000, "p.ingress.3374:2:41"))
    table.close()
    assert DedupTable(tmp_path / "dedup").get(EID) is None


def test_dedup_memory_reads_the_table_within_the_horizon(tmp_path: Path) -> None:
    table = DedupTable(tmp_path / "dedup")
    table.stage(entry_key(EID), entry_value(1000, "p.ingress.3374:2:41"))
    memory = DedupMemory(table, horizon_ms=500)  # type: ignore[arg-type]
    assert memory.first_seen(EID, now_ms=1400) == "p.ingress.3374:2:41"
    assert memory.first_seen(EID, now_ms=1600) is None  # older than the horizon: unseen
    table.close()
