"""The generator: deterministic per seed, exact sizes per scale, realistic shapes."""

from __future__ import annotations

import pytest

from simulator.generator import SCALES, generate
from simulator.state import Organization


def snapshot(org: Organization) -> tuple[object, ...]:
    return (org.users(), org.groups(), org.group_members(), org.folders(), org.folder_permissions(),
            org.secrets(), org.secret_permissions(), org.domain_records(), org.personal_groups())


def test_same_seed_same_data() -> None:
    assert snapshot(generate("s", 42)) == snapshot(generate("s", 42))
    assert snapshot(generate("s", 42)) != snapshot(generate("s", 43))


@pytest.mark.parametrize("scale", ["s", "m"])
def test_sizes_are_exact(scale: str) -> None:
    counts = generate(scale, 7).counts()
    spec = SCALES[scale]
    assert (counts["users"], counts["groups"], counts["folders"], counts["secrets"]) == \
        (spec.users, spec.groups, spec.folders, spec.secrets)
    assert counts["personal_groups"] == spec.users


def test_realistic_shapes(sim_org: Organization) -> None:
    users = sim_org.users()
    assert {u["domainName"] for u in users} == {None, "corp.example.com", "emea.example.com", "lab.example.net"}
    assert any(not u["enabled"] for u in users) and any(u["isApplicationAccount"] for u in users)
    assert any(u["isLockedOut"] for u in users) and any(u["lastLogin"] is None for u in users)
    assert any(not u["displayName"].isascii() for u in users)
    everyone = next(g for g in sim_org.groups() if g["name"] == "Everyone")
    assert everyone["memberCount"] == len(users)
    assert {uid for gid, uid in sim_org.group_members() if gid == everyone["id"]} == {u["id"] for u in users}
    folders = sim_org.folders()
    assert any(f["folderPath"].count("\\") >= 3 for f in folders)
    assert any(f["folderPath"].startswith("\\Personal Folders\\") for f in folders)
    assert any(not f["inheritPermissions"] and f["parentFolderId"] != -1 for f in folders)
    secrets = sim_org.secrets()
    breaking = sum(1 for s in secrets if not s["inheritsPermissions"]) / len(secrets)
    assert 0.05 < breaking < 0.15
    assert any(not s["active"] for s in secrets)
    with_own = {p["secretId"] for p in sim_org.secret_permissions()}
    assert with_own == {s["id"] for s in secrets if not s["inheritsPermissions"]}
    personal_group_ids = set(sim_org.personal_groups().values())
    assert not personal_group_ids & {g["id"] for g in sim_org.groups()}
    assert any(p["userId"] is not None and p["groupId"] in personal_group_ids for p in sim_org.secret_permissions())


def test_unknown_scale() -> None:
    with pytest.raises(ValueError):
        generate("xl")
