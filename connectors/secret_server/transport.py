"""HTTP: one pool of keep-alive connections (urllib3), retries with backoff, JSON-or-error, token handling.

Everything that touches the network goes through `Transport.request`; callers get parsed JSON or a
typed error. The policy:

- 429, 502, 503, 504, connection errors, timeouts and 200s whose body is not JSON are transient:
  retried with exponential backoff and jitter (or after ``Retry-After``, which is honoured exactly
  as a minimum), bounded by ``max_attempts`` and by ``max_retry_seconds`` of wall time.
- 401/403 mean the token was refused: renew it (refresh first, then a password login) and resend;
  tokens still refused after several renewals (fresh logins included) raise `AuthenticationError`.
- A 500 on a GET is retried like the above (reads are idempotent, and Secret Server's 500s include
  passing database trouble); on a write it is not, since the write may have happened: `ApiError`.
- Any other non-2xx raises `ApiError` with the server's ``errorCode`` and ``message``.
- A caller may bound its calls by a time budget of its own (`Transport.within`, e.g. a provisioning claim's
  lease): no attempt is sent once the budget is spent (`OutOfTime`), and no retry waits past it (the call
  gives up with `TransientError`, carrying the server's ``Retry-After``).

Calls go straight to urllib3 (what `requests` runs on), and bodies are decoded with orjson: `requests`' own
layer cost about 150 microseconds of CPU per call, as much as the rest of the call (bench/: 31,000 calls at
scale l). Proxies and the CA bundle come from the environment as `requests` reads them, once per client.
"""

from __future__ import annotations

import email.utils
import json as jsonlib
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Protocol
from urllib.parse import urlencode

import orjson
import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    LocationParseError,
    MaxRetryError,
    NewConnectionError,
    ProxyError,
    ReadTimeoutError,
    SSLError,
)

from connectors.secret_server.connections import pool_manager
from connectors.secret_server.errors import (
    ApiError,
    AuthenticationError,
    OutOfTime,
    SecretServerError,
    TlsError,
    TransientError,
)
from connectors.secret_server.redaction import log
from connectors.secret_server.stats import ClientStats

RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})
AUTH_FAILURE_STATUSES = frozenset({401, 403})
MAX_AUTH_RENEWALS = 6  # token renewals for one request before AuthenticationError

Params = Mapping[str, Any] | list[tuple[str, Any]]


class TokenSource(Protocol):
    """Where authenticated calls get their bearer token (`auth.TokenManager`), and whom they tell of a refusal."""

    def token(self) -> str:
        """A valid access token, renewed first when needed."""
        ...

    def invalidate(self, refused_token: str, *, force_login: bool = False) -> None:
        """The server refused ``refused_token``: renew it (a password login when ``force_login``)."""
        ...


