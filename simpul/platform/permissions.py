"""Owner-only files: everything the platform writes under its state folder is 0700 (folders) or 0600 (files).

Kafka segments, the registry's H2 file, PostgreSQL's cluster, the stores, logs and secrets all hold citizens' data
or keys, so nobody but the owner may read them. New files get there through the umask of the processes we start
(`PRIVATE_UMASK`); files an earlier version left readable are tightened by `harden` whenever the platform starts.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PRIVATE_UMASK = 0o077
"""The umask of every process the platform starts: new files 0600, new folders 0700."""


@contextmanager
def private_umask() -> Iterator[None]:
    """Run the block with `PRIVATE_UMASK`, so what this process creates meanwhile is owner-only."""
    previous = os.umask(PRIVATE_UMASK)
    try:
        yield
    finally:
        os.umask(previous)


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path` as a 0600 file, atomically (a reader sees the old or the new content)."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def open_private_log(path: Path) -> int:
    """A file descriptor appending to `path`, created 0600 (and made 0600 if it already existed)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.fchmod(fd, 0o600)
    return fd


def exposed(root: Path) -> list[Path]:
    """Folders and files under `root` (and `root` itself) that group or others may read, write or enter.

    Symbolic links are neither followed nor reported: on Linux their own mode means nothing.
    """
    found = []
    for path in _walk(root):
        if path.stat(follow_symlinks=False).st_mode & 0o077:
            found.append(path)
    return found


def harden(root: Path, *, keep_root_traversable: bool = False) -> int:
    """Take group and other permissions away from `root` and everything under it; returns how many changed.

    `keep_root_traversable` leaves `root` itself alone: a PostgreSQL cluster of an earlier version may still run
    inside it as another OS user, which must keep reaching its files until it is restarted.
    """
    changed = 0
    for path in _walk(root):
        if keep_root_traversable and path == root:
            continue
        mode = stat.S_IMODE(path.stat(follow_symlinks=False).st_mode)
        if mode & 0o077:
            try:
                os.chmod(path, mode & 0o700)
            except FileNotFoundError:  # a file a running service just removed (a rolled log, a temp file)
                continue
            changed += 1
    return changed


def _walk(root: Path) -> Iterator[Path]:
    if not root.exists() or root.is_symlink():
        return
    yield root
    for folder, dirs, files in os.walk(root, onerror=lambda _err: None):
        base = Path(folder)
        for name in [*dirs, *files]:
            path = base / name
            try:
                if not stat.S_ISLNK(path.stat(follow_symlinks=False).st_mode):
                    yield path
            except FileNotFoundError:
                continue
