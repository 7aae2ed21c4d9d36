# Temporary: until tests/conftest.py lists "tests.fixtures.simulator" in pytest_plugins.
from tests.fixtures.simulator import make_simulator, sim_org, simulator  # noqa: F401
