"""`ss-igi request`: enqueue a provisioning request by hand (igi.event_out), as IGI would.

Examples:
    ss-igi request create alice --attr displayName="Alice A" --attr emailAddress=alice@example.com  # asks password
    echo "$PW" | ss-igi request password alice --password-stdin
    ss-igi request suspend 'CORP\\alice'
    ss-igi request grant alice --group Ops
    ss-igi request grant alice --folder '\\Team\\Unix' --folder-role Edit --secret-role View
    ss-igi request revoke alice --secret 42
    ss-igi request modify alice --attr enabled=false     # booleans: true/false, 1/0, yes/no
    ss-igi request suspend alice --instance dr           # for instance dr (its IGI target)
With several Secret Server instances configured, --instance names the one the request is for (the request gets
that instance's IGI target); with a single unnamed one, the request's target stays NULL (the default instance).
A password never goes on the command line (other users could read it in the process list): it is read from
stdin or prompted for, then Fernet-encrypted with SS_IGI_FERNET_KEY before it is stored.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from typing import Any

from connectors.igi.queue import enqueue_request
from connectors.igi.request_models import InvalidRequest, Operation, validate_request
from pipelines.passwords import PasswordBox
from pipelines.settings import Settings

OPERATIONS: dict[str, Operation] = {
    "create": Operation.ACCOUNT_CREATE,
    "password": Operation.ACCOUNT_PWDCHANGE, "pwdchange": Operation.ACCOUNT_PWDCHANGE,
    "modify": Operation.ACCOUNT_MODIFY,
    "grant": Operation.PERMISSION_ADD, "add": Operation.PERMISSION_ADD,
    "revoke": Operation.PERMISSION_REMOVE,
    "suspend": Operation.ACCOUNT_DISABLE, "disable": Operation.ACCOUNT_DISABLE,
    "restore": Operation.ACCOUNT_ENABLE, "enable": Operation.ACCOUNT_ENABLE,
    "delete": Operation.ACCOUNT_REMOVE,
}


def parse_operation(text: str) -> Operation:
    """A verb above, an IGI name (ACCOUNT_CREATE) or an IGI code (10)."""
    key = text.strip()
    if key.lower() in OPERATIONS:
        return OPERATIONS[key.lower()]
    if key.isdigit():
        return Operation(int(key))
    try:
        return Operation[key.upper()]
    except KeyError:
        raise argparse.ArgumentTypeError(f"unknown operation {text!r}") from None


def add_parser(sub: Any) -> None:
    """Register ``ss-igi request``."""
    parser = sub.add_parser(
        "request", help="enqueue a provisioning request by hand",
        description="Enqueue one provisioning request in igi.event_out; `ss-igi provision` executes it.",
    )
    parser.add_argument("operation", type=parse_operation,
                        help=f"{', '.join(OPERATIONS)}; or an IGI operation name or code")
    parser.add_argument("code", help="the account: user name, DOMAIN\\user for a domain account")
    parser.add_argument("--person", dest="person_code", help="IGI person code of the owner")
    parser.add_argument("--instance", metavar="NAME",
                        help="the Secret Server instance the request is for (needed when several are configured)")
    parser.add_argument("--attr", action="append", default=[], metavar="KEY=VALUE",
                        help="account attribute: displayName, emailAddress, firstName, lastName; for create also "
                             "domainId, enabled, isApplicationAccount; for modify also enabled")
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--group", help="group name or id (grant/revoke membership)")
    target.add_argument("--folder", help="folder path (\\Team\\Unix) or id")
    target.add_argument("--secret", help="secret id or name")
    parser.add_argument("--folder-role", help="folder role: View, Edit, Add Secret, Owner (default View)")
    parser.add_argument("--secret-role", "--role", dest="secret_role",
                        help="secret role: List, View, Edit, Owner (folder default None, secret default View)")
    parser.add_argument("--break-inheritance", action="store_true",
                        help="a folder or secret grant may break inheritance (the object stops following its "
                             "parent and gets a copy of its permissions)")
    parser.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    parser.add_argument("--json", action="store_true", help="print the request as JSON")
    parser.set_defaults(run=run)


def _attributes(pairs: list[str]) -> dict[str, str]:
    """--attr pairs as the strings IGI would write; the request's schema parses them (request_models.py)."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--attr wants KEY=VALUE, got {pair!r}")
        out[key.strip()] = value
    return out


def _target(args: argparse.Namespace) -> dict[str, Any]:
    for kind in ("group", "folder", "secret"):
        value = getattr(args, kind)
        if value is not None:
            ident = {"permission_id": int(value)} if value.strip().isdigit() else {"permission_name": value}
            return {"permission_type": kind, **ident}
    return {}


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("New password: ")
        if getpass.getpass("Again: ") != password:
            raise ValueError("the passwords differ")
    if not password:
        raise ValueError("empty password")
    return password


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Validate the request, ask for its password if it needs one, enqueue it and say so."""
    from pipelines.database import open_database
    from pipelines.instances import DEFAULT_INSTANCE, instance_named

    # The instance first: one that is not configured, or none named when several are, is refused before
    # anything is asked. A single unnamed instance keeps IGI's NULL target, as before instances existed.
    instance = instance_named(settings, args.instance)
    target = None if args.instance is None and instance.name == DEFAULT_INSTANCE else instance.target
    op: Operation = args.operation
    attributes = _attributes(args.attr)
    if args.break_inheritance:
        attributes["breakInheritance"] = "true"
    fields: dict[str, Any] = {"person_code": args.person_code, "attributes": attributes}
    if op in (Operation.PERMISSION_ADD, Operation.PERMISSION_REMOVE):
        fields.update(_target(args))
        if "permission_type" not in fields:
            raise ValueError(f"{op.name} needs --group, --folder or --secret")
        fields["folder_access_role"] = args.folder_role
        fields["secret_access_role"] = args.secret_role
    needs_password = op in (Operation.ACCOUNT_CREATE, Operation.ACCOUNT_PWDCHANGE)
    # Everything that can be wrong is said before the password is asked for (its place held by a stand-in).
    try:
        validate_request({"operation": op, "code": args.code, **fields, "password": "asked next" if needs_password
                          else None})
    except InvalidRequest as invalid:
        raise ValueError(invalid.reason) from None
    if needs_password:
        box = PasswordBox.from_settings(settings)
        box.check_can_seal()
        stored, encrypted = box.seal(_password(args))
        fields.update(password=stored, password_encrypted=encrypted)
    engine = open_database(settings)
    try:
        event_id = enqueue_request(engine, operation=op, code=args.code, target=target, **fields)
    finally:
        engine.dispose()
    if args.json:
        shown = {k: v for k, v in fields.items() if k != "password"}
        print(json.dumps({"event_id": event_id, "target": target, "operation": op.name, "code": args.code,
                          **shown}))
    else:
        where = f" for instance {instance.name} (target {target})" if target is not None else ""
        print(f"enqueued request {event_id}: {op.name} {args.code}{where}")
    return 0
