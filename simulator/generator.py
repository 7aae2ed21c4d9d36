"""Deterministic organization generator: same scale and seed, same data, id for id.

Scales (exact; derived counts such as memberships and permissions depend on the seed, see
`simulator/__init__.py` for the figures of seed 42):

=====  =======  ===============================  =======  ========
scale  users    groups (incl. "Everyone")        folders  secrets
=====  =======  ===============================  =======  ========
s          100                               12       40       300
m        5,000                              500    2,000    20,000
l       50,000                            5,000   20,000   200,000
=====  =======  ===============================  =======  ========

Shapes: three AD domains plus local accounts; disabled, locked-out and never-logged-in users;
application accounts; user names that repeat across domains; unicode names; a nested folder
tree with paths, a "Personal Folders" tree; folders and about 10% of secrets that break
permission inheritance; inactive secrets; dates as Secret Server writes them.
"""

from __future__ import annotations

import gc
import random
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import accumulate

from simulator.records import FOLDER_ROLES, LOCAL_DOMAIN_ID, NEVER, SECRET_ROLES, TEMPLATES
from simulator.state import Organization


@dataclass(frozen=True)
class Scale:
    """How many of each object a generated organization has."""

    users: int
    groups: int  # listed groups, "Everyone" included
    folders: int  # "Personal Folders" and the personal folders included
    secrets: int


SCALES: dict[str, Scale] = {
    "s": Scale(users=100, groups=12, folders=40, secrets=300),
    "m": Scale(users=5_000, groups=500, folders=2_000, secrets=20_000),
    "l": Scale(users=50_000, groups=5_000, folders=20_000, secrets=200_000),
}

BASE_TIME = datetime(2024, 6, 1, 8, 0, 0)

DOMAINS = [(1, "corp.example.com", "CORP"), (2, "emea.example.com", "EMEA"), (3, "lab.example.net", "LAB")]
# (display first, display last, ascii first, ascii last)
NAMES_FIRST = ["James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "David",
               "Elizabeth", "William", "Susan", "Richard", "Jessica", "Thomas", "Sarah", "Daniel",
               "Karen", "Matthew", "Nancy", "Anthony", "Lisa", "Mark", "Emma", "Paul", "Olivia",
               "Steven", "Sophie", "Kevin", "Laura", "Brian", "Anna", "George", "Julia", "Ahmed",
               "Fatima", "Wei", "Priya", "Lukas", "Chloé", "José", "Zoë", "Björn", "Søren", "Łukasz",
               "Renée", "Ángel", "Noémie", "Jürgen", "Małgorzata"]
NAMES_LAST = ["Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
              "Rodriguez", "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Taylor",
              "Moore", "Jackson", "Martin", "Lee", "Thompson", "White", "Harris", "Clark", "Lewis",
              "Walker", "Hall", "Young", "King", "Wright", "Scott", "Green", "Baker", "Adams", "Nelson",
              "Müller", "Núñez", "Ødegård", "Ångström", "Dvořák", "Kowalczyk", "O'Brien", "Nakamura",
              "Schröder", "Çelik", "Şahin", "Lefèvre", "Gómez", "Fernández", "Kühn"]
CJK_NAMES = [("李", "雷", "lei", "li"), ("王", "芳", "fang", "wang"), ("佐藤", "花子", "hanako", "sato"),
             ("김", "민준", "minjun", "kim")]
APP_PREFIXES = ["svc", "app", "api", "batch", "ci", "sync", "backup", "monitor", "etl", "deploy"]
APP_SYSTEMS = ["ansible", "jenkins", "splunk", "veeam", "sap", "oracle", "k8s", "terraform", "igi",
               "nagios", "gitlab", "tableau", "sccm", "servicenow"]

DEPARTMENTS = ["IT", "Finance", "HR", "Engineering", "Operations", "Sales", "Security", "Legal",
               "Marketing", "Research", "Support", "Facilities", "Données clients", "Région Sur"]
LEVEL1 = ["Unix", "Büro", "Windows", "Databases", "Network", "Cloud", "Applications", "Service Accounts",
          "Vendors", "東京", "Mainframe", "Mobile", "Identity", "Backup"]
