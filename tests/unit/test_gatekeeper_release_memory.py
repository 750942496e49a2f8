"""`release_freed_memory` gives back what a thread freed: glibc keeps a freed per-thread arena's pages mapped until
asked (a restarted gatekeeper held 128 MiB so after its start-up reads)."""

from __future__ import annotations

import ctypes
import platform
import threading

import pytest

from streams.gatekeeper.recovery import release_freed_memory


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc's malloc_trim")
def test_memory_a_thread_freed_goes_back_to_the_os() -> None:
    libc = ctypes.CDLL("libc.so.6")
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]

    def churn() -> None:  # as librdkafka's threads do with fetched batches: many small blocks, then all freed
        blocks = []
        for _ in range(60_000):
            block = libc.malloc(2048)
            ctypes.memset(block, 1, 2048)
            blocks.append(block)
        for block in blocks[:-1]:
            libc.free(block)
        held.append(blocks[-1])  # one live block at the top keeps the arena from shrinking by itself

    held: list[int] = []
    before = rss_mib()
    worker = threading.Thread(target=churn)
    worker.start()
    worker.join()
    after_free = rss_mib()
    release_freed_memory()
    released = rss_mib()
    libc.free(held[0])
    assert after_free - before > 60, (before, after_free)  # ~120 MiB touched, freed, but still resident
    assert after_free - released > 60, (after_free, released)
