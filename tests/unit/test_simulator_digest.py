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
    (3000, 1, "sdk", "773d8a417094f8d42b6a94116149d5cb2406f4149998b60e3124cd15b138d6b5",
     "b9697e6a60088ac8239a87390070e2e8e3f36f11687ce125f0f6adbb342526a1"),
    (5000, 7, "http", "9dfc1df173b2904f4779c325429cd9e4949031996c3f1a098ade318930ad0c04",
     "3db9283d3b8b2c170dc68780661294fd456efe05c0e1315c3873a66445abca8e"),
])
def test_a_seed_gives_the_pinned_plan_and_manifest(events: int, seed: int, via: str, records: str,
                                                   manifest: str) -> None:
    p = plan(events, seed, FaultMix(), via=via, nik_hmac_key=KEY)  # type: ignore[arg-type]
    assert hashlib.sha256(p.to_json().encode()).hexdigest() == records
    assert hashlib.sha256(p.manifest.model_dump_json().encode()).hexdigest() == manifest
