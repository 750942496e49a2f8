"""The client snippets of docs/contract.md are the files of examples/ as they are (each run against the platform by
tests/integration/test_examples_*.py): every example is printed, whole and unchanged, and none publishes a fixed
event_id."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from contract import snippets
from contract.snippets import EXAMPLE_FILES, EXAMPLES, ExampleMissing

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = ROOT / "docs" / "contract.md"
PUBLISHERS = [f"{snippets.JAVA_PACKAGE}/HandFramedProducer.java", f"{snippets.JAVA_PACKAGE}/ApicurioSerdeProducer.java",
              "python/publish.py", "php/publish.php", "curl/publish.sh"]
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)


def _blocks(text: str) -> dict[str, str]:
    """Each example block of the contract: the path above it -> the code inside it."""
    found = re.findall(r"^`examples/([^`]+)`:\n\n```[a-z]*\n(.*?)\n```$", text, flags=re.M | re.S)
    return dict(found)


@pytest.fixture(scope="module")
def printed() -> dict[str, str]:
    return _blocks(CONTRACT.read_text(encoding="utf-8"))


@pytest.mark.parametrize("relative", sorted(EXAMPLE_FILES))
def test_each_snippet_is_the_example_file_itself(relative: str, printed: dict[str, str]) -> None:
    assert relative in printed, f"docs/contract.md does not print examples/{relative}: run `simpul docs generate`"
    assert printed[relative] == (EXAMPLES / relative).read_text(encoding="utf-8").rstrip("\n"), (
        f"docs/contract.md prints another text than examples/{relative}: run `simpul docs generate`")


def test_every_example_is_in_the_contract(printed: dict[str, str]) -> None:
    files = {str(p.relative_to(EXAMPLES)) for p in EXAMPLES.rglob("*")
             if p.is_file() and "target" not in p.relative_to(EXAMPLES).parts and p.name != ".gitignore"}
    assert files == set(EXAMPLE_FILES), "an example the contract does not print, or a printed one that is gone"
    assert set(printed) == set(EXAMPLE_FILES)


def test_examples_make_fresh_event_ids() -> None:
    for relative in EXAMPLE_FILES:
        text = (EXAMPLES / relative).read_text(encoding="utf-8")
        assert not UUID.search(text), f"examples/{relative} holds a fixed UUID: make a fresh event_id per event"
        if relative in PUBLISHERS:
            assert re.search(r"uuid4|randomUUID", text), f"examples/{relative} makes no event_id of its own"


def test_java_needs_maven_central_alone() -> None:
    pom = (EXAMPLES / "java" / "pom.xml").read_text(encoding="utf-8")
    assert "<repositories>" not in pom and "io.confluent" not in pom
    for relative in EXAMPLE_FILES:
        assert "io.confluent" not in (EXAMPLES / relative).read_text(encoding="utf-8"), relative
    serde = (EXAMPLES / snippets.JAVA_PACKAGE / "ApicurioSerdeProducer.java").read_text(encoding="utf-8")
    for setting in ("SerdeConfig.REGISTRY_URL, registryV3", "QualifiedRecordIdStrategy.class.getName()",
                    "SerdeConfig.AUTO_REGISTER_ARTIFACT, false", "SerdeConfig.DEREFERENCE_SCHEMA, true",
                    "SerdeConfig.CANONICALIZE, true", "/apis/registry/v3"):
        assert setting in serde, setting


def test_a_missing_example_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(snippets, "EXAMPLES", tmp_path)
    with pytest.raises(ExampleMissing, match="php/publish.php"):
        snippets.example_file("php/publish.php")
