"""What a provisioning request may say, declared once per operation and used on both sides of the queue.

IGI writes ``igi.event_out`` rows whose values arrive as strings or loosely typed JSON. `validate_request` reads
such a row with declared types: booleans are true/false/1/0/yes/no in any case, integers are integers or
decimal strings, attribute names are matched without regard to case (and in their snake_case spelling), and
anything an operation does not take is refused by name instead of being ignored. `ss-igi request` validates
what it enqueues with the same function, so a request the command line accepts is one the worker can run.
A row that fails raises `InvalidRequest`; the worker ends it in state 3 with the reason and runs the others.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError


class Operation(IntEnum):
    """IGI operation codes of the OUT queue that ss-igi executes."""

    PERMISSION_ADD = 1
    PERMISSION_REMOVE = 2
    ACCOUNT_PWDCHANGE = 3
    ACCOUNT_DISABLE = 6
    ACCOUNT_ENABLE = 7
    ACCOUNT_MODIFY = 9
    ACCOUNT_CREATE = 10
    ACCOUNT_REMOVE = 11


class State(IntEnum):
    """IGI states of a request: pending, processed with success, processed with errors."""

    PENDING = 1
    SUCCESS = 2
    ERROR = 3


PERMISSION_TYPES = ("group", "folder", "secret")
FOLDER_ROLES = ("View", "Edit", "Add Secret", "Owner")
SECRET_ROLES = ("List", "View", "Edit", "Owner")
FOLDER_SECRET_ROLES = ("None", *SECRET_ROLES)  # a folder permission's role on the secrets inside

_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}


class InvalidRequest(ValueError):
    """The request cannot be executed as written. ``erc_status`` classifies it; the text says what is wrong."""

    def __init__(self, erc_status: str, reason: str) -> None:
        super().__init__(reason)
        self.erc_status = erc_status
        self.reason = reason


def parse_flag(value: Any) -> bool:
    """A boolean as IGI writes it: true/false, 1/0, yes/no in any case; anything else is refused."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError(f"{value!r} is not a boolean (true/false, 1/0, yes/no)")


def parse_count(value: Any) -> int:
    """An integer, or a string of decimal digits; booleans and fractions are refused."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    raise ValueError(f"{value!r} is not an integer")


def _text(value: Any) -> str:
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise ValueError(f"{value!r} is not text")
    return str(value)


Flag = Annotated[bool, BeforeValidator(parse_flag)]
Count = Annotated[int, BeforeValidator(parse_count)]
Text = Annotated[str, BeforeValidator(_text)]


class RequestAttributes(BaseModel):
    """Attributes a request may carry: the account's, under their API names (snake_case here), and for a
    folder or secret grant whether it may break inheritance."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    display_name: Text | None = None
    email_address: Text | None = None
    first_name: Text | None = None
    last_name: Text | None = None
    domain_id: Count | None = None
    enabled: Flag | None = None
    is_application_account: Flag | None = None
    break_inheritance: Flag | None = None

    def given(self) -> set[str]:
        """Names of the attributes the request set."""
        return {name for name in type(self).model_fields if getattr(self, name) is not None}


# Attribute names as IGI or a person may write them (compared in lower case) -> field of RequestAttributes.
ATTRIBUTE_NAMES = {
    "displayname": "display_name", "display_name": "display_name", "name": "display_name",
    "emailaddress": "email_address", "email_address": "email_address", "email": "email_address",
    "mail": "email_address",
    "firstname": "first_name", "first_name": "first_name", "givenname": "first_name",
    "lastname": "last_name", "last_name": "last_name", "surname": "last_name",
    "domainid": "domain_id", "domain_id": "domain_id",
    "enabled": "enabled",
    "isapplicationaccount": "is_application_account", "is_application_account": "is_application_account",
    "breakinheritance": "break_inheritance", "break_inheritance": "break_inheritance",
}
_CAMEL = {"display_name": "displayName", "email_address": "emailAddress", "first_name": "firstName",
          "last_name": "lastName", "domain_id": "domainId", "enabled": "enabled",
          "is_application_account": "isApplicationAccount", "break_inheritance": "breakInheritance"}

