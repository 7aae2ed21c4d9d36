"""Request-body binding for the write endpoints: the reference's request models, bound strictly.

Each model lists the fields of the official collection's example body for that endpoint (Secret
Server 10.9.35) with their JSON types; `required` are the fields the collection lists first, out of
alphabetical order (the swagger generator puts a model's required properties first: `userName,
password, displayName` for POST /users, `id, folderId, folderAccessRoleName` for PUT
/folder-permissions/{id}, ...). `bind` turns a raw body into a dict with the model's spelling, the
way ASP.NET's JSON formatter would, and answers 400 for what model binding rejects. Where the
simulator is stricter than ASP.NET, simulator/api.py's docstring says so.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Union
from urllib.parse import parse_qs

from simulator.paging import BadRequest

INT, STR, BOOL, INT_LIST = "integer", "string", "boolean", "integer[]"
INT32 = (-(2**31), 2**31 - 1)

FieldType = Union[str, "Model"]


@dataclass(frozen=True)
class Model:
    """A request model: field name (API spelling) -> JSON type or nested model."""

    name: str
    fields: Mapping[str, FieldType]
    required: tuple[str, ...] = ()
    _by_lower: dict[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_lower", {name.lower(): name for name in self.fields})

    def spelling(self, name: str) -> str | None:
        """The model's spelling of a property name (names bind case-insensitively), or None."""
        return self._by_lower.get(name.lower())


def dirty(kind: str) -> Model:
    """PATCH's wrapper: ``{"dirty": true, "value": ...}``."""
    return Model(f"Dirty<{kind}>", {"dirty": BOOL, "value": kind}, required=("dirty",))


def invalid(detail: str, path: str, problem: str) -> BadRequest:
    """The 400 that model binding produces: one modelState entry for the offending field."""
    return BadRequest("The request is invalid.", "API_InvalidRequest", detail, {path: [problem]})


def parse_body(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object, or the 400 that a missing or malformed body gets."""
    if not raw.strip():
        raise invalid("A request body is required.", "args", "The args field is required.")
    try:
        value = json.loads(raw)
    except ValueError:
        raise invalid("The body is not valid JSON.", "args", "The body could not be parsed as JSON.") from None
    if not isinstance(value, dict):
        raise invalid("The body must be a JSON object.", "args", f"Expected an object, got {type_name(value)}.")
    return value


def bind(raw: bytes | dict[str, Any], model: Model, prefix: str = "") -> dict[str, Any]:
    """Bind a body to a model: model spellings, checked types, required fields present; unknown
    properties are refused. Absent fields are absent from the result; explicit nulls stay None."""
    body = parse_body(raw) if isinstance(raw, bytes | bytearray) else raw
    out: dict[str, Any] = {}
    for given, value in body.items():
        name = model.spelling(given)
        path = f"{prefix}{given}"
        if name is None:
            raise invalid(f"{path} is not a property of {model.name}.", path,
                          f"Unknown property; {model.name} has {', '.join(model.fields)}.")
        if name in out:
            raise invalid(f"{path} is given twice.", path, "The property is given twice (names ignore case).")
        out[name] = _check(value, model.fields[name], f"{prefix}{name}")
    for name in model.required:
        value = out.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            raise invalid(f"{prefix}{name} is required.", f"{prefix}{name}", f"The {name} field is required.")
    return out


def _check(value: Any, kind: FieldType, path: str) -> Any:
    if value is None:
        return None
    if isinstance(kind, Model):
        if not isinstance(value, dict):
            raise invalid(f"{path} must be an object.", path, f"Expected an object, got {type_name(value)}.")
        return bind(value, kind, prefix=f"{path}.")
    if kind == INT_LIST:
        if not isinstance(value, list):
            raise invalid(f"{path} must be a list of integers.", path, f"Expected an array, got {type_name(value)}.")
        return [_check(item, INT, f"{path}[]") for item in value]
    if type_name(value) != kind:
        raise invalid(f"{path} must be a JSON {kind}.", path,
                      f"Could not convert the {type_name(value)} {json.dumps(value)[:40]} to {kind}.")
    if kind == INT and not INT32[0] <= value <= INT32[1]:
        raise invalid(f"{path} is out of range.", path, "The value is outside the range of a 32-bit integer.")
    return value


def type_name(value: Any) -> str:
    """The JSON type of a decoded value: string, integer, number, boolean, object, array, null."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, int):
        return INT
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return STR
    if isinstance(value, list):
        return "array"
    return "object"


def body_shape(raw: bytes, content_type: str) -> dict[str, str] | None:
    """Field paths and JSON types of a request body, never its values (passwords travel in bodies).

    ``{"data.userId": "integer", "data.password": "string"}``; a form body gives its keys as
    strings; an unreadable body ``{"$": "unreadable"}``; no body None.
    """
    if not raw.strip():
        return None
    if "application/x-www-form-urlencoded" in content_type.lower():
        return {key: STR for key in parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)}
    try:
        value = json.loads(raw)
    except ValueError:
        return {"$": "unreadable"}
    shape: dict[str, str] = {}
    _shape(value, "", shape)
    return shape


