"""Names with one home: topic names come from the catalog (topics.catalog.topic_names), the local platform's
addresses and the registry's API path from the settings (simpul.settings) and the platform launcher."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CODE = ("schemas", "topics", "producers", "streams", "consumers", "monitor", "simpul", "contract", "bench")
HAND_BUILT_TOPIC = re.compile(r"""f["'][^"']*\}\.(ingress|events|agg)\.\{|f["'][^"']*\}\.(alerts|dlq|audit)["']""")
LOCAL_ADDRESS = re.compile(r"127\.0\.0\.1:\d|:19092\b|:18080\b|:15432\b|:18000\b|/apis/ccompat/v\d")
ADDRESS_HOMES = ("simpul/settings.py", "simpul/platform/")


def _code() -> dict[str, str]:
    files = [p for d in CODE if (ROOT / d).is_dir() for p in (ROOT / d).rglob("*.py") if "__pycache__" not in p.parts]
    return {str(p.relative_to(ROOT)): p.read_text(encoding="utf-8") for p in files}


def test_no_topic_name_is_built_by_hand() -> None:
    found = [f"{path}:{n}: {line.strip()}" for path, text in _code().items() if path != "topics/catalog.py"
             for n, line in enumerate(text.splitlines(), 1) if HAND_BUILT_TOPIC.search(line)]
    assert found == []


def test_local_addresses_and_the_registry_path_live_on_the_settings() -> None:
    found = [f"{path}:{n}: {line.strip()}" for path, text in _code().items() if not path.startswith(ADDRESS_HOMES)
             for n, line in enumerate(text.splitlines(), 1) if LOCAL_ADDRESS.search(line)]
    assert found == []
