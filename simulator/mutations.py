"""The `mutate_between_pages` fault: change the searched entity between two page requests.

One record that lies before the requested `skip` (in id order, i.e. on a page the client has
already read) is deleted, which shifts every later record one place left so that offset paging
skips one; and one new record is inserted at the end. Both choices come from the fault RNG.
"""

from __future__ import annotations

import random

from simulator.state import Organization


def mutate_between_pages(org: Organization, entity: str, scope_id: int | None, skip: int,
                         rng: random.Random) -> None:
    """Delete one record that lies before `skip` and insert a new one, for the searched entity."""
    with org.lock:
        serial = org.version
        if entity == "users":
            candidates = [u for u in sorted(org.user_map)[:skip] if org.user_map[u].enabled]
            if candidates:
                org.remove_user(rng.choice(candidates))
            org.add_user(f"sim.inserted{serial}", display_name=f"Inserted user {serial}")
        elif entity == "groups":
            listed = [g for g in sorted(org.group_map) if org.group_map[g].personal_user_id is None
                      and org.group_map[g].enabled][:skip]
            candidates = [g for g in listed if not org.group_map[g].system_group]
            if candidates:
                org.remove_group(rng.choice(candidates))
            org.add_group(f"Inserted group {serial}")
        elif entity == "folders":
            candidates = [f for f in sorted(org.folder_map)[:skip]
                          if not org.folder_children[f] and not org.secrets_by_folder[f]]
            if candidates:
                org.remove_folder(rng.choice(candidates))
            org.add_folder(f"Inserted folder {serial}")
        elif entity == "secrets":
            candidates = [s for s in sorted(org.secret_map)[:skip] if org.secret_map[s].active]
            folder_ids = sorted(org.folder_map)
            if candidates:
                org.remove_secret(rng.choice(candidates))
            org.add_secret(f"Inserted secret {serial}", rng.choice(folder_ids) if folder_ids else None)
        elif entity == "folder_permissions":
            candidates = sorted(org.folder_perms)[:skip]
            if candidates:
                org.revoke_folder_permission(rng.choice(candidates))
            folder_ids = sorted(org.folder_map)
            if folder_ids and org.everyone_group_id is not None:
                org.grant_folder_permission(rng.choice(folder_ids), group_id=org.add_group(f"Inserted {serial}"))
        elif entity == "secret_permissions":
            candidates = sorted(org.secret_perms)[:skip]
            if candidates:
                org.revoke_secret_permission(rng.choice(candidates))
            secret_ids = sorted(org.secret_map)
            if secret_ids:
                org.grant_secret_permission(rng.choice(secret_ids), group_id=org.add_group(f"Inserted {serial}"))
        elif entity == "group_members" and scope_id is not None:
            members = [u for u in sorted(org.members.get(scope_id, ()))[:skip] if org.user_map[u].enabled]
            if members and scope_id != org.everyone_group_id:
                org.remove_member(scope_id, rng.choice(members))
            if scope_id != org.everyone_group_id:
                outsiders = [u for u in org.user_map if u not in org.members[scope_id]]
                if outsiders:
                    org.add_member(scope_id, max(outsiders))
            else:
                org.add_user(f"sim.inserted{serial}")