# Which attributes each operation takes, and why the others are refused.
_PROFILE = {"display_name", "email_address", "first_name", "last_name"}
ALLOWED_ATTRIBUTES: dict[Operation, set[str]] = {
    Operation.ACCOUNT_CREATE: _PROFILE | {"domain_id", "enabled", "is_application_account"},
    Operation.ACCOUNT_MODIFY: _PROFILE | {"enabled"},
    Operation.PERMISSION_ADD: {"break_inheritance"},  # folder and secret grants only
}
_WHY_NOT = {
    "domain_id": "an account's domain is fixed when it is created",
    "is_application_account": "whether an account is an application account is fixed when it is created",
}


@dataclass(frozen=True)
class ProvisioningRequest:
    """One claimed request, validated. ``password`` (a Fernet token or plain text) never shows in repr."""

    event_id: int
    operation: Operation
    code: str
    person_code: str | None
    attributes: RequestAttributes
    permission_type: str | None
    permission_id: int | None
    permission_name: str | None
    folder_access_role: str | None
    secret_access_role: str | None
    password: str | None
    password_encrypted: bool
    attempts: int
    checkpoint: dict[str, Any] | None

    def __repr__(self) -> str:
        return (f"ProvisioningRequest(event_id={self.event_id}, operation={self.operation.name}, "
                f"code={self.code!r}, permission_type={self.permission_type!r})")


def _attributes(operation: Operation, raw: Any) -> RequestAttributes:
    if isinstance(raw, str):
        try:
            raw = json.loads(raw) if raw.strip() else {}
        except json.JSONDecodeError as exc:
            raise InvalidRequest("InvalidRequest", f"attributes are not valid JSON ({exc.msg})") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise InvalidRequest("InvalidRequest", f"attributes must be a JSON object, not {type(raw).__name__}")
    named: dict[str, Any] = {}
    unknown = []
    for key, value in raw.items():
        field = ATTRIBUTE_NAMES.get(str(key).strip().lower())
        if field is None:
            unknown.append(str(key))
        elif field in named:
            raise InvalidRequest("InvalidRequest", f"attribute {_CAMEL[field]} is given twice")
        else:
            named[field] = value
    if unknown:
        raise InvalidRequest("UnsupportedAttribute", f"unknown attributes: {', '.join(sorted(unknown))}")
    allowed = ALLOWED_ATTRIBUTES.get(operation, set())
    refused = sorted(set(named) - allowed)
    if refused:
        reasons = "; ".join(_WHY_NOT[f] for f in refused if f in _WHY_NOT)
        raise InvalidRequest("UnsupportedAttribute",
                             f"{operation.name} does not take {', '.join(_CAMEL[f] for f in refused)}"
                             + (f" ({reasons})" if reasons else ""))
    try:
        return RequestAttributes(**named)
    except ValidationError as exc:
        problems = "; ".join(f"{_CAMEL.get(str(e['loc'][0]), e['loc'][0])}: {e['msg'].removeprefix('Value error, ')}"
                             for e in exc.errors())
        raise InvalidRequest("InvalidAttribute", problems) from None


def _role(value: Any, allowed: tuple[str, ...], what: str) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    for role in allowed:
        if str(value).strip().lower() == role.lower():
            return role
    raise InvalidRequest("InvalidRequest", f"{what} {value!r} is not one of {', '.join(allowed)}")


