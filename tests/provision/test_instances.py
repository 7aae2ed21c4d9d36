"""Provisioning with two Secret Server instances whose ids collide: each request runs on the instance its target
names and nowhere else, and writes back to that instance's staging rows; NULL is the default instance; an unknown
target fails alone; --instance restricts; one instance's accounts never wait for the other's; a refused login
sets its instance aside."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa

from connectors.igi.queue import Operation as Op
from connectors.igi.queue import claim_pending_requests
from connectors.igi.targets import TargetScope
from connectors.secret_server import SecretServerClient
from pipelines.cli import main
from pipelines.provision import provision_with_settings, run_provisioning
from pipelines.reconcile import run_reconcile
from pipelines.routing import Route, Routing
from pipelines.settings import Settings
from simulator.generator import generate
from simulator.server import SimulatorServer
from simulator.state import Organization
from tests.provision.conftest import FAST, event, rows, writes

DR = "SecretServer-dr"
BOTH = TargetScope(("SecretServer", DR), ("SecretServer", DR), "SecretServer")


@dataclass
class Side:
    """One instance's simulator, its organization, its account jsmith (the same id on both sides) and its folder
    \\Vault (other ids: on dr, prod's \\Vault id is the folder \\Other)."""

    org: Organization
    sim: SimulatorServer
    jsmith: int
    vault: int

    def user(self, user_id: int) -> dict[str, Any]:
        return next(u for u in self.org.users() if u["id"] == user_id)


@pytest.fixture
def prod(make_simulator: Callable[..., SimulatorServer]) -> Side:
    org = generate("s", 42)
    jsmith = org.add_user("jsmith", "John Smith (prod)", password="Prod-Pass-1")
    vault = org.add_folder("Vault", None, inherit_permissions=False)
    org.add_secret("vault-root", vault, inherits_permissions=False)
    return Side(org, make_simulator(org), jsmith, vault)


@pytest.fixture
def dr(make_simulator: Callable[..., SimulatorServer]) -> Side:
    org = generate("s", 7)
    jsmith = org.add_user("jsmith", "John Smith (dr)", password="Dr-Pass-1")
    org.add_folder("Other", None, inherit_permissions=False)
    vault = org.add_folder("Vault", None, inherit_permissions=False)
    org.add_secret("vault-root", vault, inherits_permissions=False)
    return Side(org, make_simulator(org), jsmith, vault)


@pytest.fixture
def two_instances(monkeypatch: pytest.MonkeyPatch, igi_database_url: str, fernet_key: str, prod: Side,
                  dr: Side) -> None:
    """SS_IGI_INSTANCES=default,dr: default is prod (target SecretServer), dr has target SecretServer-dr."""
    assert prod.jsmith == dr.jsmith  # the collision these tests are about
    for name, value in {"SS_IGI_INSTANCES": "default,dr", "IGI_DATABASE_URL": igi_database_url,
                        "SS_IGI_FERNET_KEY": fernet_key, "SS_IGI_PROVISION_BACKOFF_SECONDS": "0",
                        "SECRET_SERVER_URL": prod.sim.base_url, "SECRET_SERVER_USERNAME": "admin",
                        "SECRET_SERVER_PASSWORD": "admin", "DR_SECRET_SERVER_URL": dr.sim.base_url,
                        "DR_SECRET_SERVER_USERNAME": "admin", "DR_SECRET_SERVER_PASSWORD": "admin"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("IGI_TARGET", raising=False)
    monkeypatch.delenv("DR_IGI_TARGET", raising=False)


def _client(side: Side) -> SecretServerClient:
    return SecretServerClient(side.sim.base_url, "admin", "admin")


def _reconcile(engine: sa.Engine, side: Side, instance: str, target: str, **options: Any) -> Any:
    with _client(side) as client:
        summary = run_reconcile(engine, client, instance=instance, target=target, **options)
    assert summary.ok
    return summary


def _stage_group(engine: sa.Engine, instance: str, group_id: int, name: str) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO ss_staging.groups (instance, group_id, group_name, enabled) "
                             "VALUES (:i, :g, :n, true)"), {"i": instance, "g": group_id, "n": name})


