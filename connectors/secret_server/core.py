"""The client's plumbing: construction, the request/search primitives, and the fan-out pool."""

from __future__ import annotations

import re
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, TypeVar

from connectors.secret_server.auth import Credentials, TokenManager
from connectors.secret_server.errors import AuthenticationError, FanOutError
from connectors.secret_server.paging import PageObserver, iter_search
from connectors.secret_server.stats import ClientStats
from connectors.secret_server.transport import Params, Transport

T = TypeVar("T")
R = TypeVar("R")

# GET /secrets/{id} returns the secret's field values (passwords). This connector must never ask.
_SECRET_VALUES_PATH = re.compile(r"^/secrets/-?\d+/?$")


@dataclass(frozen=True)
class Search:
    """One declaration per searchable entity: where it lives, its key, and its fixed filters."""

    path: str  # relative to /api/v1; may hold {placeholders}
    key: str = "id"
    filters: tuple[tuple[str, Any], ...] = ()


class ClientCore:
    """Construction, lifecycle and the primitives that reads and writes build on (see `SecretServerClient`)."""

    def __init__(
        self,
        base_url: str,
        username: str,
        password: str,
        *,
        domain: str | None = None,
        otp: str | None = None,
        verify_tls: bool = True,
        ca_bundle: str | None = None,
        max_workers: int = 8,
        page_size: int = 1000,
        connect_timeout: float = 5.0,
        read_timeout: float = 60.0,
        max_attempts: int = 6,
        max_retry_seconds: float = 120.0,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
    ) -> None:
        if not base_url or not base_url.lower().startswith(("http://", "https://")):
            raise ValueError("base_url must be an http(s) URL such as https://host/SecretServer")
        self.base_url = base_url.rstrip("/")
        self.max_workers = max(1, max_workers)
        self.page_size = max(1, page_size)
        self._transport = Transport(
            self.base_url,
            verify=ca_bundle if (verify_tls and ca_bundle) else verify_tls,
            pool_size=2 * self.max_workers + 2,  # fan-out and page threads, each its own connection
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            max_attempts=max_attempts,
            max_retry_seconds=max_retry_seconds,
            backoff_base=backoff_base,
            backoff_cap=backoff_cap,
        )
        self._auth = TokenManager(self._transport, Credentials(username, password, domain, otp))
        self._transport.auth = self._auth
        self._executor: ThreadPoolExecutor | None = None
        self._page_executor: ThreadPoolExecutor | None = None  # pages fetched ahead: leaf calls, never wait
        self._executor_lock = threading.Lock()
        self._closing = False  # close() is waiting for the pools: no new pool, pages are fetched in the caller
        # Told of every search page this client reads (a progress display); see paging.PageObserver.
        self.page_observer: PageObserver | None = None

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the client's thread pools and close its connections."""
        # Wait for the pools outside the lock: a fan-out call still paging (after a fan-out stopped early)
        # takes the lock in `_prefetch`, and meanwhile fetches its pages itself (`_closing`).
        with self._executor_lock:
            pools = (self._executor, self._page_executor)
            self._executor = self._page_executor = None
            self._closing = True
        try:
            for executor in pools:
                if executor is not None:
                    executor.shutdown(wait=True, cancel_futures=True)
        finally:
            with self._executor_lock:
                self._closing = False
        self._transport.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.base_url!r})"

    def login(self) -> None:
        """Log in now, if no valid token is held: a refused login raises `AuthenticationError` before any work."""
        self._auth.token()

    def within(self, seconds_left: Callable[[], float]) -> AbstractContextManager[None]:
        """Bound this thread's calls by the caller's own time budget: once ``seconds_left()`` is spent no
        request is sent (`OutOfTime`), and no retry waits past it (`TransientError`)."""
        return self._transport.within(seconds_left)

    @property
    def stats(self) -> ClientStats:
        """Counters: ``requests``, ``retries``, ``logins``, ``refreshes``, ..."""
        return self._transport.stats

    # ------------------------------------------------------------------ primitives
    def _request(self, method: str, path: str, *, params: Params | None = None, json: Any = None) -> Any:
        if method.upper() == "GET" and _SECRET_VALUES_PATH.match(path):
            raise ValueError("refusing GET /secrets/{id}: it returns secret values; use get_secret_summary")
        return self._transport.request(method, path, params=params, json=json)

    def _search(self, search: Search, filters: Mapping[str, Any] | None = None, **path_args: Any) -> Iterator[Any]:
        path = search.path.format(**path_args)
        return iter_search(
            lambda p, q: self._request("GET", p, params=q),
            path,
            {**dict(search.filters), **(filters or {})},
            key=search.key,
            page_size=self.page_size,
            stats=self.stats,
            prefetch=self._prefetch,
            window=self.max_workers,
            on_page=self.page_observer,
        )

    def _prefetch(self, call: Callable[[], R]) -> Future[R]:
        """Run ``call`` on the page pool, under the calling thread's time budget (`within`), if any."""
        with self._executor_lock:
            closing = self._closing
            if not closing and self._page_executor is None:
                self._page_executor = ThreadPoolExecutor(self.max_workers, thread_name_prefix="ss-pages")
            pool = self._page_executor
        if closing or pool is None:
            return _run_now(call)
        budget = self._transport.budget()
        if budget is None:
            return pool.submit(call)

        def bounded() -> R:
            with self._transport.within(budget):
                return call()

        return pool.submit(bounded)

    # ------------------------------------------------------------------ fan-out
    def _pool(self) -> ThreadPoolExecutor:
        with self._executor_lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self.max_workers, thread_name_prefix="ss-fanout")
            return self._executor

    def fan_out(self, func: Callable[[T], R], items: Iterable[T]) -> Iterator[tuple[T, R]]:
        """Run ``func(item)`` for every item on the client's bounded thread pool (sharing its
        session and token), yielding ``(item, result)`` in input order.

        Every item is attempted; failures do not stop the others. After the last success has been
        yielded, `FanOutError` is raised if any call failed, carrying each failed item with its
        exception. A refused login is the exception: `AuthenticationError` is raised at once (every
        other call would be refused too). If ``func`` returns an iterator (e.g.
        ``client.iter_group_members``), it is drained into a list inside the worker, so the HTTP calls
        really run in parallel. At most ``2 * max_workers`` calls are queued at a time, so memory stays
        bounded for long inputs.
        Do not call ``fan_out`` from inside ``func`` (the pool is bounded and could starve).
        """
        pool = self._pool()
        window = 2 * self.max_workers

        def call(item: T) -> R:
            result = func(item)
            if isinstance(result, Iterator):
                return list(result)  # type: ignore[return-value]
            return result

        source = iter(items)
        pending: deque[tuple[T, Future[R]]] = deque()
        failures: list[tuple[T, BaseException]] = []
        succeeded = 0

        def refill() -> None:
            while len(pending) < window:
                try:
                    item = next(source)
                except StopIteration:
                    return
                pending.append((item, pool.submit(call, item)))

        try:
            refill()
            while pending:
                item, future = pending.popleft()
                try:
                    result = future.result()
                except AuthenticationError:
                    raise
                except Exception as exc:
                    failures.append((item, exc))
                    refill()
                    continue
                refill()
                succeeded += 1
                yield item, result
        finally:
            for _, future in pending:  # the caller stopped early: don't leave work running
                future.cancel()
        if failures:
            raise FanOutError(failures, succeeded)


def _run_now(call: Callable[[], R]) -> Future[R]:
    """``call`` run in the calling thread, as a completed future."""
    future: Future[R] = Future()
    try:
        future.set_result(call())
    except BaseException as exc:  # the future carries it, as a pool's would
        future.set_exception(exc)
    return future
