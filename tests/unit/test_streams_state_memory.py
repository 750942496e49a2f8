"""Every local state database of a stage process shares one memory budget from the settings (`StateBudget`: one
RocksDB write-buffer budget, one block cache): the Faust tables of aggregates and alerts (a database per table
partition) and the gatekeeper's dedup cache. Faust's defaults (64 MiB write buffers, three of them, a 2 GiB block
cache per database) let the stages' RSS grow with every write during the one-hour soak; `bench/soak.py` measures
the RSS itself, these tests hold the wiring and the budget's bound."""

from __future__ import annotations

from pathlib import Path

import pytest

from memory_registry import MemoryRegistry
from schemas.codec import AvroCodec
from simpul.settings import Settings
from streams.aggregates.app import build_aggregates
from streams.alerts.app import build_alerts
from streams.alerts.rules import load_rules
from streams.gatekeeper.dedup import DedupTable, entry_key, entry_value
from streams.runtime import WRITE_BUFFER_BYTES, state_budget, table_options
from topics.catalog import topic_names

VALUE = b"x" * 8000  # about an aggregate's accumulator with its sample


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(state_dir=tmp_path, state_write_buffer_mib=6, state_cache_mib=8)


def _codec() -> AvroCodec:
    codec = AvroCodec(MemoryRegistry())  # type: ignore[arg-type]
    codec.register_all()
    return codec


def test_one_budget_per_process_and_size(settings: Settings) -> None:
    budget = state_budget(settings)
    assert state_budget(settings) is budget
    assert budget.write_buffers.get_buffer_size() == 6 << 20
    assert table_options(settings)["write_buffer_size"] == WRITE_BUFFER_BYTES
    assert table_options(settings) is not table_options(settings)  # Faust takes keys out of the dict it is given


def test_the_faust_stages_partitions_share_the_budget_and_stay_under_it(settings: Settings, tmp_path: Path) -> None:
    topics = topic_names(settings.topic_prefix)
    apps = [build_aggregates(settings, settings, topics=topics, codec=_codec()),
            build_alerts(settings, settings, topics=topics, codec=_codec(), rules=load_rules(settings.alert_rules_file))]
    tables = [table for app in apps for table in app.tables.values()]
    assert {t.name for t in tables} >= {"windows", "rule_state", "raised"}
    budget = state_budget(settings)
    dbs = []
    for table in tables:  # each table's partitions open as Faust opens them
        store = table._new_store()
        dbs += [store.rocksdb_options.open(tmp_path / "db" / f"{table.name}-{p}") for p in range(6)]
    for round_ in range(12):  # ~50 MiB over 18 databases: without the budget, up to 4 MiB x 2 each stays
        for i, db in enumerate(dbs):
            for k in range(30):
                db[f"{round_}-{i}-{k}".encode()] = VALUE
        # a soft bound: RocksDB flushes after the write that crosses 90% of it and counts memtables being flushed
        # too (allow_stall off: a Faust worker's event loop must not block on a put); 18 databases of 2 x 4 MiB
        # each would hold up to 144 MiB
        # (background flushes lag a tight write loop: a clean-clone run saw 3.01x), a quarter of that
        assert budget.write_buffers.get_usage() <= 36 << 20
    assert budget.write_buffers.get_usage() > 0, "the tables' memtables are not counted against the budget"
    assert dbs[5][b"11-5-29"] == VALUE and dbs[-1][b"0-17-0"] == VALUE
    for db in dbs:
        db.close()


def test_a_reopened_faust_table_database_reads_through_the_budget_cache(tmp_path: Path) -> None:
    """Reopening an existing database must not bring it a block cache of its own: rocksdict takes an existing
    database's column-family options from its OPTIONS file (an 8 MiB cache per database) unless it is given
    them, and a restarted stage's twelve databases then cached outside the budget."""
    settings = Settings(state_dir=tmp_path, state_write_buffer_mib=4, state_cache_mib=40)
    topics = topic_names(settings.topic_prefix)
    app = build_alerts(settings, settings, topics=topics, codec=_codec(), rules=load_rules(settings.alert_rules_file))
    budget = state_budget(settings)
    store = app.tables["rule_state"]._new_store()
    path = tmp_path / "db" / "rule_state-0"
    store.rocksdb_options.open(path).close()  # the first incarnation's database
    db = store.rocksdb_options.open(path)
    before = budget.cache.get_usage() - budget.cache.get_pinned_usage()
    for i in range(500):  # ~4 MiB to a table file, a third of it read back
        db[b"k%06d" % i] = VALUE
    db.flush()
    for i in range(0, 500, 3):
        assert db[b"k%06d" % i] == VALUE
    blocks = budget.cache.get_usage() - budget.cache.get_pinned_usage() - before
    in_db = db.property_int_value("rocksdb.block-cache-usage")
    assert in_db > 1 << 20, "no block was read back from the table file: the test proves nothing"
    assert in_db == budget.cache.get_usage() and blocks > 1 << 20, \
        f"the reopened database cached {in_db >> 10} KiB in a cache of its own; the budget's got {blocks >> 10} KiB"
    db.close()


