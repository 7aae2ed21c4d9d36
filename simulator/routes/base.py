"""What every resource's endpoints share: the request, the route type, the search machinery, and
lookups that answer Secret Server's 400 ``API_AccessDenied`` for an unknown id."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from simulator.binding import parse_body
from simulator.paging import BadRequest, Filters, Paging, SearchCache, envelope, parse_bool, parse_paging
from simulator.records import Folder, Group, Secret, User
from simulator.state import Organization

T = TypeVar("T")
Payload = Any
Result = tuple[int, Payload]
Handler = Callable[["Request"], Result]
# (method, path pattern below the prefix with {name} for an integer, handler, searched entity or None);
# the entity names what fault injection changes between pages and which calls fail on purpose.
Route = tuple[str, str, Handler, str | None]
V1 = "/api/v1"


@dataclass
class Request:
    """One API call as the handlers see it."""

    method: str
    path: str  # below the prefix, e.g. /api/v1/users/3
    query: dict[str, list[str]]  # normalized (lower-case names, no paging. prefix)
    body: bytes
    params: dict[str, str]  # from the route pattern

    def json(self) -> dict[str, Any]:
        """The body as a JSON object (400 when missing or malformed)."""
        return parse_body(self.body)

    def flag(self, name: str, default: bool = False) -> bool:
        """A boolean query parameter (400 when malformed)."""
        values = self.query.get(name.lower())
        return parse_bool(name, values[-1]) if values else default

    def id(self, name: str = "id") -> int:
        """An integer taken from the path, `id` unless named."""
        return int(self.params[name])

    def id_or_path(self, path_parameter: str, by_path: Callable[[str], int]) -> int:
        """The id in the path, or for id 0 the object a path parameter names (``/folders/0?folderPath=``)."""
        object_id = self.id()
        path = (self.query.get(path_parameter.lower()) or [""])[-1]
        return by_path(path) if object_id == 0 and path else object_id


def access_denied() -> BadRequest:
    """Secret Server's answer for an id that does not exist (it does not tell "missing" from "not yours")."""
    return BadRequest("Access Denied", "API_AccessDenied")


def existing(record: T | None) -> T:
    """The record, or the 400 ``API_AccessDenied`` that an unknown id gets."""
    if record is None:
        raise access_denied()
    return record


def contains(needle: str | None, *haystacks: str | None) -> bool:
    """Secret Server's `searchText`: a case-insensitive substring of any field; no text matches all."""
    if not needle:
        return True
    lowered = needle.lower()
    return any(h is not None and lowered in h.lower() for h in haystacks)


class Pager:
    """Answers search endpoints: filters, sorts and slices one page, caching sorted results per version."""

    def __init__(self, org: Organization, page_cap: int = 1000) -> None:
        self.org = org
        self.page_cap = page_cap
        self._cache = SearchCache()

    def page(self, req: Request, cache_key: tuple[Any, ...], candidates: Callable[[Filters], list[Any]],
             shape: Callable[[Any], dict[str, Any]]) -> Result:
        """The envelope around the page `req` asks for of `candidates`, each record as `shape` renders it."""
        paging = parse_paging(req.query, self.page_cap)
        key = (*cache_key, paging.filters.key(), paging.sort_key())
        org = self.org
        with org.lock:
            version = org.version
            items = self._cache.get(key, version)
            if items is None:
                items = _sorted(candidates(paging.filters), paging, shape)
                self._cache.put(key, version, items, paging.take)
            page = [shape(item) for item in items[paging.skip: paging.skip + paging.take]]
        return 200, envelope(page, len(items), paging)


def _sorted(items: list[Any], paging: Paging, shape: Callable[[Any], dict[str, Any]]) -> list[Any]:
    if not paging.sort:
        return items
    rendered = [(shape(item), item) for item in items]
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


class Resource:
    """The endpoints of one resource over an organization; subclasses list theirs in `routes()`."""

    def __init__(self, org: Organization, pager: Pager) -> None:
        self.org = org
        self.pager = pager

    def routes(self) -> list[Route]:
        """This resource's routes."""
        raise NotImplementedError

    # ------------------------------------------------------------------ lookups (400 API_AccessDenied if unknown)
    def _get_user(self, user_id: int) -> User:
        return existing(self.org.user_map.get(user_id))

    def _get_group(self, group_id: int) -> Group:
        group = self.org.group_map.get(group_id)
        return existing(None if group is None or group.personal_user_id is not None else group)

    def _get_folder(self, folder_id: int) -> Folder:
        return existing(self.org.folder_map.get(folder_id))

    def _get_secret(self, secret_id: int, include_inactive: bool) -> Secret:
        secret = self.org.secret_map.get(secret_id)
        return existing(None if secret is None or (not secret.active and not include_inactive) else secret)

    def _folder_by_path(self, path: str) -> int:
        wanted = "\\" + path.strip("\\").lower()
        return existing(next((f.id for f in self.org.folder_map.values() if f.path.lower() == wanted), None))

