"""The traffic simulator: seeded, reproducible regency traffic with injected faults, and the manifest that says
exactly what the pipeline must make of it (pipeline spec, "Simulator guarantees").

`traffic.plan` is pure (no clock, no broker); `send` delivers a plan through the SDK or the HTTP gateway.
"""

from producers.simulator.faults import FaultMix
from producers.simulator.manifest import Manifest
from producers.simulator.model import Plan, PlannedRecord
from producers.simulator.traffic import plan

__all__ = ["FaultMix", "Manifest", "Plan", "PlannedRecord", "plan"]
