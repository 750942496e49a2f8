"""A write the broker acknowledges without an offset (a retried write it had already stored, after a broker
failover) is still a delivery: the SDK's future resolves, the gateway records offset -1."""

from __future__ import annotations

from producers.delivery import UNKNOWN_OFFSET, Delivery, known_offset


def test_delivery_without_offset_is_valid_and_maps_to_unknown() -> None:
    d = Delivery(event_id="e", topic="t", partition=1, offset=None)
    assert known_offset(d) == UNKNOWN_OFFSET == -1
    assert known_offset(Delivery(event_id="e", topic="t", partition=1, offset=41)) == 41
