"""Query-string binding and the paging envelope, as Secret Server's search endpoints do them.

Parameter names bind case-insensitively, with or without the `paging.` prefix the Go SDK sends
(`take`, `Take`, `paging.take`); list filters repeat their key. Without `take` Secret Server
answers 10 records; the simulator does the same, and clamps `take` to the server's cap.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

DEFAULT_TAKE = 10
SORT_DIRECTIONS = {"none": "None", "asc": "Asc", "desc": "Desc"}


class BadRequest(Exception):
    """A request the API rejects with 400 and its error body."""

    def __init__(self, message: str, error_code: str = "API_GenericException",
                 detail: str | None = None, model_state: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.error_code = error_code
        self.detail = detail
        self.model_state = model_state

    def body(self) -> dict[str, Any]:
        """The documented 400 body."""
        return {"message": self.message, "messageDetail": self.detail or self.message,
                "errorCode": self.error_code, "modelState": self.model_state}


def normalize_query(query: dict[str, list[str]]) -> dict[str, list[str]]:
    """Lower-case names and drop a leading `paging.`: `Paging.Filter.FolderId` -> `filter.folderid`."""
    out: dict[str, list[str]] = {}
    for name, values in query.items():
        key = name.strip().lower()
        if key.startswith("paging."):
            key = key[len("paging."):]
        out.setdefault(key, []).extend(values)
    return out


def _invalid(name: str, value: str, kind: str) -> BadRequest:
    return BadRequest("The request is invalid.", "API_InvalidRequest",
                      f"The value '{value}' is not valid for {name}.",
                      {name: [f"The value '{value}' is not a valid {kind}."]})


def parse_int(name: str, value: str) -> int:
    """An integer query parameter (400 when malformed)."""
    try:
        return int(value.strip())
    except ValueError:
        raise _invalid(name, value, "integer") from None


def parse_bool(name: str, value: str) -> bool:
    """A boolean query parameter: true/false/1/0, empty as false (400 otherwise)."""
    lowered = value.strip().lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0", ""):
        return False
    raise _invalid(name, value, "boolean")


@dataclass
class Filters:
    """The `filter.*` parameters of one request (names lower-cased, without the prefix)."""

    values: dict[str, list[str]] = field(default_factory=dict)

    def text(self, name: str) -> str | None:
        """The last value of a filter, or None."""
        found = self.values.get(name.lower())
        return found[-1] if found else None

    def texts(self, name: str) -> list[str]:
        """Every non-empty value of a repeated filter."""
        return [v for v in self.values.get(name.lower(), []) if v != ""]

    def int(self, name: str) -> int | None:
        """An integer filter, or None when absent or empty."""
        raw = self.text(name)
        return None if raw is None or raw == "" else parse_int(f"filter.{name}", raw)

    def bool(self, name: str, default: bool) -> bool:
        """A boolean filter, the default when absent."""
        raw = self.text(name)
        return default if raw is None else parse_bool(f"filter.{name}", raw)

    def key(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """The filters as a hashable cache key."""
        return tuple(sorted((k, tuple(v)) for k, v in self.values.items()))


@dataclass
class Paging:
    """One search request's paging: skip, take, sort and filters."""

    skip: int
    take: int
    sort: list[dict[str, Any]]  # [{name, direction, priority}] as echoed in `sortBy`
    filters: Filters

    def sort_key(self) -> tuple[tuple[str, str], ...]:
        """The sort as a hashable cache key."""
        return tuple((str(s["name"]).lower(), s["direction"]) for s in self.sort)


def parse_paging(query: dict[str, list[str]], page_cap: int) -> Paging:
    """Bind skip, take, sortBy[n].* and filter.* from a normalized query."""
    skip_raw = query.get("skip", ["0"])[-1]
    skip = max(0, parse_int("skip", skip_raw)) if skip_raw != "" else 0
    take_raw = query.get("take", [""])[-1]
    take = parse_int("take", take_raw) if take_raw != "" else DEFAULT_TAKE
    if take <= 0:
        take = DEFAULT_TAKE
    take = min(take, page_cap)
    sorts: dict[int, dict[str, Any]] = {}
    filters: dict[str, list[str]] = {}
    for key, values in query.items():
        if key.startswith("filter."):
            filters[key[len("filter."):]] = values
        elif key.startswith("sortby[") and "]." in key:
            index_text, _, attr = key[len("sortby["):].partition("].")
            index = parse_int(key, index_text)
            entry = sorts.setdefault(index, {"name": "", "direction": "None", "priority": index})
            value = values[-1]
            if attr == "name":
                entry["name"] = value
            elif attr == "direction":
                direction = SORT_DIRECTIONS.get(value.strip().lower())
                if direction is None:
                    raise _invalid(key, value, "sort direction (None, Asc, Desc)")
                entry["direction"] = direction
            elif attr == "priority":
                entry["priority"] = parse_int(key, value)
    sort = sorted((s for s in sorts.values() if s["name"]), key=lambda s: s["priority"])
    return Paging(skip, take, sort, Filters(filters))


def envelope(records: list[Any], total: int, paging: Paging) -> dict[str, Any]:
    """The documented search envelope around one page of records."""
    skip, take = paging.skip, paging.take
    has_next = skip + take < total
    return {
        "batchCount": math.ceil(total / take) if take else 0,
        "currentPage": skip // take + 1 if take else 1,
        "hasNext": has_next,
        "hasPrev": skip > 0,
        "nextSkip": skip + take if has_next else skip,
        "pageCount": math.ceil(total / take) if take else 0,
        "prevSkip": max(0, skip - take),
        "records": records,
        "severity": "None",
        "skip": skip,
        "sortBy": paging.sort,
        "success": True,
        "take": take,
        "total": total,
    }


class SearchCache:
    """Sorted search results by (endpoint, filters, sort), valid for one version of the organization, so that
    every page of a long list is a slice, not a new sort of the whole list. Only results longer than the page
    asked for are kept: a per-object list (one group's members, one secret's permissions) is cheap to rebuild,
    and caching the thousands of them a fan-out asks for would evict the long lists a concurrent client is
    still paging through (each of its pages would then sort 200,000 secrets again)."""

    def __init__(self, entries: int = 64) -> None:
        self.entries = entries
        self._items: OrderedDict[tuple[Any, ...], tuple[int, list[Any]]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...], version: int) -> list[Any] | None:
        """The sorted results for a key, if cached for this version."""
        with self._lock:
            cached = self._items.get(key)
            if cached is None or cached[0] != version:
                return None
            self._items.move_to_end(key)
            return cached[1]

    def put(self, key: tuple[Any, ...], version: int, items: list[Any], take: int) -> None:
        """Keep sorted results for a version, if they are longer than one page."""
        if len(items) <= take:
            return
        with self._lock:
            self._items[key] = (version, items)
            self._items.move_to_end(key)
            while len(self._items) > self.entries:
                self._items.popitem(last=False)