def test_each_request_runs_on_its_instance_only_and_writes_back_to_its_staging_rows(
        two_instances, prod, dr, igi_engine, enqueue):
    uid = prod.jsmith
    _stage_group(igi_engine, "dr", dr.org.everyone_group_id, "Everyone")  # so dr's create stages the membership
    on_prod = enqueue(Op.ACCOUNT_DISABLE, "jsmith")  # NULL target: the default instance
    on_dr = enqueue(Op.ACCOUNT_MODIFY, "jsmith", attributes={"displayName": "J. Smith, DR"}, target=DR)
    it_admins = 2  # a group of both organizations
    grant_dr = enqueue(Op.PERMISSION_ADD, "jsmith", permission_type="group", permission_id=it_admins, target=DR)
    create_dr = enqueue(Op.ACCOUNT_CREATE, "newbie", password="Newbie-Pass-77", target=DR)
    explicit = enqueue(Op.ACCOUNT_MODIFY, "jsmith", attributes={"emailAddress": "js@prod.example"},
                       target="SecretServer")  # the default instance's target, spelled out

    summary = provision_with_settings(Settings())

    assert (summary.succeeded, summary.failed, summary.unavailable) == (5, 0, {})
    assert [event(igi_engine, e)["state"] for e in (on_prod, on_dr, grant_dr, create_dr, explicit)] == [2] * 5
    # Secret Server: each side changed by its own requests only.
    assert (prod.user(uid)["enabled"], prod.user(uid)["displayName"], prod.user(uid)["emailAddress"]) == (
        False, "John Smith (prod)", "js@prod.example")
    assert (dr.user(uid)["enabled"], dr.user(uid)["displayName"], dr.user(uid)["emailAddress"]) == (
        True, "J. Smith, DR", "jsmith@example.com")
    assert dr.org.is_member(it_admins, uid) and not prod.org.is_member(it_admins, uid)
    newbie = dr.org.find_user("newbie")
    assert newbie is not None and dr.org.check_password(newbie.id, "Newbie-Pass-77")
    assert prod.org.find_user("newbie") is None
    assert sorted(writes(prod.sim)) == [("PATCH", f"/SecretServer/api/v1/users/{uid}")] * 2
    assert sorted(writes(dr.sim)) == sorted([
        ("PATCH", f"/SecretServer/api/v1/users/{uid}"), ("POST", f"/SecretServer/api/v1/groups/{it_admins}/users"),
        ("POST", "/SecretServer/api/v1/users")])
    # Staging: one row per (instance, user id), each written by its own instance's requests.
    staged = {(r["instance"], r["user_id"]): r for r in rows(
        igi_engine, "SELECT instance, user_id, user_name, display_name, enabled FROM ss_staging.users")}
    assert staged[("default", uid)] == {"instance": "default", "user_id": uid, "user_name": "jsmith",
                                        "display_name": "John Smith (prod)", "enabled": False}
    assert staged[("dr", uid)] == {"instance": "dr", "user_id": uid, "user_name": "jsmith",
                                   "display_name": "J. Smith, DR", "enabled": True}
    assert staged[("dr", newbie.id)]["user_name"] == "newbie" and ("default", newbie.id) not in staged
    members = rows(igi_engine, "SELECT instance, group_id, user_id FROM ss_staging.group_members "
                               "WHERE deleted_at IS NULL ORDER BY 1, 2, 3")
    assert members == sorted([{"instance": "dr", "group_id": it_admins, "user_id": uid},
                              {"instance": "dr", "group_id": dr.org.everyone_group_id, "user_id": newbie.id}],
                             key=lambda r: (r["group_id"], r["user_id"]))
    logged = rows(igi_engine, "SELECT event_id, instance FROM ss_staging.change_log ORDER BY event_id")
    assert {(r["event_id"], r["instance"]) for r in logged} == {
        (on_prod, "default"), (explicit, "default"), (on_dr, "dr"), (grant_dr, "dr"), (create_dr, "dr")}
    # The side effect of dr's create (its Everyone membership) is a target event for dr's IGI target.
    assert rows(igi_engine, "SELECT target, code, operation, functionality FROM igi.event_target") == [
        {"target": DR, "code": "newbie", "operation": 1, "functionality": "group:Everyone"}]


