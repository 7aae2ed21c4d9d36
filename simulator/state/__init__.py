"""The simulated organization: an in-memory, thread-safe store with an in-process change API.

Everything the HTTP server answers comes from an `Organization`; tests change it directly
(`add_user`, `set_user_enabled`, `grant_folder_permission`, ...) or through the write endpoints,
and read it back through the accessors of truth.py (`users()`, `folder_permissions()`, ...).

One class, written by concern:
- store.py: the records by id, their indexes, the lock and the version (every change bumps it);
- people.py: domains, users, groups, membership;
- objects.py: folders and secrets;
- permissions.py: folder and secret permissions and their inheritance;
- truth.py: what tests compare against, in API shapes.
"""

from __future__ import annotations

from simulator.state.objects import Objects
from simulator.state.people import People
from simulator.state.permissions import Permissions
from simulator.state.store import SIM_NOW, NotFound
from simulator.state.truth import Truth


class Organization(People, Objects, Permissions, Truth):
    """Users, groups, memberships, folders, secrets and their permissions, in API terms."""


__all__ = ["SIM_NOW", "NotFound", "Organization"]
