"""The rooms split along their seams stay small, and their modules say what they import at the top.

The test and bench harness, the traffic simulator and the local platform were each one file of 500 to 860 lines
with imports half-way down; a module growing back past the bound, or an import hidden in a function, shows here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MAX_LINES = 350
ROOMS = ("harness", "producers/simulator", "producers/simulator/factories", "simpul/platform")
# modules whose imports are all at the top (the platform's older modules import optional drivers lazily)
TOP_IMPORTS = ("harness", "producers/simulator", "producers/simulator/factories", "simpul/platform/local.py",
               "simpul/platform/local_kafka.py", "simpul/platform/local_postgres.py", "simpul/platform/kraft.py",
               "simpul/platform/apicurio.py", "simpul/platform/processes.py")


def modules(*places: str) -> list[Path]:
    found: list[Path] = []
    for place in places:
        path = ROOT / place
        found += sorted(path.glob("*.py")) if path.is_dir() else [path]
    return found


def nested_imports(path: Path) -> list[int]:
    """Line numbers of imports that are not statements of the module's top (inside a function, class or block),
    or that follow the module's first other statement (a docstring aside)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    top = {id(n) for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))}
    lines = [n.lineno for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom)) and id(n) not in top]
    seen_code = False
    for n in tree.body:
        is_doc = isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant) and isinstance(n.value.value, str)
        if isinstance(n, (ast.Import, ast.ImportFrom)):
            if seen_code:
                lines.append(n.lineno)
        elif not is_doc:
            seen_code = True
    return sorted(lines)


@pytest.mark.parametrize("path", modules(*ROOMS), ids=lambda p: str(p.relative_to(ROOT)))
def test_module_is_small(path: Path) -> None:
    assert len(path.read_text().splitlines()) <= MAX_LINES


@pytest.mark.parametrize("path", modules(*TOP_IMPORTS), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_are_at_the_top(path: Path) -> None:
    assert nested_imports(path) == []


def test_nested_imports_are_found(tmp_path: Path) -> None:
    f = tmp_path / "m.py"
    f.write_text('"""doc"""\nimport os\nX = 1\nimport sys\n\ndef f():\n    import json\n')
    assert nested_imports(f) == [4, 7]
