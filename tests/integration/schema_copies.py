"""Copies of the Avro schemas under a namespace of a test's own, and edits of them: the schema-evolution tests
change subjects at the real registry without touching the production ones."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from schemas.catalog import AVRO_DIR, NAMESPACE


def _renamespace(node: Any, ns: str) -> Any:
    if isinstance(node, dict):
        return {k: (ns if k == "namespace" else _renamespace(v, ns)) for k, v in node.items()}
    if isinstance(node, list):
        return [_renamespace(v, ns) for v in node]
    return node


def private_catalog(tmp_path: Path, unique: str, only: tuple[str, ...] | None = None) -> Path:
    """A copy of the schemas (or of `only` these event types) under a namespace of this test's own."""
    target = tmp_path / "avro"
    shutil.copytree(AVRO_DIR, target)
    for path in target.glob("*/*.avsc"):
        if only and path.stem not in only:
            path.unlink()
            continue
        path.write_text(json.dumps(_renamespace(json.loads(path.read_text()), f"{NAMESPACE}.t{unique}"), indent=2))
    return target


def edit(directory: Path, event_type: str, change: Callable[[dict[str, Any]], None]) -> None:
    """Apply `change` to the JSON of one schema file of a private catalog."""
    path = next(directory.glob(f"*/{event_type}.avsc"))
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data, indent=2))