LEVEL2 = ["Production", "Staging", "Development", "Disaster Recovery", "Test", "QA", "Sandbox", "Legacy",
          "Shared", "Archive", "Lab", "Partners", "Tier 0", "Tier 1"]
LEVEL3 = ["srv", "db", "web", "app", "fw", "sw", "vm"]
GROUP_TOPICS = ["Admins", "Operators", "Auditors", "Developers", "Helpdesk", "DBA", "Network Team",
                "Unix Team", "Windows Team", "Cloud Team", "Security Team", "Contractors", "Managers",
                "On-Call", "Release", "Équipe Réseau", "Support Niveau 2"]
HEARTBEAT = ["Success", "Success", "Success", "Pending", "Failed", "UnableToConnect", "UnknownError",
             "IncompatibleHost", "AccountLockedOut", "ArgumentError"]


def _ascii(text: str) -> str:
    stripped = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in stripped.lower() if ch.isalnum())


class _Gen:
    def __init__(self, scale: Scale, seed: int) -> None:
        self.scale = scale
        self.rng = random.Random(seed)
        self.org = Organization()

    def date(self, max_days: int = 5 * 365, min_days: int = 0) -> str:
        """A past timestamp in Secret Server's format, between min_days and max_days ago."""
        seconds = self.rng.randrange(min_days * 86_400, max_days * 86_400)
        millis = self.rng.randrange(1000)
        moment = BASE_TIME - timedelta(seconds=seconds, milliseconds=millis)
        return moment.isoformat(timespec="milliseconds")

    def guid(self) -> str:
        """A random (seeded) GUID, as Active Directory objects carry."""
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    # ---------------------------------------------------------------- groups
    def groups(self) -> list[int]:
        """Create "Everyone" and the listed groups; their ids, "Everyone" left out."""
        org, rng = self.org, self.rng
        org.add_everyone_group(created="2016-01-01T00:00:00")
        ids: list[int] = []
        seen: set[str] = set()
        for index in range(self.scale.groups - 1):
            dept = DEPARTMENTS[index % len(DEPARTMENTS)]
            topic = GROUP_TOPICS[(index * 5 + index // len(DEPARTMENTS)) % len(GROUP_TOPICS)]
            name, suffix = f"{dept} {topic}", 1
            while name in seen:
                suffix += 1
                name = f"{dept} {topic} {suffix}"
            seen.add(name)
            roll = rng.random()
            domain = DOMAINS[0][0] if roll < 0.55 else DOMAINS[1][0] if roll < 0.75 else None
            enabled = index == 0 or rng.random() > 0.03  # index 0, "IT Admins", owns every root folder
            ids.append(org.add_group(name, domain, enabled=enabled, created=self.date(),
                                     ad_guid=self.guid() if domain else None))
        return ids

    # ---------------------------------------------------------------- users
    def users(self) -> list[int]:
        """Create the users (application accounts first); their ids."""
        org, rng = self.org, self.rng
        ids: list[int] = []
        taken: set[tuple[int, str]] = set()
        n = self.scale.users
        app_accounts = max(3, n // 20)
        people = range(app_accounts, n)
        disabled = set(rng.sample(people, max(2, n * 8 // 100)))
        locked = set(rng.sample([i for i in people if i not in disabled], max(2, n * 2 // 100)))
        never = set(rng.sample(range(n), max(2, n // 10)))
        for index in range(n):
            roll = rng.random()
            domain_id = (LOCAL_DOMAIN_ID if index < app_accounts or roll < 0.12 else
                         DOMAINS[0][0] if roll < 0.67 else DOMAINS[1][0] if roll < 0.9 else DOMAINS[2][0])
            is_app = index < app_accounts
            if is_app:
                base = f"{APP_PREFIXES[index % len(APP_PREFIXES)]}-{APP_SYSTEMS[index % len(APP_SYSTEMS)]}"
                display = f"Service account {base}"
            else:
                if rng.random() < 0.03:
                    first, last, afirst, alast = CJK_NAMES[rng.randrange(len(CJK_NAMES))]
                    display = f"{first}{last}"
                else:
                    first, last = rng.choice(NAMES_FIRST), rng.choice(NAMES_LAST)
                    afirst, alast = _ascii(first), _ascii(last)
                    display = f"{first} {last}"
                base = f"{afirst[0]}{alast}" if rng.random() < 0.6 else f"{afirst}.{alast}"
            user_name, suffix = base, 1
            while (domain_id, user_name.lower()) in taken:
                suffix += 1
                user_name = f"{base}{suffix}"
            taken.add((domain_id, user_name.lower()))
            enabled = index not in disabled and index != 1  # one application account is disabled too
            created = self.date(6 * 365, 30)
            domain_name = org.domain_name(domain_id) or "example.com"
            ids.append(org.add_user(
                user_name, display_name=display, domain_id=domain_id, enabled=enabled,
                is_application_account=is_app,
                email_address=None if is_app else f"{user_name}@{domain_name}",
                is_locked_out=index in locked,
                login_failures=5 if index in locked else rng.choice([0, 0, 0, 1, 2]),
                last_login=None if index in never else self.date(400), created=created,
                ad_guid=self.guid() if domain_id != LOCAL_DOMAIN_ID else None,
            ))
        return ids

    def memberships(self, group_ids: list[int], user_ids: list[int]) -> None:
        # Zipf-like group sizes: a few big groups, many small ones.
        """Put users in groups, with Zipf-like group sizes."""
        weights = list(accumulate(1.0 / (rank + 1) ** 0.8 for rank in range(len(group_ids))))
        shuffled = group_ids[:]
        self.rng.shuffle(shuffled)
        for user_id in user_ids:
            for group_id in set(self.rng.choices(shuffled, cum_weights=weights, k=self.rng.randrange(0, 6))):
                self.org.add_member(group_id, user_id)

    # ---------------------------------------------------------------- folders
    def folders(self, group_ids: list[int], user_ids: list[int]) -> tuple[list[int], list[int]]:
        """Create the team folder tree and the personal folders; (team ids, personal ids)."""
        org, rng = self.org, self.rng
        personal_count = min(len(user_ids) // 10, self.scale.folders // 4)
        team_count = self.scale.folders - personal_count - 1
        team: list[int] = []
        # A branching factor that gives every scale a tree four levels deep.
        branching = max(2, round(team_count ** 0.25))
        roots = DEPARTMENTS[: min(len(DEPARTMENTS), branching)]
        queue: list[tuple[int, int]] = []  # (folder id, depth), breadth first
        for name in roots:
            if len(team) == team_count:
                break
            folder_id = org.add_folder(name, None, inherit_permissions=False)
            team.append(folder_id)
            queue.append((folder_id, 0))
            self.grant_folder(folder_id, group_ids, user_ids, root=True)
        head = 0
        while len(team) < team_count:
            parent, depth = queue[head]
            head += 1
            if depth == 0:
                names = LEVEL1
            elif depth == 1:
                names = LEVEL2
            else:
                prefix = LEVEL3[(parent + depth) % len(LEVEL3)]
                names = [f"{prefix}-{parent:05d}-{i:02d}" for i in range(branching)]
            for name in names[:branching]:
                if len(team) == team_count:
                    break
                breaks = rng.random() < 0.12
                folder_id = org.add_folder(name, parent, inherit_permissions=not breaks)
                if breaks:
                    self.grant_folder(folder_id, group_ids, user_ids)
                team.append(folder_id)
                queue.append((folder_id, depth + 1))
        personal_root = org.add_folder("Personal Folders", None, inherit_permissions=False)
        personal: list[int] = []
        owners = sorted(rng.sample([u for u in user_ids if not org.user_map[u].is_application_account],
                                   personal_count))
        for user_id in owners:
            folder_id = org.add_folder(org.user_map[user_id].user_name, personal_root,
                                       inherit_permissions=False, personal_user_id=user_id)
            org.grant_folder_permission(folder_id, user_id=user_id, folder_access_role="Owner",
                                        secret_access_role="Owner")
            personal.append(folder_id)
        return team, personal

    def grant_folder(self, folder_id: int, group_ids: list[int], user_ids: list[int],
                     root: bool = False) -> None:
        """Give a folder that breaks inheritance a few group and user permissions (a root: its owner too)."""
        org, rng = self.org, self.rng
        if root:
            org.grant_folder_permission(folder_id, group_id=group_ids[0], folder_access_role="Owner",
                                        secret_access_role="Owner")
        for _ in range(rng.randrange(1, 4)):
            folder_role = rng.choice(list(FOLDER_ROLES))
            secret_role = rng.choice(["None", *SECRET_ROLES])
            if rng.random() < 0.7:
                org.grant_folder_permission(folder_id, group_id=rng.choice(group_ids),
                                            folder_access_role=folder_role, secret_access_role=secret_role)
            else:
                org.grant_folder_permission(folder_id, user_id=rng.choice(user_ids),
                                            folder_access_role=folder_role, secret_access_role=secret_role)

    # ---------------------------------------------------------------- secrets
    def secrets(self, team: list[int], personal: list[int], group_ids: list[int],
                user_ids: list[int]) -> None:
        """Create the secrets, about 10% of them with their own permissions."""
        org, rng = self.org, self.rng
        template_ids = list(TEMPLATES)
        template_weights = [4, 3, 3, 3, 2, 2]
        for index in range(self.scale.secrets):
            in_personal = personal and rng.random() < 0.05
            folder_id = rng.choice(personal) if in_personal else rng.choice(team)
            template_id = rng.choices(template_ids, weights=template_weights)[0]
            host = f"{LEVEL3[index % len(LEVEL3)]}{index:06d}"
            name = self.secret_name(template_id, host, index)
            breaks = not in_personal and rng.random() < 0.10
            changed = rng.random() < 0.6
            secret_id = org.add_secret(
                name, folder_id, inherits_permissions=True, active=rng.random() > 0.04,
                template_id=template_id, create_date=self.date(),
                last_accessed=None if rng.random() < 0.2 else self.date(200),
                last_password_change_attempt=self.date(365) if changed else NEVER,
                last_heartbeat_check=self.date(30) if changed else NEVER,
                last_heartbeat_status=rng.choice(HEARTBEAT) if changed else "Pending",
                auto_change_enabled=changed and rng.random() < 0.5,
                check_out_enabled=rng.random() < 0.1, requires_comment=rng.random() < 0.05,
            )
            if breaks:
                org.set_secret_inherits_permissions(secret_id, False)
                for _ in range(rng.randrange(1, 4)):
                    role = rng.choice(list(SECRET_ROLES))
                    if rng.random() < 0.6:
                        org.grant_secret_permission(secret_id, group_id=rng.choice(group_ids), role=role)
                    else:
                        org.grant_secret_permission(secret_id, user_id=rng.choice(user_ids), role=role)

    def secret_name(self, template_id: int, host: str, index: int) -> str:
        """A secret name in the style of its template, sometimes with unicode."""
        roll = self.rng.random()
        if roll < 0.03:
            return f"Serveur d'échange — {host}"
        if roll < 0.05:
            return f"本番データベース {host}"
        if template_id == 6001:
            return f"CORP\\svc_{host}"
        if template_id == 6010:
            return f"sa @ {host}.db.example.com"
        if template_id == 9:
            return f"https://{host}.example.com admin"
        if template_id == 6007:
            return f"root @ {host}"
        return f"{host} local admin"

    def run(self) -> Organization:
        """Generate the whole organization."""
        for domain_id, name, friendly in DOMAINS:
            self.org.add_domain(name, friendly, domain_id)
        group_ids = self.groups()
        user_ids = self.users()
        self.memberships(group_ids, user_ids)
        team, personal = self.folders(group_ids, user_ids)
        self.secrets(team, personal, group_ids, user_ids)
        return self.org


def generate(scale: str = "s", seed: int = 42) -> Organization:
    """A fresh organization of the given scale ("s", "m" or "l"), identical for identical seeds."""
    try:
        spec = SCALES[scale]
    except KeyError:
        raise ValueError(f"unknown scale {scale!r}; choose from {sorted(SCALES)}") from None
    org = _Gen(spec, seed).run()
    if spec.users >= 5_000:
        # Millions of long-lived objects: keep them out of the cyclic GC's scans (pauses of ~0.5 s).
        gc.collect()
        gc.freeze()
    return org
