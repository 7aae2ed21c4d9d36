"""The simulator in its own process, so its CPU never sits in the measured process's GIL.

`SimulatorProcess.start(kind, ...)` spawns a child that builds an organization (``kind="scale"``: the generator's
scale and seed; ``kind="provision"``: the small world of the provisioning benchmark), serves it on loopback and
answers a few commands over a pipe: the minimum request plan of the data, the write calls it served, stop.
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing as mp
from collections import Counter
from dataclasses import dataclass
from typing import Any

Plan = list[tuple[str, list[tuple[str, Any]]]]  # (path under /api/v1, query)


def _pages(n: int, cap: int) -> int:
    return max(1, math.ceil(n / cap))


def _paged(path: str, n: int, cap: int, filters: list[tuple[str, Any]]) -> Plan:
    sort = [("sortBy[0].name", "id"), ("sortBy[0].direction", "Asc"), ("sortBy[0].priority", 0)]
    return [(path, [*filters, ("take", cap), *sort, ("skip", i * cap)]) for i in range(_pages(n, cap))]


def minimum_plan(org: Any, cap: int) -> Plan:
    """The fewest API calls that return all the data the reconciliation needs, at page cap ``cap``: every
    record of the four lists in full pages; members per group; permissions only per folder and per secret that
    breaks inheritance (an inheriting one has no list of its own); a per-object list still pages at the cap."""
    yes = "true"
    users, groups, folders, secrets = org.users(), org.groups(), org.folders(), org.secrets()
    members = Counter(g for g, _ in org.group_members())
    folder_perms = Counter(p["folderId"] for p in org.folder_permissions())
    secret_perms = Counter(p["secretId"] for p in org.secret_permissions())
    plan: Plan = []
    plan += _paged("/users", len(users), cap, [("filter.includeInactive", yes)])
    plan += _paged("/groups", len(groups), cap, [("filter.includeInactive", yes)])
    for g in groups:
        plan += _paged(f"/groups/{g['id']}/users", members[g["id"]], cap,
                       [("filter.includeInactiveUsersForGroup", yes)])
    plan += _paged("/folders", len(folders), cap, [])
    for f in folders:
        if not f["inheritPermissions"]:
            plan += _paged("/folder-permissions", folder_perms[f["id"]], cap, [("filter.folderId", f["id"])])
    plan += _paged("/secrets", len(secrets), cap, [("filter.includeRestricted", yes), ("filter.includeInactive", yes)])
    for s in secrets:
        if not s["inheritsPermissions"]:
            plan += _paged("/secret-permissions", secret_perms[s["id"]], cap, [("filter.secretId", s["id"])])
    return plan


def data_counts(org: Any) -> dict[str, int]:
    """How many objects of each reconciled entity the simulator's organization holds."""
    return {
        "users": len(org.users()), "groups": len(org.groups()), "group_members": len(org.group_members()),
        "folders": len(org.folders()), "folder_permissions": len(org.folder_permissions()),
        "secrets": len(org.secrets()), "secret_permissions": len(org.secret_permissions()),
    }


# ---------------------------------------------------------------------------------------------- provisioning
@dataclass(frozen=True)
class ProvisionWorld:
    """Accounts and objects of the provisioning benchmark (ids as the simulator gave them)."""

    users: dict[str, int]  # existing accounts
    own_group: dict[str, int]  # a group per existing account
    folder: int
    secret: int


def build_provision_world(existing: int) -> tuple[Any, ProvisionWorld]:
    """An organization for the provisioning benchmark: ``existing`` accounts, each with a group of its own."""
    from simulator.state import Organization

    org = Organization()
    org.add_everyone_group()
    users: dict[str, int] = {}
    own: dict[str, int] = {}
    for i in range(existing):
        code = f"user{i:04d}"
        users[code] = org.add_user(code, f"User {i}", password="Initial-1")
        own[code] = org.add_group(f"G{i:04d}")
    folder = org.add_folder("Shared", inherit_permissions=False)
    secret = org.add_secret("shared-secret", folder, inherits_permissions=False)
    return org, ProvisionWorld(users, own, folder, secret)


# ---------------------------------------------------------------------------------------------- child
def _serve(conn: Any, kind: str, options: dict[str, Any]) -> None:
    import gc

    from simulator.generator import generate
    from simulator.server import SimulatorServer

    cap = int(options.get("page_cap", 1000))
    info: dict[str, Any] = {}
    if kind == "scale":
        org = generate(options["scale"], int(options.get("seed", 42)))
        info["plan"] = minimum_plan(org, cap)
        info["counts"] = data_counts(org)
    else:
        org, world = build_provision_world(int(options["existing"]))
        info["world"] = world
    gc.collect()
    gc.freeze()  # a big organization is long-lived: keep the collector from walking it during the run
    faults = None
    if options.get("latency_ms") or options.get("faults"):
        from simulator.faults import Faults

        faults = Faults.parse(options.get("faults"))  # e.g. the provisioning bench's slow, throttling server
        faults.latency_ms = float(options.get("latency_ms") or 0)  # a remote server's latency, per API call
    server = SimulatorServer(org, page_cap=cap, faults=faults).start()
    info["base_url"] = server.base_url
    conn.send(info)
    try:
        while True:
            command = conn.recv()
            if command == "writes":
                conn.send([(r.method, r.path, r.status) for r in server.request_log
                           if r.method in ("POST", "PUT", "PATCH", "DELETE") and "/api/v1/" in r.path])
            elif command == "requests":
                conn.send(len(server.request_log))
            elif command == "clear":
                server.clear_log()
                conn.send(True)
            elif command == "stop":
                break
    except EOFError:
        pass
    finally:
        server.stop()


class SimulatorProcess:
    """A simulator serving from a process of its own (so it does not share the measured process's GIL)."""

    def __init__(self, kind: str, **options: Any) -> None:
        ctx = mp.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._process = ctx.Process(target=_serve, args=(child, kind, options), daemon=True, name=f"sim-{kind}")
        self._process.start()
        child.close()
        self.info: dict[str, Any] = self._conn.recv()
        self.base_url: str = self.info["base_url"]

    @property
    def pid(self) -> int | None:
        """The simulator process's id."""
        return self._process.pid

    def ask(self, command: str) -> Any:
        """Send the simulator process a command and return its answer."""
        self._conn.send(command)
        return self._conn.recv()

    def stop(self) -> None:
        """Stop the simulator process (terminated if it does not stop within 10 s)."""
        if self._process.is_alive():
            with contextlib.suppress(BrokenPipeError, OSError):
                self._conn.send("stop")
            self._process.join(10)
            if self._process.is_alive():
                self._process.terminate()
                self._process.join(5)

    def __enter__(self) -> SimulatorProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