def validate_request(row: Mapping[str, Any]) -> ProvisioningRequest:
    """A row of igi.event_out (or the fields of one about to be enqueued) as a typed request, or `InvalidRequest`."""
    raw_op = row.get("operation")
    try:
        operation = Operation(parse_count(raw_op))
    except ValueError:
        known = ", ".join(f"{o.value} {o.name}" for o in Operation)
        raise InvalidRequest("UnsupportedOperation",
                             f"operation {raw_op!r} is not one ss-igi executes ({known})") from None
    code = row.get("code")
    if not isinstance(code, str) or not code.strip():
        raise InvalidRequest("InvalidRequest", "code (the account) is required")
    attributes = _attributes(operation, row.get("attributes"))
    has_password = bool(row.get("password"))
    if operation in (Operation.ACCOUNT_CREATE, Operation.ACCOUNT_PWDCHANGE):
        if not has_password:
            raise InvalidRequest("MissingAttribute", f"{operation.name} needs a password")
    elif has_password:
        raise InvalidRequest("InvalidRequest", f"{operation.name} takes no password")
    if operation == Operation.ACCOUNT_MODIFY and not attributes.given():
        raise InvalidRequest("NothingToModify", "the request names no attribute to modify")

    permission_type = row.get("permission_type")
    permission_id, permission_name = row.get("permission_id"), row.get("permission_name")
    folder_role, secret_role = row.get("folder_access_role"), row.get("secret_access_role")
    if operation in (Operation.PERMISSION_ADD, Operation.PERMISSION_REMOVE):
        permission_type = str(permission_type or "").strip().lower()
        if permission_type not in PERMISSION_TYPES:
            raise InvalidRequest("InvalidRequest",
                                 f"permission_type {row.get('permission_type')!r} is not one of "
                                 f"{', '.join(PERMISSION_TYPES)}")
        if permission_id is not None:
            try:
                permission_id = parse_count(permission_id)
            except ValueError as exc:
                raise InvalidRequest("InvalidRequest", f"permission_id: {exc}") from None
        permission_name = str(permission_name).strip() if permission_name is not None else None
        if permission_id is None and not permission_name:
            raise InvalidRequest("InvalidRequest", f"a {permission_type} request needs an id or a name")
        if permission_type == "folder":
            folder_role = _role(folder_role, FOLDER_ROLES, "folder_access_role")
            secret_role = _role(secret_role, FOLDER_SECRET_ROLES, "secret_access_role")
        elif permission_type == "secret":
            if _role(folder_role, FOLDER_ROLES, "folder_access_role") is not None:
                raise InvalidRequest("InvalidRequest", "a secret permission takes no folder_access_role")
            secret_role = _role(secret_role, SECRET_ROLES, "secret_access_role")
        elif folder_role or secret_role:
            raise InvalidRequest("InvalidRequest", "a group membership takes no role")
        if permission_type == "group" and attributes.break_inheritance is not None:
            raise InvalidRequest("UnsupportedAttribute", "a group membership takes no breakInheritance")
    else:
        given = [n for n in ("permission_type", "permission_id", "permission_name", "folder_access_role",
                             "secret_access_role") if row.get(n) not in (None, "")]
        if given:
            raise InvalidRequest("InvalidRequest", f"{operation.name} takes no {', '.join(given)}")
        permission_type = permission_id = permission_name = folder_role = secret_role = None

    encrypted = row.get("password_encrypted", True)
    return ProvisioningRequest(
        event_id=int(row.get("event_id") or 0), operation=operation, code=code.strip(),
        person_code=row.get("person_code"), attributes=attributes, permission_type=permission_type,
        permission_id=permission_id, permission_name=permission_name, folder_access_role=folder_role,
        secret_access_role=secret_role, password=row.get("password"),
        password_encrypted=True if encrypted is None else parse_flag(encrypted),
        attempts=int(row.get("attempts") or 0), checkpoint=_checkpoint(row.get("checkpoint")),
    )


def _checkpoint(value: Any) -> dict[str, Any] | None:
    if isinstance(value, str):
        value = json.loads(value)
    return dict(value) if isinstance(value, Mapping) else None


def api_attributes(attributes: RequestAttributes) -> dict[str, Any]:
    """The profile attributes as the API's user fields (displayName, emailAddress); first and last name make the
    display name when none is given, as the IBM adapter's profile did."""
    out: dict[str, Any] = {}
    if attributes.display_name is not None:
        out["displayName"] = attributes.display_name
    elif attributes.first_name or attributes.last_name:
        out["displayName"] = " ".join(p for p in (attributes.first_name, attributes.last_name) if p)
    if attributes.email_address is not None:
        out["emailAddress"] = attributes.email_address
    return out
