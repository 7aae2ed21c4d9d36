"""Offset paging over Secret Server's search endpoints that neither repeats nor misses a record.

Secret Server only offers offset paging (``skip``/``take``), and the data may change between two
page requests. Deleting a record *before* our offset shifts everything after it one place left, so
the record that sat at the offset slides into the page we already read and would be missed;
inserting one before the offset shifts right and would repeat a record. A changed ``total`` hints
at this but does not prove it either way (a deletion plus an insertion leaves ``total`` unchanged
and still shifts), so the iterator checks the one thing that matters:

1. Ask for records sorted by key (id) ascending and yield them in that order, remembering only the
   last key yielded (``last``). De-duplication is then ``key > last``: O(1) memory.
2. Overlap consecutive pages by one record: the next page starts at the *last record of the
   previous page* (``skip + len(records) - 1``, computed from what the server actually returned;
   the server may cap ``take``, so ``nextSkip`` is not trusted).
3. Invariant: a page read at offset ``skip > 0`` is safe iff its first key is ``<= last``. Then,
   the page being sorted, every record with a key above ``last`` sits at or after ``skip``, so no
   unseen record is behind us. We yield the page's keys above ``last`` and move on.
4. If the first key is above ``last`` (or the page is empty), records before the offset vanished
   and an unseen one may have slid behind us: step back (1, 2, 4, ... places, starting from the
   drop in ``total`` when there is one) and re-read until the invariant holds or ``skip`` is 0.
   Records re-read this way have keys ``<= last`` and are skipped, never yielded twice.

Result: every record that existed for the whole iteration is yielded exactly once, with the
values of the page it was read from; records created or deleted meanwhile may or may not appear
(a snapshot cannot promise more). Memory is one page. If the server ignores the sort on a
multi-page result the guarantee cannot hold, and `PagingError` says so instead of guessing.

Concurrent pages (``prefetch``): the argument above never needs the pages to be read one after another. A
page is a complete, sorted snapshot of its key range at the moment it was read, and ranges that chain (each
page starts at or before ``last``) leave no gap whatever order they were read in. So once the first page
gives the total and the server's real page length ``n``, the pages the walk will ask for next
(``skip = k * (n - 1)``) are fetched ahead, a bounded window at a time, and each is checked exactly as above
when its turn comes. When the walk wants a page that was not fetched ahead (a short page), the pages ahead
are dropped; once it sees the data change (a recovery, a new total) it goes on one page at a time, as pages
read ahead of a shift are wasted. Unchanged data costs the same requests as the sequential walk.
"""

from __future__ import annotations

import functools
import itertools
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future
from typing import Any

from connectors.secret_server.errors import PagingError
from connectors.secret_server.redaction import log
from connectors.secret_server.stats import ClientStats

GetJson = Callable[[str, list[tuple[str, Any]]], Any]
# Runs a call elsewhere (a thread pool's ``submit``): the page fetches ahead. Its calls never wait on it.
Prefetch = Callable[[Callable[[], Any]], "Future[Any]"]
# Told of every page read: (skip, the page's total or None, records it adds). Called from any fan-out thread.
PageObserver = Callable[[int, "int | None", int], None]


def _key_of(record: Any, key: str) -> int | None:
    if not isinstance(record, dict):
        return None
    value = record.get(key)
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    return None


