"""The client snippets of docs/contract.md: the files of examples/ as they are, so that the contract prints only code
the test suite runs against the platform (tests/integration/test_examples_*.py) and a unit test keeps the two the
same (tests/unit/test_contract_examples.py).
"""

from __future__ import annotations

from pathlib import Path

from schemas.exceptions import SimpulError

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
"""The repository's examples folder: `simpul docs generate` runs from a checkout, beside it."""

JAVA_PACKAGE = "java/src/main/java/id/go/jatengprov/simpul/examples"

EXAMPLE_FILES: dict[str, str] = {
    "java/pom.xml": "xml",
    f"{JAVA_PACKAGE}/HandFramedProducer.java": "java",
    f"{JAVA_PACKAGE}/ApicurioSerdeProducer.java": "java",
    f"{JAVA_PACKAGE}/ProvinceConsumer.java": "java",
    "python/publish.py": "python",
    "python/province_service.py": "python",
    "php/publish.php": "php",
    "curl/publish.sh": "bash",
}
"""Every example the contract prints, by its path under examples/, with the language of its code block."""


class ExampleMissing(SimpulError):
    """An example file the contract prints is not there (generate the documents from a checkout)."""


def example_file(relative: str) -> str:
    """The text of examples/<relative>, as the contract prints it (without the final newline)."""
    path = EXAMPLES / relative
    try:
        return path.read_text(encoding="utf-8").rstrip("\n")
    except OSError as exc:
        raise ExampleMissing(f"{path} cannot be read ({exc.strerror}); the contract prints it: run `simpul docs "
                             "generate` from a checkout of the repository") from exc


def block(relative: str) -> list[str]:
    """examples/<relative> as a fenced code block of the contract, headed by its path."""
    return [f"`examples/{relative}`:", "", f"```{EXAMPLE_FILES[relative]}", example_file(relative), "```", ""]
