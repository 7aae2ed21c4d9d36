"""Connector tests use the shared simulator fixtures (tests/fixtures/simulator.py)."""

from tests.fixtures.simulator import make_simulator, sim_org, simulator

__all__ = ["make_simulator", "sim_org", "simulator"]