def _shape(value: Any, path: str, out: dict[str, str]) -> None:
    if isinstance(value, dict):
        if path:
            out[path] = "object"
        for key, item in value.items():
            _shape(item, f"{path}.{key}" if path else str(key), out)
    elif isinstance(value, list):
        out[path or "$"] = "array"
        for item in value:
            _shape(item, f"{path}[]", out)
    else:
        out[path or "$"] = type_name(value)


# ---------------------------------------------------------------------- the reference's models
_USER_SETTINGS: dict[str, FieldType] = {
    "dateOptionId": INT, "displayName": STR, "duoTwoFactor": BOOL, "emailAddress": STR, "enabled": BOOL,
    "fido2TwoFactor": BOOL, "isApplicationAccount": BOOL, "isLockedOut": BOOL, "loginFailures": INT,
    "oathTwoFactor": BOOL, "password": STR, "radiusTwoFactor": BOOL, "radiusUserName": STR, "timeOptionId": INT,
    "twoFactor": BOOL, "unixAuthenticationMethod": STR,
}

CREATE_USER = Model("UserCreateArgs", {
    "userName": STR, "password": STR, "displayName": STR, "adGuid": STR, "domainId": INT, "duoTwoFactor": BOOL,
    "emailAddress": STR, "enabled": BOOL, "fido2TwoFactor": BOOL, "isApplicationAccount": BOOL,
    "oathTwoFactor": BOOL, "radiusTwoFactor": BOOL, "radiusUserName": STR, "twoFactor": BOOL,
    "unixAuthenticationMethod": STR,
}, required=("userName", "password", "displayName"))

UPDATE_USER = Model("UserUpdateArgs", {**_USER_SETTINGS, "id": INT, "groupOwners": INT_LIST,
                                       "isGroupOwnerUpdate": BOOL})

PATCH_USER = Model("UserPatchArgs", {**{name: dirty(kind) for name, kind in _USER_SETTINGS.items()
                                        if isinstance(kind, str)},
                                     "id": INT, "groupOwners": INT_LIST, "isGroupOwnerUpdate": BOOL})

PASSWORD_RESET = Model("UserPasswordResetArgs", {
    "data": Model("UserPasswordResetModel", {"userId": INT, "password": STR}, required=("userId", "password")),
}, required=("data",))

ADD_GROUP_USER = Model("GroupUserCreateArgs", {"userId": INT}, required=("userId",))

CREATE_FOLDER_PERMISSION = Model("FolderPermissionCreateArgs", {
    "breakInheritance": BOOL, "folderAccessRoleName": STR, "folderId": INT, "groupId": INT,
    "secretAccessRoleName": STR, "userId": INT,
}, required=("folderId", "folderAccessRoleName", "secretAccessRoleName"))

UPDATE_FOLDER_PERMISSION = Model("FolderPermissionUpdateArgs", {
    "id": INT, "folderId": INT, "folderAccessRoleName": STR, "breakInheritance": BOOL, "secretAccessRoleName": STR,
}, required=("id", "folderId", "folderAccessRoleName"))

CREATE_SECRET_PERMISSION = Model("SecretPermissionCreateArgs", {
    "domainName": STR, "groupId": INT, "groupName": STR, "secretAccessRoleName": STR, "secretId": INT,
    "userId": INT, "userName": STR,
}, required=("secretId", "secretAccessRoleName"))

UPDATE_SECRET_PERMISSION = Model("SecretPermissionUpdateArgs", {
    "id": INT, "secretId": INT, "secretAccessRoleName": STR,
}, required=("id", "secretId", "secretAccessRoleName"))

# The write endpoints the project calls, by the collection's name for them (tests compare these
# with the collection, and the connector's bodies with both).
MODELS: dict[str, Model] = {
    "POST users": CREATE_USER,
    "PUT users/:id": UPDATE_USER,
    "PATCH users/:id": PATCH_USER,
    "POST users/:userId/password-reset": PASSWORD_RESET,
    "POST groups/:id/users": ADD_GROUP_USER,
    "POST folder-permissions": CREATE_FOLDER_PERMISSION,
    "PUT folder-permissions/:id": UPDATE_FOLDER_PERMISSION,
    "POST secret-permissions": CREATE_SECRET_PERMISSION,
    "PUT secret-permissions/:id": UPDATE_SECRET_PERMISSION,
}