def test_a_reopened_dedup_cache_keeps_its_own_options(tmp_path: Path) -> None:
    """The gatekeeper's dedup cache reopens with the options it asks for (point lookups, its 16 MiB cache), not
    those of the OPTIONS file with a default 8 MiB cache."""
    budget = state_budget(Settings(state_dir=tmp_path, state_write_buffer_mib=2, state_cache_mib=2))
    DedupTable(tmp_path / "dedup", budget=budget).close()
    reopened = DedupTable(tmp_path / "dedup", budget=budget)
    db = reopened._db
    for i in range(2500):
        db[b"k%06d" % i] = VALUE
    db.flush()
    for i in range(0, 2500, 2):
        assert db[b"k%06d" % i] == VALUE
    assert db.property_int_value("rocksdb.block-cache-capacity") == 16 << 20
    assert db.property_int_value("rocksdb.block-cache-usage") > 9 << 20, "its reads did not fill past 8 MiB"
    reopened.close()


def test_the_dedup_cache_is_on_the_budget_and_keeps_every_entry_across_flushes(tmp_path: Path) -> None:
    budget = state_budget(Settings(state_dir=tmp_path, state_write_buffer_mib=2, state_cache_mib=2))
    table = DedupTable(tmp_path / "dedup", budget=budget)
    ids = [f"9541cce0-92b2-4f03-8229-{i:012d}" for i in range(40_000)]  # ~4 MiB: several budgets flushed
    table.commit({entry_key(e): entry_value(1000 + i, f"p.ingress.3374:0:{i}") for i, e in enumerate(ids)}, {0: 40_000})
    assert 0 < budget.write_buffers.get_usage() <= (2 << 20) * 3  # one 4 MiB batch goes in whole
    table.close()
    reopened = DedupTable(tmp_path / "dedup", budget=budget)
    assert [reopened.get(e) for e in ids[::997]] == [[1000 + i, f"p.ingress.3374:0:{i}"] for i in range(0, 40_000, 997)]
    assert reopened.next_offset(0) == 40_000
    reopened.close()


def test_memtables_are_charged_to_the_block_cache(tmp_path: Path) -> None:
    """One limit for all of a process's RocksDB memory: what its memtables hold is reserved in the block cache,
    so blocks read back and memtables together stay near `state_cache_mib` instead of adding up with it."""
    budget = state_budget(Settings(state_dir=tmp_path, state_write_buffer_mib=4, state_cache_mib=6))
    table = DedupTable(tmp_path / "dedup", budget=budget)
    assert budget.cache.get_usage() < 1 << 20
    ids = [f"9541cce0-92b2-4f03-8229-{i:012d}" for i in range(5_000)]
    table.commit({entry_key(e): entry_value(1000 + i, f"p.ingress.3374:0:{i}") for i, e in enumerate(ids)}, {0: 5_000})
    in_memtables = budget.write_buffers.get_usage()
    assert in_memtables > 0
    assert budget.cache.get_usage() >= in_memtables, "the memtables are not reserved in the block cache"
    table.close()


def test_write_buffers_larger_than_the_cache_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="state_write_buffer_mib .* is more than state_cache_mib"):
        Settings(state_dir=tmp_path, state_write_buffer_mib=32, state_cache_mib=16)


_MAPPED_AFTER_A_FREE = """
import ctypes, sys
sys.path.insert(0, {root!r})
libc = ctypes.CDLL("libc.so.6")
class MI(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                "fsmblks", "uordblks", "fordblks", "keepcost")]
libc.mallinfo2.restype = MI
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
if {pin}:
    from streams.runtime import pin_mmap_threshold
    assert pin_mmap_threshold()
libc.free(libc.malloc(4 << 20))  # a mapped block freed: glibc would raise its threshold to 4 MiB
before = libc.mallinfo2().hblkhd
blocks = [libc.malloc(512 << 10) for _ in range(8)]  # memtable arena blocks
print(libc.mallinfo2().hblkhd - before)
"""


@pytest.mark.parametrize("pin", [True, False])
def test_memtable_sized_blocks_stay_mapped_once_the_threshold_is_pinned(pin: bool) -> None:
    """Pinned, 512 KiB blocks are mapped (and go back to the OS when freed) even after a larger mapped block was
    freed; unpinned, glibc's moving threshold puts them on the heap, where their holes stayed in RSS."""
    import subprocess
    import sys

    root = str(Path(__file__).resolve().parents[2])
    out = subprocess.run([sys.executable, "-c", _MAPPED_AFTER_A_FREE.format(root=root, pin=pin)],
                         capture_output=True, text=True, check=True).stdout
    mapped = int(out.strip())
    if pin:
        assert mapped >= 8 * (512 << 10)
    else:
        assert mapped == 0, "glibc kept its threshold fixed without being asked: the pinning test proves nothing"


def test_the_first_budget_pins_the_threshold(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import streams.runtime as runtime

    calls: list[bool] = []
    monkeypatch.setattr(runtime, "_BUDGETS", {})
    monkeypatch.setattr(runtime, "pin_mmap_threshold", lambda: calls.append(True) or True)
    state_budget(Settings(state_dir=tmp_path, state_write_buffer_mib=3, state_cache_mib=7))
    state_budget(Settings(state_dir=tmp_path, state_write_buffer_mib=3, state_cache_mib=9))
    assert calls == [True]
