"""The simulator's event factories, one module per domain (service requests, complaints, prices, air quality,
social aid, health visits, tourism, disasters), all drawing from one seeded `Draw`; `Traffic` bundles them."""

from producers.simulator.factories.kinds import INERT_KINDS, KINDS, Traffic

__all__ = ["INERT_KINDS", "KINDS", "Traffic"]
