"""What every group of endpoints shares: the request, the search machinery, lookups that answer
Secret Server's 400 ``API_AccessDenied`` for an unknown id, and the lenient field readers that the
endpoints outside the project's writes (folders, groups, secrets) still use."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from simulator.binding import parse_body
from simulator.paging import BadRequest, Filters, Paging, SearchCache, envelope, parse_bool, parse_paging
from simulator.records import ROOT_FOLDER_ID
from simulator.state import Organization

Payload = Any
Result = tuple[int, Payload]
Handler = Callable[["Request"], Result]


@dataclass
class Request:
    method: str
    path: str  # below the prefix, e.g. /api/v1/users/3
    query: dict[str, list[str]]  # normalized (lower-case names, no paging. prefix)
    body: bytes
    params: dict[str, str]  # from the route pattern

    def json(self) -> dict[str, Any]:
        """The body as a JSON object (400 when missing or malformed)."""
        return parse_body(self.body)

    def flag(self, name: str, default: bool = False) -> bool:
        values = self.query.get(name.lower())
        return parse_bool(name, values[-1]) if values else default

    def id(self, name: str = "id") -> int:
        return int(self.params[name])


def access_denied() -> BadRequest:
    return BadRequest("Access Denied", "API_AccessDenied")


def int_field(body: dict[str, Any], name: str, required: bool = False) -> int | None:
    value = body.get(name)
    if value is None or value == "":
        if required:
            raise BadRequest("The request is invalid.", "API_InvalidRequest", f"{name} is required.",
                             {name: [f"The {name} field is required."]})
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise BadRequest("The request is invalid.", "API_InvalidRequest", f"{name} must be an integer.")
    try:
        return int(value)
    except ValueError:
        raise BadRequest("The request is invalid.", "API_InvalidRequest", f"{name} must be an integer.") from None


def str_field(body: dict[str, Any], name: str, required: bool = False) -> str | None:
    value = body.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise BadRequest("The request is invalid.", "API_InvalidRequest", f"{name} is required.",
                             {name: [f"The {name} field is required."]})
        return None
    if not isinstance(value, str):
        raise BadRequest("The request is invalid.", "API_InvalidRequest", f"{name} must be a string.")
    return value


def bool_field(body: dict[str, Any], name: str, default: bool) -> bool:
    value = body.get(name, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise BadRequest("The request is invalid.", "API_InvalidRequest", f"{name} must be true or false.")
    return value


def contains(needle: str | None, *haystacks: str | None) -> bool:
    if not needle:
        return True
    lowered = needle.lower()
    return any(h is not None and lowered in h.lower() for h in haystacks)



class ApiBase:
    """State and helpers shared by the endpoint mixins."""

    def __init__(self, org: Organization, page_cap: int = 1000) -> None:
        self.org = org
        self.page_cap = page_cap
        self._cache = SearchCache()

    # ------------------------------------------------------------------ search machinery
    def _page(self, req: Request, cache_key: tuple[Any, ...],
              candidates: Callable[[Filters], list[Any]], fn: Callable[[Any], dict[str, Any]]) -> Result:
        paging = parse_paging(req.query, self.page_cap)
        key = (*cache_key, paging.filters.key(), paging.sort_key())
        org = self.org
        with org.lock:
            version = org.version
            items = self._cache.get(key, version)
            if items is None:
                items = self._sorted(candidates(paging.filters), paging, fn)
                self._cache.put(key, version, items, paging.take)
            page = [fn(item) for item in items[paging.skip: paging.skip + paging.take]]
        return 200, envelope(page, len(items), paging)

    @staticmethod
    def _sorted(items: list[Any], paging: Paging, fn: Callable[[Any], dict[str, Any]]) -> list[Any]:
        if not paging.sort:
            return items
        rendered = [(fn(item), item) for item in items]
        for spec in reversed(paging.sort):  # stable sorts, lowest priority applied last... first
            if spec["direction"] == "None":
                continue
            wanted = str(spec["name"]).lower()
            field = next((k for k in rendered[0][0] if k.lower() == wanted), None) if rendered else None
            if field is None:
                continue

            def sort_value(pair: tuple[dict[str, Any], Any], field: str = field) -> tuple[int, Any]:
                value = pair[0][field]
                if value is None:
                    return (0, "")
                return (1, value.lower() if isinstance(value, str) else value)

            rendered.sort(key=sort_value, reverse=spec["direction"] == "Desc")
        return [item for _, item in rendered]

    def _r(self, fn: Callable[..., dict[str, Any]]) -> Callable[[Any], dict[str, Any]]:
        org = self.org
        return lambda item: fn(org, item)

    # ------------------------------------------------------------------ lookups
    def _get_user(self, user_id: int) -> Any:
        user = self.org.user_map.get(user_id)
        if user is None:
            raise access_denied()
        return user


    def _get_group(self, group_id: int) -> Any:
        group = self.org.group_map.get(group_id)
        if group is None or group.personal_user_id is not None:
            raise access_denied()
        return group


    def _get_folder(self, folder_id: int) -> Any:
        folder = self.org.folder_map.get(folder_id)
        if folder is None:
            raise access_denied()
        return folder


    def _get_secret(self, secret_id: int, include_inactive: bool) -> Any:
        secret = self.org.secret_map.get(secret_id)
        if secret is None or (not secret.active and not include_inactive):
            raise access_denied()
        return secret


    def _secret_by_path(self, path: str) -> int:
        folder_path, _, name = path.rstrip("\\").rpartition("\\")
        folder_id = self._folder_by_path(folder_path) if folder_path else ROOT_FOLDER_ID
        for secret_id in self.org.secrets_by_folder.get(folder_id, ()):
            if self.org.secret_map[secret_id].name.lower() == name.lower():
                return secret_id
        raise access_denied()

    def _folder_by_path(self, path: str) -> int:
        wanted = "\\" + path.strip("\\").lower()
        for folder in self.org.folder_map.values():
            if folder.path.lower() == wanted:
                return folder.id
        raise access_denied()

