"""The layer rule is enforced by a tool: `lint-imports` keeps the contracts of .importlinter, and breaks on an
upward import added to a copy of the house. Nothing of the product or of bench imports the tests."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("schemas", "topics", "producers", "streams", "consumers", "monitor", "contract", "transparency", "simpul", "harness", "bench")
LINT = str(Path(sys.executable).with_name("lint-imports"))


def _lint(cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    return subprocess.run([LINT, "--no-cache"], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_the_contracts_hold() -> None:
    done = _lint(ROOT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def test_an_upward_import_breaks_the_layers(tmp_path: Path) -> None:
    for name in PACKAGES:
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / ".importlinter", tmp_path / ".importlinter")
    with (tmp_path / "topics" / "__init__.py").open("a") as f:
        f.write("\nimport simpul.settings  # an upward import: topics may not know the composition root\n")
    done = _lint(tmp_path)
    assert done.returncode == 1, done.stdout[-3000:]
    assert "BROKEN" in done.stdout and "topics -> simpul.settings" in done.stdout.replace("\n", " ")


def test_nothing_outside_the_tests_imports_them() -> None:
    offenders = []
    for name in PACKAGES:
        for path in (ROOT / name).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                mods = ([a.name for a in node.names] if isinstance(node, ast.Import)
                        else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
                offenders += [f"{path.relative_to(ROOT)}: {m}" for m in mods
                              if m == "tests" or m.startswith(("tests.", "pipeline_harness", "private_platform",
                                                               "dashboard_login", "memory_registry"))]
    assert not offenders, offenders
