"""Private platforms take ports outside the kernel's ephemeral range: an outgoing connection (a broker connecting to
its neighbour) can take an ephemeral port between our check and the service's bind."""

from __future__ import annotations

import socket

import pytest

from simpul.platform import probes
from simpul.platform.exceptions import PortTaken


def test_private_ports_are_free_and_outside_the_ephemeral_range() -> None:
    low, high = probes._ephemeral_range()
    for _ in range(50):
        block = probes.free_port_block(6)
        assert block == list(range(block[0], block[0] + 6))
        spread = probes.free_port_block(8, consecutive=False)
        assert len(set(spread)) == 8
        for port in block + spread:
            assert port >= probes.PRIVATE_PORTS_FROM and not low <= port <= high, (port, low, high)


def test_a_held_port_is_never_offered() -> None:
    held = []
    for port in range(probes.PRIVATE_PORTS_FROM, probes.PRIVATE_PORTS_FROM + 40):
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
            s.listen()
        except OSError:
            s.close()
            continue
        held.append(s)
    try:
        taken = {s.getsockname()[1] for s in held}
        for _ in range(200):
            assert not taken & set(probes.free_port_block(3))
    finally:
        for s in held:
            s.close()


def test_no_room_outside_the_ephemeral_range_is_said(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(probes, "_ephemeral_range", lambda: (1024, 65535))
    with pytest.raises(PortTaken, match="ip_local_port_range"):
        probes.free_port_block(2)
