"""A stand-in Delinea Secret Server: the same REST API, generated organization data, fault injection.

(Full documentation follows in this docstring once the simulator is complete.)

    from simulator.generator import generate
    from simulator.server import SimulatorServer

    with SimulatorServer(generate("s", 42)) as server:   # admin / admin, free port
        server.base_url                                    # http://127.0.0.1:<port>/SecretServer
"""

from simulator.faults import Faults
from simulator.generator import generate
from simulator.server import SimulatorServer
from simulator.state import Organization

__all__ = ["Faults", "Organization", "SimulatorServer", "generate"]
