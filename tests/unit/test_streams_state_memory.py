"""Every local state database of the stages has a bounded memory budget from the settings: the Faust tables of
aggregates and alerts and the gatekeeper's dedup cache. RocksDB's and Faust's defaults (64 MiB write buffers, three
of them, a 2 GiB block cache per database) let the stages' RSS grow with every write during the one-hour soak;
`bench/soak.py` measures the RSS itself, these tests hold the wiring."""

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
from streams.runtime import table_options
from topics.catalog import topic_names


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(state_dir=tmp_path, state_write_buffer_mib=3, state_cache_mib=5)


def _codec() -> AvroCodec:
    codec = AvroCodec(MemoryRegistry())  # type: ignore[arg-type]
    codec.register_all()
    return codec


def test_table_options_follow_the_settings(settings: Settings) -> None:
    options = table_options(settings)
    assert options["write_buffer_size"] == 3 << 20 and options["max_write_buffer_number"] == 2
    assert options["block_cache_size"] == 5 << 20
    assert table_options(settings) is not table_options(settings)  # Faust takes keys out of the dict it is given


def test_the_faust_stages_tables_are_built_with_the_budget(settings: Settings) -> None:
    topics = topic_names(settings.topic_prefix)
    apps = [build_aggregates(settings, settings, topics=topics, codec=_codec()),
            build_alerts(settings, settings, topics=topics, codec=_codec(), rules=load_rules(settings.alert_rules_file))]
    tables = [table for app in apps for table in app.tables.values()]
    assert {t.name for t in tables} >= {"windows", "rule_state", "raised"}
    for table in tables:
        store = table._new_store()
        assert store.rocksdb_options.write_buffer_size == 3 << 20, table.name
        assert store.rocksdb_options.block_cache_size == 5 << 20, table.name
        assert store.rocksdb_options.max_write_buffer_number == 2, table.name


def test_the_dedup_cache_with_a_small_budget_keeps_every_entry_across_flushes(tmp_path: Path) -> None:
    table = DedupTable(tmp_path / "dedup", write_buffer_mib=1, cache_mib=1)
    ids = [f"9541cce0-92b2-4f03-8229-{i:012d}" for i in range(40_000)]  # ~4 MiB: several write buffers flushed
    table.commit({entry_key(e): entry_value(1000 + i, f"p.ingress.3374:0:{i}") for i, e in enumerate(ids)}, {0: 40_000})
    table.close()
    reopened = DedupTable(tmp_path / "dedup", write_buffer_mib=1, cache_mib=1)
    assert [reopened.get(e) for e in ids[::997]] == [[1000 + i, f"p.ingress.3374:0:{i}"] for i in range(0, 40_000, 997)]
    assert reopened.next_offset(0) == 40_000
    reopened.close()