def _as_query(filters: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """Booleans as ASP.NET expects them; list values repeat the key (``filter.x=a&filter.x=b``)."""
    out: list[tuple[str, Any]] = []
    for name, value in filters.items():
        if value is None:
            continue
        values = value if isinstance(value, list | tuple) else [value]
        for v in values:
            out.append((name, ("true" if v else "false") if isinstance(v, bool) else v))
    return out


def iter_search(
    get_json: GetJson,
    path: str,
    filters: Mapping[str, Any] | None = None,
    *,
    key: str = "id",
    sort_field: str | None = None,
    page_size: int = 1000,
    stats: ClientStats | None = None,
    max_recoveries: int = 200,
    prefetch: Prefetch | None = None,
    window: int = 8,
    on_page: PageObserver | None = None,
) -> Iterator[dict[str, Any]]:
    """Yield every record of a search endpoint once, in ascending ``key`` order (see module doc); with
    ``prefetch``, up to ``window`` of the next pages are fetched concurrently."""
    base = _as_query(filters or {})
    base += [
        ("take", page_size),
        ("sortBy[0].name", sort_field or key),
        ("sortBy[0].direction", "Asc"),
        ("sortBy[0].priority", 0),
    ]
    skip = 0
    checkable = False  # does the page at `skip` have to start at or before `last` (rules 2-3)?
    last: int | None = None
    step = 0
    recoveries = 0
    previous_total: int | None = None
    ahead: deque[tuple[int, Future[Any]]] = deque()  # pages fetched ahead: (skip, future), in skip order
    fetch_ahead = prefetch is not None  # until the data is seen changing: then one page at a time

    def fetch(at: int) -> Any:
        return get_json(path, [*base, ("skip", at)])

    def drop_ahead() -> None:
        while ahead:
            ahead.pop()[1].cancel()

    try:
        while True:
            if ahead and ahead[0][0] == skip:
                page = ahead.popleft()[1].result()
            else:
                drop_ahead()
                page = fetch(skip)
            if stats:
                stats.add("pages")
            if not isinstance(page, dict) or not isinstance(page.get("records"), list):
                raise PagingError(f"GET /api/v1{path}: the answer is not a search result (no 'records' list)")
            records: list[Any] = page["records"]
            total = page.get("total") if isinstance(page.get("total"), int) else None
            has_next = bool(page.get("hasNext")) or (total is not None and skip + len(records) < total)
            drop = 0
            if previous_total is not None and total is not None and total != previous_total:
                if stats:
                    stats.add("total_changes")
                log.debug("GET %s: total changed %s -> %s at skip=%s", path, previous_total, total, skip)
                drop = max(0, previous_total - total)
                fetch_ahead = False
            previous_total = total

            maybe_keys = [_key_of(r, key) for r in records]
            keys = [k for k in maybe_keys if k is not None]
            ordered = len(keys) == len(records) and all(a < b for a, b in itertools.pairwise(keys))
            if not ordered:
                if skip == 0 and not has_next:
                    # A single page is a consistent snapshot whatever its order; just drop repeats.
                    if on_page:
                        on_page(skip, total, len(records))
                    seen: set[Any] = set()
                    for record, k in zip(records, maybe_keys, strict=True):
                        marker = k if k is not None else id(record)
                        if marker not in seen:
                            seen.add(marker)
                            yield record
                    return
                raise PagingError(
                    f"GET /api/v1{path}: records are not sorted by {key!r} (or lack it), so paging could "
                    f"repeat or miss records; refusing to guess"
                )

            if checkable and skip > 0 and last is not None and (not keys or keys[0] > last):
                # Invariant broken: something before `skip` was deleted; step back and re-read.
                recoveries += 1
                if stats:
                    stats.add("page_recoveries")
                if recoveries > max_recoveries:
                    raise PagingError(f"GET /api/v1{path}: data kept shifting; gave up after {max_recoveries} re-reads")
                step = max(1, drop, step * 2)
                log.info("GET %s: page at skip=%s shifted (data changed); re-reading from skip=%s",
                         path, skip, max(0, skip - step))
                skip = max(0, skip - step)
                checkable = True
                fetch_ahead = False
                continue
            step = 0
            more = has_next and bool(records)
            # Overlap by one record so the next page can prove nothing slid behind us (rule 2). With a
            # one-record page an overlap would never advance, so step past it (no check possible).
            overlap = len(records) > 1
            next_skip = skip + (len(records) - 1 if overlap else len(records))
            if more and overlap and fetch_ahead and prefetch is not None and total is not None:
                # Before yielding: fetch ahead the pages the walk will want if nothing shifts.
                stride = len(records) - 1
                if ahead and ahead[0][0] != next_skip:
                    drop_ahead()
                following = ahead[-1][0] + stride if ahead else next_skip
                while len(ahead) < window and following + 1 < total:  # the page before it has records after it
                    ahead.append((following, prefetch(functools.partial(fetch, following))))
                    following += stride

            if on_page:
                on_page(skip, total, sum(1 for k in keys if last is None or k > last))
            for record, k in zip(records, keys, strict=True):
                if last is None or k > last:
                    last = k
                    yield record

            if not more:
                return
            checkable, skip = overlap, next_skip
    finally:
        drop_ahead()  # the caller stopped early, or the walk failed: no fetch left running
