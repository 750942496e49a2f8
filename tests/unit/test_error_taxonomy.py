"""The error taxonomy: one root, one root per package, one class per name, and no class that nothing raises."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

from schemas.exceptions import SimpulError

ROOT = Path(__file__).resolve().parents[2]
PACKAGE_ROOTS = {
    "schemas.exceptions": "SchemaError",
    "topics.exceptions": "TopicsError",
    "producers.exceptions": "ProducerError",
    "streams.exceptions": "StreamsError",
    "consumers.exceptions": "ConsumerError",
    "monitor.exceptions": "MonitorError",
    "simpul.platform.exceptions": "PlatformError",
}
SOURCE_DIRS = ("schemas", "topics", "producers", "streams", "consumers", "monitor", "simpul")


def _source_files() -> list[Path]:
    return [p for d in SOURCE_DIRS for p in (ROOT / d).rglob("*.py") if "__pycache__" not in p.parts]


def _error_classes() -> list[tuple[str, str]]:
    """(module path, class name) of every class that derives, through any chain of bases, from SimpulError."""
    defined: list[tuple[str, str, list[str]]] = []
    for path in _source_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                bases = [b.id if isinstance(b, ast.Name) else b.attr if isinstance(b, ast.Attribute) else ""
                         for b in node.bases]
                defined.append((str(path.relative_to(ROOT)), node.name, bases))
    errors = {"SimpulError"}
    while True:
        more = {name for _, name, bases in defined if set(bases) & errors} - errors
        if not more:
            break
        errors |= more
    return sorted((path, name) for path, name, _ in defined if name in errors)


def test_each_error_name_has_one_home() -> None:
    homes: dict[str, list[str]] = {}
    for module, name in _error_classes():
        homes.setdefault(name, []).append(module)
    assert {name: mods for name, mods in homes.items() if len(mods) > 1} == {}


def test_each_package_error_derives_from_its_package_root() -> None:
    """Catching a package's root catches everything that package raises on purpose."""
    strays = []
    for path, name in _error_classes():
        module = path.removesuffix(".py").replace("/", ".")
        home = max((m for m in PACKAGE_ROOTS if module.startswith(m.removesuffix("exceptions"))), key=len,
                   default=None)
        if home is None:
            continue
        root = getattr(importlib.import_module(home), PACKAGE_ROOTS[home])
        cls = getattr(importlib.import_module(module), name)
        if not issubclass(cls, root) and cls is not SimpulError:
            strays.append(f"{module}.{name} (root {root.__name__})")
    assert strays == []


def test_every_error_class_is_raised_somewhere() -> None:
    """A class nothing raises, returns or subclasses is dead weight that readers must still understand."""
    texts = {path: path.read_text(encoding="utf-8") for path in _source_files()}
    dead = []
    for module, name in _error_classes():
        used = re.compile(rf"(raise|return|set_exception\(|=)\s+{name}\b|\b{name}\(|class \w+\([^)]*\b{name}\b")
        defined_at = re.compile(rf"^class {name}\(", re.M)
        if not any(used.search(defined_at.sub("", text)) for text in texts.values()):
            dead.append(f"{module}.{name}")
    assert dead == []