def test_an_unknown_target_fails_alone_with_the_configured_targets_in_its_trace(two_instances, prod, dr,
                                                                                 igi_engine, enqueue):
    unknown = enqueue(Op.ACCOUNT_DISABLE, "jsmith", target="SecretServer-eu")
    empty = enqueue(Op.ACCOUNT_DISABLE, "jsmith", target="")
    mine = enqueue(Op.ACCOUNT_DISABLE, "jsmith")  # same account name, the default instance: not held up

    summary = provision_with_settings(Settings())

    assert (summary.succeeded, summary.failed) == (1, 2)
    failed = event(igi_engine, unknown)
    assert (failed["state"], failed["erc_status"], failed["attempts"]) == (3, "UnknownTarget", 0)
    assert "'SecretServer-eu', which no configured instance has" in failed["trace"]
    assert "configured targets: SecretServer (instance default), SecretServer-dr (instance dr)" in failed["trace"]
    assert event(igi_engine, empty)["erc_status"] == "UnknownTarget"
    assert event(igi_engine, mine)["state"] == 2
    assert writes(prod.sim) == [("PATCH", f"/SecretServer/api/v1/users/{prod.jsmith}")]
    assert writes(dr.sim) == [] and dr.user(dr.jsmith)["enabled"]


def test_a_null_target_is_unknown_when_no_instance_is_named_default(two_instances, monkeypatch, prod, dr,
                                                                    igi_engine, enqueue):
    monkeypatch.setenv("SS_IGI_INSTANCES", "prod,dr")
    for name in ("URL", "USERNAME", "PASSWORD"):
        monkeypatch.setenv(f"PROD_SECRET_SERVER_{name}", {"URL": prod.sim.base_url}.get(name, "admin"))
    orphan = enqueue(Op.ACCOUNT_DISABLE, "jsmith")
    for_prod = enqueue(Op.ACCOUNT_DISABLE, "jsmith", target="SecretServer-prod")

    provision_with_settings(Settings())

    row = event(igi_engine, orphan)
    assert (row["state"], row["erc_status"]) == (3, "UnknownTarget")
    assert "names no target (NULL: the instance named default), and no instance named default" in row["trace"]
    assert event(igi_engine, for_prod)["state"] == 2 and not prod.user(prod.jsmith)["enabled"]
    assert writes(dr.sim) == []


def test_instance_restricts_the_run_to_that_instances_requests(two_instances, prod, dr, igi_engine, enqueue,
                                                               capsys):
    on_prod = enqueue(Op.ACCOUNT_DISABLE, "jsmith")
    on_dr = enqueue(Op.ACCOUNT_DISABLE, "jsmith", target=DR)
    unknown = enqueue(Op.ACCOUNT_DISABLE, "jsmith", target="Elsewhere")

    assert main(["provision", "--instance", "dr"]) == 0

    assert event(igi_engine, on_dr)["state"] == 2 and not dr.user(dr.jsmith)["enabled"]
    # The other instance's request is not even claimed, and its Secret Server is not contacted at all.
    untouched = event(igi_engine, on_prod)
    assert (untouched["state"], untouched["attempts"], untouched["worker_history"]) == (1, 0, [])
    assert list(prod.sim.request_log) == [] and prod.user(prod.jsmith)["enabled"]
    # A request of no configured instance belongs to none: every run fails it.
    assert event(igi_engine, unknown)["erc_status"] == "UnknownTarget"

    assert main(["provision", "--instance", "default"]) == 0
    assert event(igi_engine, on_prod)["state"] == 2 and not prod.user(prod.jsmith)["enabled"]
    assert main(["provision", "--instance", "eu"]) == 1
    assert "no instance 'eu' is configured" in capsys.readouterr().err


def test_one_instances_account_never_waits_for_the_same_name_on_another(two_instances, igi_engine, enqueue):
    on_dr = enqueue(Op.ACCOUNT_DISABLE, "jsmith", target=DR)
    on_prod = enqueue(Op.ACCOUNT_DISABLE, "JSmith")
    then_prod = enqueue(Op.ACCOUNT_ENABLE, "jsmith", target="SecretServer")  # NULL and its target: one account
    elsewhere = enqueue(Op.ACCOUNT_ENABLE, "jsmith", target="Elsewhere")
    with igi_engine.begin() as conn:  # dr's jsmith waits for a retry an hour from now
        conn.execute(sa.text("UPDATE igi.event_out SET next_attempt_at = now() + interval '1 hour' "
                             "WHERE event_id = :e"), {"e": on_dr})

    claimed = [r["event_id"] for r in claim_pending_requests(igi_engine, "w1", 10, 60, BOTH)]
    assert claimed == [on_prod, elsewhere]  # then_prod waits for on_prod; on_dr is not due

    prod_only = TargetScope(("SecretServer",), ("SecretServer", DR), "SecretServer")
    assert claim_pending_requests(igi_engine, "w2", 10, 60, prod_only) == []  # then_prod: its head is held
    with igi_engine.begin() as conn:
        conn.execute(sa.text("UPDATE igi.event_out SET state = 2 WHERE event_id = :e"), {"e": on_prod})
    assert [r["event_id"] for r in claim_pending_requests(igi_engine, "w2", 10, 60, prod_only)] == [then_prod]


