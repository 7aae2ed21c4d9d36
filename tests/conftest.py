"""Test session set-up. Prefect must see its settings before it is first imported anywhere: a private
PREFECT_HOME and no analytics, so nothing leaves the machine and no user state is touched."""

import os
import tempfile

_prefect_home = tempfile.mkdtemp(prefix="ss-igi-prefect-")
os.environ["PREFECT_HOME"] = _prefect_home
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ.pop("PREFECT_API_URL", None)
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
# The CLI prints rich tables sized to the terminal (rich reads COLUMNS, else 80 without a terminal). Tests read
# them at one fixed, wide size, so that none depends on the terminal the suite runs in.
os.environ["COLUMNS"] = "240"

pytest_plugins = [
    "tests.fixtures.database",
    "tests.fixtures.prefect",
    "tests.fixtures.simulator",
]
