"""What describes the server rather than its data: version, health check, domains."""

from __future__ import annotations

from datetime import datetime

from simulator import render
from simulator.records import VERSION
from simulator.routes.base import V1, Request, Resource, Result, Route


class System(Resource):
    """GET /version, /healthcheck and /domains."""

    def routes(self) -> list[Route]:
        """The version, the health check (see server.py for its casing) and the domain list."""
        return [
            ("GET", f"{V1}/version", self.version, None),
            ("GET", f"{V1}/healthcheck", healthcheck, None),
            ("GET", f"{V1}/domains", self.search_domains, "domains"),
        ]

    def version(self, req: Request) -> Result:
        """GET /version."""
        return 200, {"model": {"version": VERSION}, "success": True, "severity": "None"}

    def search_domains(self, req: Request) -> Result:
        """GET /domains: the Active Directory domains."""
        return self.pager.page(req, ("domains",), lambda f: list(self.org.domains.values()), render.domain_record)


def healthcheck(req: Request | None = None) -> Result:
    """The collection's camelCase fields; the server answers them PascalCase by default."""
    now = datetime.now()
    utc = datetime.utcnow()
    return 200, {"databaseMismatch": False, "healthy": True, "now": now.isoformat(timespec="milliseconds"),
                 "readOnlyMode": False, "utcNow": utc.isoformat(timespec="milliseconds") + "Z"}