def test_a_refused_login_sets_its_instance_aside_and_the_others_proceed(two_instances, monkeypatch, prod, dr,
                                                                        igi_engine, enqueue, capsys):
    monkeypatch.setenv("DR_SECRET_SERVER_PASSWORD", "Wrong-Dr-Pass-3")
    on_prod = enqueue(Op.ACCOUNT_DISABLE, "jsmith")
    on_dr = enqueue(Op.ACCOUNT_DISABLE, "jsmith", target=DR)

    summary = provision_with_settings(Settings())
    assert summary.succeeded == 1 and list(summary.unavailable) == ["dr"]
    assert "refused the login" in summary.unavailable["dr"] and "DR_SECRET_SERVER_PASSWORD" in summary.unavailable["dr"]
    assert event(igi_engine, on_prod)["state"] == 2
    waiting = event(igi_engine, on_dr)
    assert (waiting["state"], waiting["attempts"], waiting["worker_history"]) == (1, 0, [])
    assert [r.path for r in dr.sim.request_log] == ["/SecretServer/oauth2/token"]  # one login, nothing else

    capsys.readouterr()
    assert main(["provision"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("ss-igi provision: instance dr: Secret Server refused the login")
    assert err[0].endswith("their requests stay pending") and "Wrong-Dr-Pass-3" not in err[0]


def test_request_and_queue_commands_name_the_instance(two_instances, igi_engine, monkeypatch, capsys):
    assert main(["request", "suspend", "jsmith", "--instance", "dr"]) == 0
    assert "enqueued request 1: ACCOUNT_DISABLE jsmith for instance dr (target SecretServer-dr)" in \
        capsys.readouterr().out
    assert main(["request", "suspend", "jsmith"]) == 1
    assert "several instances are configured (default, dr); name one with --instance" in capsys.readouterr().err
    assert main(["request", "suspend", "jsmith", "--instance", "default"]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("Pass-Word-12\n"))
    assert main(["request", "password", "jsmith", "--instance", "dr", "--password-stdin"]) == 0
    assert [(r["event_id"], r["target"]) for r in rows(igi_engine, "SELECT event_id, target FROM igi.event_out "
                                                                   "ORDER BY event_id")] == [
        (1, DR), (2, "SecretServer"), (3, DR)]

    capsys.readouterr()
    assert main(["queue", "--instance", "dr", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [r["event_id"] for r in shown["requests"]] == [1, 3] and shown["counts"]["due"] == 2
    assert main(["queue"]) == 0
    table = capsys.readouterr().out
    assert "Target" in table and "SecretServer-dr" in table


def test_the_flow_takes_the_instance_and_fails_after_its_artifact_when_one_is_set_aside(
        two_instances, monkeypatch, prod, dr, igi_engine, enqueue, prefect_harness):
    from pipelines.failures import CommandFailed
    from pipelines.provision_flow import provision

    on_prod = enqueue(Op.ACCOUNT_DISABLE, "jsmith")
    on_dr = enqueue(Op.ACCOUNT_DISABLE, "jsmith", target=DR)
    totals = provision(instance="dr")
    assert (totals["processed"], totals["succeeded"], totals["unavailable"]) == (1, 1, {})
    assert event(igi_engine, on_dr)["state"] == 2 and event(igi_engine, on_prod)["state"] == 1

    monkeypatch.setenv("DR_SECRET_SERVER_PASSWORD", "Wrong-Dr-Pass-3")
    enqueue(Op.ACCOUNT_ENABLE, "jsmith", target=DR)
    with pytest.raises(CommandFailed, match=r"^instance dr: Secret Server refused the login"):
        provision()
    assert event(igi_engine, on_prod)["state"] == 2  # the other instance's request ran all the same


def _holders(side: Side, folder_id: int) -> set[int]:
    return {p["userId"] for p in side.org.folder_permissions() if p["folderId"] == folder_id and p.get("userId")}


def test_names_resolve_in_the_requests_own_instance_never_in_another_ones_staging(
        two_instances, prod, dr, igi_engine, enqueue):
    _reconcile(igi_engine, prod, "default", "SecretServer")  # only prod is staged: \\Vault is its folder there
    assert dr.vault != prod.vault and prod.vault in dr.org.folder_map  # on dr, prod's id is another folder
    grant = enqueue(Op.PERMISSION_ADD, "jsmith", permission_type="folder", permission_name="\\Vault", target=DR)
    secret = enqueue(Op.PERMISSION_ADD, "jsmith", permission_type="secret", permission_name="vault-root", target=DR)

    provision_with_settings(Settings())

    assert event(igi_engine, grant)["state"] == 2
    assert dr.org.folder_map[dr.vault].path == "\\Vault" and dr.jsmith in _holders(dr, dr.vault)
    assert dr.jsmith not in _holders(dr, prod.vault) and prod.jsmith not in _holders(prod, prod.vault)
    # A secret name is looked up in the instance's staging only: dr has none yet, so it is refused, not guessed.
    refused = event(igi_engine, secret)
    assert (refused["state"], refused["erc_status"]) == (3, "UnknownSecret")
    assert writes(prod.sim) == [] and writes(dr.sim) == [("POST", "/SecretServer/api/v1/folder-permissions")]


def test_after_provisioning_both_instances_a_reconcile_of_each_finds_nothing_to_change(
        two_instances, prod, dr, igi_engine, enqueue):
    _reconcile(igi_engine, prod, "default", "SecretServer")
    _reconcile(igi_engine, dr, "dr", DR)
    for target in (None, DR):
        enqueue(Op.PERMISSION_ADD, "jsmith", permission_type="folder", permission_name="\\Vault",
                folder_access_role="Edit", secret_access_role="View", target=target)
        enqueue(Op.PERMISSION_ADD, "jsmith", permission_type="secret", permission_name="vault-root",
                secret_access_role="Owner", target=target)
    enqueue(Op.ACCOUNT_CREATE, "carol", password="Carol-Pass-1", target=DR)
    enqueue(Op.PERMISSION_ADD, "carol", permission_type="group", permission_id=2, target=DR)
    enqueue(Op.ACCOUNT_MODIFY, "jsmith", attributes={"displayName": "Prod Smith"})
    enqueue(Op.ACCOUNT_DISABLE, "jsmith", target=DR)

    summary = provision_with_settings(Settings())
    assert summary.succeeded == 8, [r.trace for r in summary.results]

    for side, instance, target in ((prod, "default", "SecretServer"), (dr, "dr", DR)):
        again = _reconcile(igi_engine, side, instance, target, dry_run=True)
        changes = {name: (s.added, s.changed, s.removed) for name, s in again.stats.items()
                   if (s.added, s.changed, s.removed) != (0, 0, 0)}
        assert changes == {}, (instance, again.preview[:10])
    assert prod.org.find_user("carol") is None
    # Carol's Everyone membership on dr (a side effect IGI did not ask for) is an event for dr's target only.
    assert rows(igi_engine, "SELECT target, code, functionality FROM igi.event_target WHERE run_id IS NULL") == [
        {"target": DR, "code": "carol", "functionality": "group:Everyone"}]


def test_a_login_refused_mid_run_sets_that_instance_aside_and_gives_its_request_back(
        two_instances, prod, dr, igi_engine, enqueue, passwords):
    for_dr = enqueue(Op.ACCOUNT_DISABLE, "jsmith", target=DR)
    for_prod = [enqueue(Op.ACCOUNT_DISABLE, "jsmith"), enqueue(Op.ACCOUNT_ENABLE, "jsmith")]
    configured = [("default", "SecretServer"), ("dr", DR)]
    with _client(prod) as good, SecretServerClient(dr.sim.base_url, "admin", "Wrong-Dr-Pass-3") as bad:
        routing = Routing([Route("default", "SecretServer", good), Route("dr", DR, bad)], configured)
        summary = run_provisioning(igi_engine, routing, passwords, FAST)  # no login first: dr fails at its request

    assert summary.succeeded == 2 and list(routing.unavailable()) == ["dr"]
    assert [event(igi_engine, e)["state"] for e in for_prod] == [2, 2]
    given_back = event(igi_engine, for_dr)
    assert (given_back["state"], given_back["attempts"], given_back["claimed_by"]) == (1, 0, None)
    assert writes(dr.sim) == [] and dr.user(dr.jsmith)["enabled"]
