"""The streams runtime: the gatekeeper runs without Faust, the stream modules import no private name of another
file, canonical records decode through one public function, and the gatekeeper's constructor touches nothing."""

from __future__ import annotations

import ast
import subprocess
import sys
import time
from pathlib import Path

import pytest
from memory_registry import MemoryRegistry

from schemas.codec import AvroCodec
from schemas.dlq_seal import DlqSeal
from schemas.examples import example
from schemas.exceptions import WireFormatError
from schemas.nik import tokenise_event
from streams.config import StreamsConfig
from streams.gatekeeper.recovery import Recovered
from streams.gatekeeper.worker import GatekeeperTopics, GatekeeperWorker
from streams.runtime import decode_canonical
from topics.catalog import topic_names
from topics.connection import KafkaConnection

ROOT = Path(__file__).resolve().parents[2]


def _modules_after_import(*modules: str) -> set[str]:
    """The top-level packages loaded by a fresh interpreter after importing `modules`."""
    code = ("import sys\n" + "".join(f"import {m}\n" for m in modules)
            + "print(' '.join(sorted({name.split('.')[0] for name in sys.modules})))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          check=True)
    return set(done.stdout.split())


def test_the_gatekeeper_worker_and_the_runtime_do_not_import_faust() -> None:
    loaded = _modules_after_import("streams.gatekeeper.worker", "streams.runtime", "simpul.bootstrap",
                                   "simpul.cli.streams")
    assert "streams" in loaded and "confluent_kafka" in loaded
    assert "faust" not in loaded


def test_the_faust_app_factory_does_import_faust() -> None:
    assert "faust" in _modules_after_import("streams.faust_app")


def _imports(path: Path) -> list[tuple[str, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [(node.module or "", alias.name) for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
            for alias in node.names]


STREAMS_FILES = sorted((ROOT / "streams").rglob("*.py"))


@pytest.mark.parametrize("path", STREAMS_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_private_name_is_imported_across_files(path: Path) -> None:
    private = [f"{module}.{name}" for module, name in _imports(path) if name.startswith("_") and name != "__future__"
               and module != "__future__"]
    assert not private, f"{path.relative_to(ROOT)} imports {private}"


def _source_files() -> list[Path]:
    """Every Python file of the repository, without the virtualenv and the state folder."""
    skip = {".venv", "var", ".git", "node_modules"}
    return [p for p in ROOT.rglob("*.py") if not skip & set(p.relative_to(ROOT).parts)]


def test_only_the_factory_and_the_two_faust_stages_import_faust() -> None:
    importers = {str(p.relative_to(ROOT)) for p in _source_files()
                 if any(node.names[0].name.split(".")[0] == "faust" if isinstance(node, ast.Import)
                        else (node.module or "").split(".")[0] == "faust"
                        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8")))
                        if isinstance(node, ast.Import | ast.ImportFrom))}
    assert importers == {"streams/faust_app.py", "streams/aggregates/app.py", "streams/alerts/app.py"}


def test_the_runtime_imports_no_stage() -> None:
    stages = {m for m, _ in _imports(ROOT / "streams" / "runtime.py")} | {
        m for m, _ in _imports(ROOT / "streams" / "faust_app.py")}
    assert not {m for m in stages if m.startswith(("streams.gatekeeper", "streams.aggregates", "streams.alerts"))}


@pytest.fixture
def codec() -> AvroCodec:
    c = AvroCodec(MemoryRegistry())  # type: ignore[arg-type]
    c.register_all()
    return c


def test_a_canonical_record_decodes_and_a_poison_one_comes_back_as_its_error(codec: AvroCodec) -> None:
    event = tokenise_event(example("ComplaintFiled"), b"k")
    decoded = decode_canonical(codec, codec.encode(event))
    assert decoded == event
    assert isinstance(decode_canonical(codec, b"not avro"), WireFormatError)
    raw = example("ComplaintFiled")  # a raw NIK is poison past the gatekeeper
    assert raw.model_dump() != event.model_dump()
    assert isinstance(decode_canonical(codec, codec.encode(raw)), Exception)


def test_the_gatekeeper_constructor_does_no_io(codec: AvroCodec, tmp_path: Path) -> None:
    class Untouchable:
        """Any use of a part during construction fails the test."""

        def __getattr__(self, name: str) -> object:
            raise AssertionError(f"the constructor used .{name}")

    config = StreamsConfig()

    class Prefix:
        topic_prefix = "p"

    topics = GatekeeperTopics.of(topic_names("p"), Prefix())  # type: ignore[arg-type]
    started = time.monotonic()
    worker = GatekeeperWorker(
        config, topics, connection=KafkaConnection(bootstrap="127.0.0.1:1"), codec=codec, hmac_key=b"k",
        seal=DlqSeal("test-dlq-key-0123456789abcdefghijklmnopqrstu"), table=Untouchable(),  # type: ignore[arg-type]
        recovered=Recovered(), producer=Untouchable(), consumer=Untouchable())  # type: ignore[arg-type]
    assert time.monotonic() - started < 0.5
    assert worker.group == "p-gatekeeper" and worker.changelog == "p-gatekeeper-dedup-changelog"
    assert topics.internal() == {"p-gatekeeper-dedup-changelog": (topic_names("p").role("ingress")[0].partitions,
                                                                   True)}
    assert set(topics.outputs) == {*topics.routing.canonical.values(), "p.dlq"}
    assert len(worker.ingress) == 35


def test_live_batches_in_flight_count_as_their_share_of_a_full_one(codec: AvroCodec) -> None:
    """Four live batches of a few records each must not hold the next live records for an acknowledgement, as four
    full batches do; the number of batches is still bounded, and a limit of 0 waits for every batch."""
    from streams.gatekeeper.worker import MAX_IN_FLIGHT, MAX_IN_FLIGHT_BATCHES, _Batch

    class Prefix:
        topic_prefix = "p"

    config = StreamsConfig()
    topics = GatekeeperTopics.of(topic_names("p"), Prefix())  # type: ignore[arg-type]
    worker = GatekeeperWorker(
        config, topics, connection=KafkaConnection(bootstrap="127.0.0.1:1"), codec=codec, hmac_key=b"k",
        seal=DlqSeal("test-dlq-key-0123456789abcdefghijklmnopqrstu"), table=None,  # type: ignore[arg-type]
        recovered=Recovered(), producer=None, consumer=None)  # type: ignore[arg-type]
    limit = MAX_IN_FLIGHT * config.gatekeeper_batch
    assert not worker._over(limit) and not worker._over(0)
    worker._in_flight.extend(_Batch(records=5) for _ in range(MAX_IN_FLIGHT + 1))
    assert not worker._over(limit) and worker._over(0)
    worker._in_flight.extend(_Batch(records=1) for _ in range(MAX_IN_FLIGHT_BATCHES))
    assert worker._over(limit)
    worker._in_flight.clear()
    worker._in_flight.extend(_Batch(records=config.gatekeeper_batch) for _ in range(MAX_IN_FLIGHT + 1))
    assert worker._over(limit)
