"""What each account operation does on Secret Server, looking first so that it never acts twice.

Every executor reads Secret Server's current state before it writes: attributes already set, an account already
disabled, a membership already there, a permission already granted is a success whose trace says so; a create
or a password reset that an earlier attempt of the same request sent is recognised from a checkpoint committed
before the call. That is what makes a retry after a crash between the call and the queue write-back harmless.
An executor returns an `Outcome` whose ``staging`` step the worker runs in the transaction that makes the
request final; refusals and permanent failures raise `PermanentFailure`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.engine import Connection, Engine

from connectors.igi import provisioning_staging as staging
from connectors.igi.queue import save_checkpoint
from connectors.igi.request_models import Operation, ProvisioningRequest, api_attributes
from connectors.igi.targets import DEFAULT_TARGET
from connectors.secret_server import SecretServerAccess
from pipelines.instances import DEFAULT_INSTANCE
from pipelines.outcomes import LostClaim, Outcome, PermanentFailure
from pipelines.passwords import PasswordBox
from pipelines.permissions import PermissionOperations

REMOVE_REFUSED = "Secret Server does not support deleting users"


def split_code(code: str, domains: Mapping[str, str]) -> tuple[str, str | None]:
    """``DOMAIN\\user`` -> ("user", "DOMAIN") when DOMAIN is one of ``domains`` (lower-case name or friendly
    name -> domain name); anything else is a local user name, which may itself hold a backslash."""
    code = code.strip()
    prefix, sep, name = code.partition("\\")
    domain = domains.get(prefix.lower()) if sep else None
    return (name, domain) if domain else (code, None)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return a.strip().lower() == b.strip().lower() if "@" in a else a == b
    return bool(a == b) or (a in (None, "") and b in (None, ""))


class Executor(PermissionOperations):
    """Executes claimed requests for one worker on one Secret Server instance (``client``; staging rows of
    ``instance``, target events for ``target``): accounts here, permissions in pipelines/permissions.py. Keeps
    small per-run caches of folders, groups and domains."""

    def __init__(self, client: SecretServerAccess, engine: Engine, passwords: PasswordBox, worker_id: str, *,
                 instance: str = DEFAULT_INSTANCE, target: str = DEFAULT_TARGET,
                 allow_break_inheritance: bool = False) -> None:
        self.client = client
        self.instance = instance
        self.target = target
        self.engine = engine
        self.passwords = passwords
        self.worker_id = worker_id
        self.allow_break_inheritance = allow_break_inheritance
        self._folders: dict[int, str] | None = None  # folder id -> path, from the API, loaded once
        self._groups: dict[int, dict[str, Any]] | None = None
        self._domains: dict[str, str] | None = None

    def split(self, code: str) -> tuple[str, str | None]:
        """An account or group code as (name, domain name or None), by the domains Secret Server knows."""
        if "\\" not in code:
            return code.strip(), None
        if self._domains is None:
            known: dict[str, str] = {}
            for record in self.client.iter_domains():
                name = str(record.get("domainName") or "")
                for alias in (name, record.get("friendlyName")):
                    if name and alias:
                        known[str(alias).lower()] = name
            self._domains = known
        return split_code(code, self._domains)

    def execute(self, request: ProvisioningRequest) -> Outcome:
        """Carry out one validated request; raises `PermanentFailure`, `LostClaim` or a connector error."""
        handler = _HANDLERS[request.operation]
        return handler(self, request)

    # ------------------------------------------------------------------ accounts
    def _refuse_application_account(self, request: ProvisioningRequest, what: str,
                                    user: Mapping[str, Any] | None = None) -> None:
        name, domain = self.split(request.code)
        if user is None:
            with self.engine.connect() as conn:
                known = staging.staged_application_account(conn, self.instance, name, domain)
        else:
            known = bool(user.get("isApplicationAccount"))
        if known:
            raise PermanentFailure("NotSupported", f"Secret Server application accounts cannot be {what}")

    def _account(self, request: ProvisioningRequest) -> dict[str, Any]:
        name, domain = self.split(request.code)
        user = self.client.find_user(name, domain)
        if user is None:
            raise PermanentFailure("UnknownAccount", f"no Secret Server account {request.code!r}")
        return dict(user)

    def _record_user(self, request: ProvisioningRequest, user: Mapping[str, Any]) -> Callable[[Connection], None]:
        record = dict(user)

        def write(conn: Connection) -> None:
            staging.record_user(conn, record, instance=self.instance, event_id=request.event_id)

        return write

    def create(self, request: ProvisioningRequest) -> Outcome:
        """ACCOUNT_CREATE: a new account, never one that exists already (unless this request created it)."""
        name, domain = self.split(request.code)
        given = request.attributes
        attrs = api_attributes(given)
        existing = self.client.find_user(name, domain)
        if existing is not None:
            if (request.checkpoint or {}).get("creating") == request.code.lower():
                # An earlier attempt of this request sent the create and did not live to write back.
                return Outcome("account created by an earlier attempt", self._record_user(request, existing))
            # IGI asked for a new account; one of that name is somebody's already. Taking it over would leave its
            # password and state other than requested, or change them for whoever holds it: refuse, say so.
            raise PermanentFailure(
                "AccountExists", f"account {request.code!r} already exists in Secret Server (user id "
                f"{existing['id']}); nothing was changed: its password and state are not ss-igi's to take over. "
                "Reconcile brings it to IGI; request a password change or a restore for it if that is meant")
        if domain and given.domain_id is None:
            raise PermanentFailure("MissingAttribute", "creating a domain account needs attributes.domainId")
        password = self.passwords.open(request.password, request.password_encrypted)
        # Committed before the call: a later attempt that finds the account knows this request created it.
        if not save_checkpoint(self.engine, request.event_id, self.worker_id, {"creating": request.code.lower()}):
            raise LostClaim()
        created = self.client.create_user(
            name, password.get_secret_value(), display_name=attrs.get("displayName"),
            email_address=attrs.get("emailAddress"), domain_id=given.domain_id,
            enabled=True if given.enabled is None else given.enabled,
            is_application_account=bool(given.is_application_account),
        )
        # Read back in the shape reconciliation stages (the search record), domain name included.
        user = self.client.find_user(name, domain) or created
        groups = [g["groupId"] for g in self.client.iter_user_groups(user["id"])]  # e.g. Everyone

        def write(conn: Connection) -> None:
            self._record_user(request, user)(conn)
            with staging.permission_events(conn, request.event_id, instance=self.instance, target=self.target,
                                           user_id=int(user["id"])):
                for group_id in groups:
                    if staging.staged_group_exists(conn, self.instance, group_id):
                        staging.record_membership(conn, group_id, user["id"], present=True, instance=self.instance,
                                                  event_id=request.event_id)

        return Outcome("account created", write)

    def change_password(self, request: ProvisioningRequest) -> Outcome:
        """ACCOUNT_PWDCHANGE: reset the account's password, once even across retries."""
        what = "given a new password through ss-igi"
        self._refuse_application_account(request, what)
        user = self._account(request)
        self._refuse_application_account(request, what, user)
        password = self.passwords.open(request.password, request.password_encrypted)
        model: Mapping[str, Any] = self.client.get_user(user["id"]) or {}
        changed = model.get("passwordLastChanged")
        checkpoint = request.checkpoint or {}
        if checkpoint.get("userId") == user["id"] and "passwordLastChanged" in checkpoint \
                and checkpoint["passwordLastChanged"] != changed:
            # An earlier attempt reset it and died before writing back: don't reset twice.
            return Outcome("password already changed by an earlier attempt", self._record_user(request, user))
        if not save_checkpoint(self.engine, request.event_id, self.worker_id,
                               {"userId": user["id"], "passwordLastChanged": changed}):
            raise LostClaim()
        self.client.reset_password(user["id"], password.get_secret_value())
        return Outcome("password changed", self._record_user(request, user))

    def modify(self, request: ProvisioningRequest) -> Outcome:
        """ACCOUNT_MODIFY: change the attributes that differ from the request's."""
        self._refuse_application_account(request, "modified")
        attrs = api_attributes(request.attributes)
        if request.attributes.enabled is not None:
            attrs["enabled"] = request.attributes.enabled
        user = self._account(request)
        self._refuse_application_account(request, "modified", user)
        differing = {k: v for k, v in attrs.items() if not _same(user.get(k), v)}
        if not differing:
            return Outcome("account already has these attributes", self._record_user(request, user))
        updated = self.client.update_user(user["id"], **differing)
        return Outcome(f"modified {', '.join(sorted(differing))}", self._record_user(request, {**user, **updated}))

    def _set_enabled(self, request: ProvisioningRequest, enabled: bool) -> Outcome:
        what = "restored" if enabled else "suspended"
        self._refuse_application_account(request, what)
        user = self._account(request)
        self._refuse_application_account(request, what, user)
        if bool(user.get("enabled")) == enabled:
            return Outcome(f"account already {'enabled' if enabled else 'disabled'}",
                           self._record_user(request, user))
        updated = self.client.set_user_enabled(user["id"], enabled)
        return Outcome(f"account {'enabled' if enabled else 'disabled'}",
                       self._record_user(request, {**user, **updated, "enabled": enabled}))

    def disable(self, request: ProvisioningRequest) -> Outcome:
        """ACCOUNT_DISABLE: suspend the account."""
        return self._set_enabled(request, False)

    def enable(self, request: ProvisioningRequest) -> Outcome:
        """ACCOUNT_ENABLE: restore the account."""
        return self._set_enabled(request, True)

    def remove(self, request: ProvisioningRequest) -> Outcome:
        """ACCOUNT_REMOVE: refused, since Secret Server does not delete users."""
        raise PermanentFailure("NotSupported", REMOVE_REFUSED)


_HANDLERS: dict[Operation, Callable[[Executor, ProvisioningRequest], Outcome]] = {
    Operation.ACCOUNT_CREATE: Executor.create,
    Operation.ACCOUNT_PWDCHANGE: Executor.change_password,
    Operation.ACCOUNT_MODIFY: Executor.modify,
    Operation.ACCOUNT_DISABLE: Executor.disable,
    Operation.ACCOUNT_ENABLE: Executor.enable,
    Operation.ACCOUNT_REMOVE: Executor.remove,
    Operation.PERMISSION_ADD: Executor.permission,
    Operation.PERMISSION_REMOVE: Executor.permission,
}