class _Transient(Exception):
    """Internal: one attempt failed in a way worth retrying."""

    def __init__(self, reason: str, retry_after: float | None = None, cause: BaseException | None = None,
                 *, maybe_applied: bool = True):
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.cause = cause
        # False when the server surely did not act on the request (429, 503, no connection made).
        self.maybe_applied = maybe_applied


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` as seconds: either delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class Transport:
    """One client's HTTP: the connection pool, retries, and the bearer token on every authenticated call."""

    def __init__(
        self,
        base_url: str,
        *,
        verify: bool | str,
        pool_size: int,
        connect_timeout: float,
        read_timeout: float,
        max_attempts: int,
        max_retry_seconds: float,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_url = self.base_url + "/api/v1"
        self.max_attempts = max(1, max_attempts)
        self.max_retry_seconds = max_retry_seconds
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.sleep = sleep
        self.stats = ClientStats()
        self.auth: TokenSource | None = None  # set by the client: the token manager needs this transport
        self.verify = verify  # True (the default CA bundle), a CA bundle path, or False (no verification)
        self.headers = {"Accept": "application/json", "Accept-Encoding": "gzip, deflate",
                        "User-Agent": "ss-igi-connector/0.1"}
        self.pool = pool_manager(self.base_url, verify, pool_size)
        # urllib3 follows redirects (dropping Authorization on another host, as requests does); it retries nothing
        # else, since retrying is done here.
        self._retries = urllib3.Retry(total=None, connect=0, read=0, other=0, status=0, redirect=10,
                                      raise_on_redirect=True, raise_on_status=False)
        self._timeout = urllib3.Timeout(connect=connect_timeout, read=read_timeout)
        self._budget = threading.local()  # per thread: a callable giving the seconds the caller may still spend

    @contextmanager
    def within(self, seconds_left: Callable[[], float]) -> Iterator[None]:
        """Bound this thread's calls by ``seconds_left()``, asked before every attempt and every retry wait."""
        outer = getattr(self._budget, "seconds_left", None)
        self._budget.seconds_left = seconds_left
        try:
            yield
        finally:
            self._budget.seconds_left = outer

    def budget(self) -> Callable[[], float] | None:
        """This thread's time budget set by `within`, if any (so work handed to other threads keeps it)."""
        return getattr(self._budget, "seconds_left", None)

    def close(self) -> None:
        """Close the pooled connections."""
        self.pool.clear()

    # ------------------------------------------------------------------ public entry point
    def request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        json: Any = None,
        form: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        api: bool = True,
        authenticated: bool = True,
    ) -> Any:
        """Send one logical request (with retries) and return its parsed JSON body.

        ``path`` is relative to ``{base}/api/v1`` (``api=True``) or to ``{base}`` (``api=False``).
        """
        url = (self.api_url if api else self.base_url) + path
        shown_path = ("/api/v1" if api else "") + path  # what errors and logs name; never a query
        started = time.monotonic()
        deadline = started + self.max_retry_seconds
        attempts = 0
        auth_rejections = 0
        maybe_applied = False  # did an earlier attempt possibly reach the server and take effect?
        budget: Callable[[], float] | None = getattr(self._budget, "seconds_left", None)
        while True:
            if budget is not None and budget() <= 0:
                raise OutOfTime(f"{method} {shown_path}: not sent, the caller's time to act ran out")
            token = None
            send_headers = dict(headers or {})
            if authenticated:
                assert self.auth is not None, "Transport.auth must be set for authenticated calls"
                token = self.auth.token()
                send_headers["Authorization"] = f"Bearer {token}"
            attempts += 1
            try:
                return self._attempt(method, url, shown_path, params, json, form, send_headers, attempts,
                                     maybe_applied)
            except _AuthRejected as rejected:
                # Not a transient attempt: renew the token and resend. First a refresh (cheap); if
                # tokens keep being refused, password logins. Other threads may use up or replace a
                # fresh token before this one resends, so allow a few rounds before concluding that
                # the server refuses this account's tokens outright.
                attempts -= 1
                auth_rejections += 1
                self.stats.add("auth_rejections")
                assert self.auth is not None and token is not None
                if auth_rejections > MAX_AUTH_RENEWALS:
                    raise AuthenticationError(
                        f"{method} {shown_path}: token refused (HTTP {rejected.status}) "
                        f"{auth_rejections} times, even after fresh logins"
                    ) from None
                log.info("%s %s: HTTP %s, renewing token", method, shown_path, rejected.status)
                self.auth.invalidate(token, force_login=auth_rejections >= 3)
            except _Transient as failure:
                maybe_applied = maybe_applied or failure.maybe_applied
                elapsed = time.monotonic() - started
                delay = self._delay(attempts, failure.retry_after)
                gave_up = f"gave up after {attempts} attempts"
                if attempts >= self.max_attempts:
                    why = f"{gave_up} in {elapsed:.1f}s"
                elif time.monotonic() + delay > deadline:
                    why = (f"{gave_up}; waiting {delay:.1f}s more would pass the {self.max_retry_seconds:.0f}s "
                           "retry budget")
                elif budget is not None and delay >= budget():
                    why = f"{gave_up}; waiting {delay:.1f}s more would outlast the caller's time to act"
                else:
                    why = None
                if why is not None:
                    raise TransientError(
                        f"{method} {shown_path}: {why}; last failure: {failure.reason}",
                        last_cause=failure.cause or failure.reason,
                        attempts=attempts,
                        retry_after=failure.retry_after,
                    ) from failure.cause
                log.warning(
                    "%s %s: %s; retry %d/%d in %.2fs",
                    method, shown_path, failure.reason, attempts, self.max_attempts - 1, delay,
                )
                self.stats.add("retries")
                self.stats.add("retry_wait_ms", int(delay * 1000))
                self.sleep(delay)

    # ------------------------------------------------------------------ internals
    def _delay(self, attempts: int, retry_after: float | None) -> float:
        if retry_after is not None:
            # Honour the server's wait as a minimum; a little jitter keeps threads from stampeding.
            return retry_after + random.uniform(0, min(1.0, 0.1 * retry_after + 0.05))
        ceiling = min(self.backoff_cap, self.backoff_base * (2 ** (attempts - 1)))
        return ceiling / 2 + random.uniform(0, ceiling / 2)  # "equal jitter"

    def _attempt(
        self,
        method: str,
        url: str,
        shown_path: str,
        params: Params | None,
        json: Any,
        form: Mapping[str, str] | None,
        headers: dict[str, str],
        attempt: int,
        maybe_applied: bool,
    ) -> Any:
        t0 = time.monotonic()
        body: bytes | None = None
        if json is not None:
            body = jsonlib.dumps(json, allow_nan=False).encode()
            headers = {"Content-Type": "application/json", **headers}
        elif form is not None:
            body = urlencode(form).encode()
            headers = {"Content-Type": "application/x-www-form-urlencoded", **headers}
        if params:
            items = params.items() if isinstance(params, Mapping) else params
            url += "?" + urlencode([(k, v) for k, v in items if v is not None], doseq=True)
        try:
            self.stats.add("requests")
            response = self.pool.request(method, url, body=body, headers={**self.headers, **headers},
                                         timeout=self._timeout, retries=self._retries)
        except MaxRetryError as exc:  # what urllib3 raises for a connection error (and too many redirects)
            raise _failure(method, shown_path, exc.reason or exc) from None
        except HTTPError as exc:
            raise _failure(method, shown_path, exc) from None
        status = response.status
        log.debug("%s %s -> %s in %.0f ms (attempt %d)", method, shown_path, status,
                  (time.monotonic() - t0) * 1000, attempt)
        if status in RETRYABLE_STATUSES:
            if status in (429, 503):
                self.stats.add("throttled")
            # 429 and 503 say the request was turned away; 502/504 come from a gateway that may
            # have passed it on before failing.
            raise _Transient(f"HTTP {status}", retry_after=parse_retry_after(response.headers.get("Retry-After")),
                             maybe_applied=status in (502, 504))
        if status in AUTH_FAILURE_STATUSES and "Authorization" in headers:
            raise _AuthRejected(status)
        if 200 <= status < 300:
            return self._json_body(response, method, shown_path)
        error = self._api_error(response, method, shown_path, after_retry=maybe_applied)
        if status == 500 and method.upper() == "GET":
            raise _Transient(f"HTTP 500 {error.error_code or ''}".rstrip(), cause=error)
        raise error

    def _json_body(self, response: urllib3.BaseHTTPResponse, method: str, shown_path: str) -> Any:
        content_type = response.headers.get("Content-Type", "")
        try:
            if "html" in content_type.lower():
                raise ValueError("HTML content type")
            return _parse_json(response.data)
        except ValueError:
            # Secret Server (or a proxy in front of it) sometimes answers an error page with 200.
            # It is never data; treat it like a 5xx.
            self.stats.add("non_json")
            raise _Transient(
                f"HTTP {response.status} with a non-JSON body "
                f"({content_type or 'no content type'}, {len(response.data)} bytes)"
            ) from None

    @staticmethod
    def _api_error(response: urllib3.BaseHTTPResponse, method: str, shown_path: str, *,
                   after_retry: bool) -> ApiError:
        body: Any
        try:
            body = _parse_json(response.data)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            body = {}
        message = body.get("message") or body.get("error_description") or body.get("error")
        if message is None:
            message = response.reason or None
        error_code = body.get("errorCode") or (body.get("error") if "error" in body else None)
        if error_code is None and response.status >= 500:
            error_code = body.get("exceptionType")
        detail = body.get("messageDetail") or body.get("exceptionMessage")
        return ApiError(
            status=response.status,
            error_code=str(error_code) if error_code is not None else None,
            message=str(message) if message is not None else None,
            message_detail=str(detail) if detail is not None else None,
            model_state=body.get("modelState"),
            method=method,
            path=shown_path,
            after_retry=after_retry,
        )


def _parse_json(data: bytes) -> Any:
    """The body as JSON: orjson (several times faster than json); json for what orjson refuses (a BOM, say)."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return jsonlib.loads(data.decode("utf-8-sig"))


def _failure(method: str, shown_path: str, exc: BaseException) -> Exception:
    """What a failed attempt means: a transient failure (and whether it may have reached the server), or an
    error that a retry cannot fix."""
    if isinstance(exc, SSLError):  # a certificate that fails verification will fail again
        return TlsError(
            f"{method} {shown_path}: TLS verification failed ({exc}); set a CA bundle or fix the certificate")
    if isinstance(exc, LocationParseError):
        return SecretServerError(f"invalid Secret Server URL: {exc}")
    if isinstance(exc, NewConnectionError | ProxyError):  # no connection to the server: nothing was sent
        # (checked first: urllib3's NewConnectionError is also a ConnectTimeoutError)
        return _Transient(f"connection error ({type(exc).__name__})", cause=exc, maybe_applied=False)
    if isinstance(exc, ConnectTimeoutError):
        return _Transient("connect timeout", cause=exc, maybe_applied=False)
    if isinstance(exc, ReadTimeoutError):
        return _Transient(f"timeout ({type(exc).__name__})", cause=exc)
    if isinstance(exc, HTTPError | OSError):  # reset, dropped mid-body, too many redirects, ...
        return _Transient(f"connection error ({type(exc).__name__})", cause=exc)
    return exc if isinstance(exc, Exception) else RuntimeError(str(exc))


def never_connected(error: TransientError) -> bool:
    """True when the calls that gave up never reached the server at all (refused, no route, DNS, the proxy)."""
    return isinstance(error.last_cause, NewConnectionError | ProxyError)


class _AuthRejected(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


__all__ = ["TokenSource", "Transport", "never_connected", "parse_retry_after"]
