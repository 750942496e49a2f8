"""The benchmarks and the shared harness stand on their own: nothing under bench/ or harness/ imports the test
suite (the package `tests`, or a module that lives in tests/ such as a test file or a test helper)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEST_MODULES = {p.stem for p in (ROOT / "tests").rglob("*.py")} - {"__init__"}


def imported(path: Path) -> set[str]:
    """The top-level names of every module `path` imports, at any depth of the file."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_test_module_names_are_known() -> None:
    assert {"conftest", "private_platform"} <= TEST_MODULES


def test_imported_sees_nested_and_dotted_imports(tmp_path: Path) -> None:
    f = tmp_path / "m.py"
    f.write_text("import os\n\ndef g():\n    from tests.integration.x import y\n    import private_platform as p\n")
    assert imported(f) == {"os", "tests", "private_platform"}


def test_bench_and_harness_import_nothing_from_tests() -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(bad)
        for folder in ("bench", "harness") for path in sorted((ROOT / folder).rglob("*.py"))
        if (bad := {n for n in imported(path) if n == "tests" or n in TEST_MODULES})
    }
    assert not offenders, f"modules importing the test suite: {offenders}"


def test_the_suite_imports_the_harness_package() -> None:
    users = [p for p in (ROOT / "tests" / "integration").glob("test_*.py") if "harness" in imported(p)]
    assert len(users) >= 5, users
    assert not (ROOT / "tests" / "integration" / "pipeline_harness.py").exists()
