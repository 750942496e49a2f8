"""The plan a seed gives is pinned: the digest of its records and of its manifest, for both ways of sending.

A change to any factory, to the order in which the plan draws from its one RNG, or to the plan model shows here.
When a change of the generated traffic is meant, write the new digests here in the same commit.
"""

from __future__ import annotations

import hashlib

import pytest

from producers.simulator import FaultMix, plan

KEY = "k" * 43  # a NIK key of the installations' shape


@pytest.mark.parametrize(("events", "seed", "via", "records", "manifest"), [
    (3000, 1, "sdk", "3da4d1527efaf6ca46b23329f7f6324e720064354aee428670968d85aff233c2",
     "b9eaa2516a7d15e9083fe5d74ff77a999a34df19b5b73b7a93f57edf29389e57"),
    (5000, 7, "http", "ae5d63923578da931491acefac1e548837f9f0875cdeffbec10a963cabd64087",
     "db99b63029d41d8f1140356fa9ae7e5e8401d96523dd05a7e6b8b7e749081129"),
])
def test_a_seed_gives_the_pinned_plan_and_manifest(events: int, seed: int, via: str, records: str,
                                                   manifest: str) -> None:
    p = plan(events, seed, FaultMix(), via=via, nik_hmac_key=KEY)  # type: ignore[arg-type]
    assert hashlib.sha256(p.to_json().encode()).hexdigest() == records
    assert hashlib.sha256(p.manifest.model_dump_json().encode()).hexdigest() == manifest
