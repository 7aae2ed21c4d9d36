"""The HTTP side of the simulator: a threaded HTTP/1.1 keep-alive server under `/SecretServer`.

`SimulatorServer(org).start()` serves `{base_url}/oauth2/token` and `{base_url}/api/v1/...` on a
background thread; `stop()` (or leaving the `with` block) shuts it down, open connections too.
Every request is recorded in `request_log` (method, path, query, status, and the body's field names
and JSON types; never values).
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from simulator.api import Api, Request
from simulator.auth import TokenStore
from simulator.binding import body_shape
from simulator.faults import Faults
from simulator.mutations import mutate_between_pages
from simulator.paging import BadRequest, normalize_query, parse_int
from simulator.state import Organization

log = logging.getLogger("simulator")

PREFIX = "/SecretServer"
HTML_PAGE = (b"<!DOCTYPE html><html><head><title>Secret Server - Login</title></head><body>"
             b"<form method=\"post\" action=\"Login.aspx\"><h1>Login</h1><p>Your session has ended."
             b"</p></form></body></html>")


def _proxy_page(status: int) -> bytes:
    title = {502: "502 Bad Gateway", 503: "503 Service Unavailable"}.get(status, f"{status} Error")
    return f"<html><head><title>{title}</title></head><body><h1>{title}</h1></body></html>".encode()


@dataclass(frozen=True)
class _Reply:
    status: int
    data: bytes
    content_type: str
    headers: dict[str, str]


@dataclass(frozen=True)
class LoggedRequest:
    """One served request. `status` is 0 for a connection dropped by fault injection."""

    method: str
    path: str
    query: dict[str, list[str]]
    status: int
    duration_ms: float = 0.0
    at: float = field(default=0.0, compare=False)
    # Field paths and JSON types of the body, never its values: {"data.password": "string"}.
    body_shape: dict[str, str] | None = field(default=None, compare=False)

    def __getitem__(self, name: str) -> Any:  # records read as dicts too: r["path"]
        return getattr(self, name)


class RequestLog:
    """A thread-safe list of `LoggedRequest`s."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[LoggedRequest] = []

    def append(self, item: LoggedRequest) -> None:
        with self._lock:
            self._items.append(item)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def __iter__(self) -> Iterator[LoggedRequest]:
        with self._lock:
            return iter(list(self._items))

    def __getitem__(self, index: int) -> LoggedRequest:
        with self._lock:
            return self._items[index]

    def calls(self, method: str | None = None, path_prefix: str | None = None) -> list[LoggedRequest]:
        """Requests by method and path prefix (case-insensitive); the prefix may omit /SecretServer."""
        prefix = path_prefix.lower() if path_prefix else None
        with self._lock:
            items = list(self._items)
        out = []
        for item in items:
            if method and item.method.upper() != method.upper():
                continue
            if prefix:
                path = item.path.lower()
                if not (path.startswith(prefix) or path.startswith(PREFIX.lower() + prefix)):
                    continue
            out.append(item)
        return out

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], sim: SimulatorServer) -> None:
        self.sim = sim
        self.open_sockets: set[socket.socket] = set()
        self.sockets_lock = threading.Lock()
        super().__init__(address, _Handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        with self.sockets_lock:
            self.open_sockets.add(request)
        try:
            super().finish_request(request, client_address)
        finally:
            with self.sockets_lock:
                self.open_sockets.discard(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("connection error from %s", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Microsoft-IIS/10.0"
    sys_version = ""
    disable_nagle_algorithm = True
    timeout = 120  # idle keep-alive connections are closed after this
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        self.server.sim._handle(self, "GET")

    def do_POST(self) -> None:
        self.server.sim._handle(self, "POST")

    def do_PUT(self) -> None:
        self.server.sim._handle(self, "PUT")

    def do_PATCH(self) -> None:
        self.server.sim._handle(self, "PATCH")

    def do_DELETE(self) -> None:
        self.server.sim._handle(self, "DELETE")


class SimulatorServer:
    """A Secret Server stand-in on a local port. See simulator/__init__.py for the whole API."""

    def __init__(self, org: Organization, *, host: str = "127.0.0.1", port: int = 0,
                 username: str = "admin", password: str = "admin", page_cap: int = 1000,
                 token_ttl_s: float = 1200, refresh_cap: int = 3, faults: Faults | None = None,
                 domain: str | None = None, healthcheck_casing: str = "pascal") -> None:
        if healthcheck_casing not in ("pascal", "camel"):
            raise ValueError("healthcheck_casing must be 'pascal' or 'camel'")
        self.org = org
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.domain = domain
        self.token_ttl_s = token_ttl_s
        self.faults = faults or Faults()
        self.healthcheck_casing = healthcheck_casing
        self.api = Api(org, page_cap)
        self.tokens = TokenStore(refresh_cap)
        self.request_log = RequestLog()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle
    @property
    def page_cap(self) -> int:
        return self.api.page_cap

    @page_cap.setter
    def page_cap(self, value: int) -> None:
        self.api.page_cap = value

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}{PREFIX}"

    def start(self) -> SimulatorServer:
        if self._httpd is not None:
            return self
        self._httpd = _HTTPServer((self.host, self.port), self)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"simulator-{self.port}", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Run in the calling thread until `stop()` or KeyboardInterrupt (the CLI's mode)."""
        if self._httpd is None:
            self._httpd = _HTTPServer((self.host, self.port), self)
            self.port = self._httpd.server_address[1]
        try:
            self._httpd.serve_forever(poll_interval=0.2)
        finally:
            self._close()

    def stop(self) -> None:
        httpd = self._httpd
        if httpd is None:
            return
        httpd.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._close()

    def _close(self) -> None:
        httpd, self._httpd, self._thread = self._httpd, None, None
        if httpd is None:
            return
        httpd.server_close()
        with httpd.sockets_lock:
            open_sockets = list(httpd.open_sockets)
        for sock in open_sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ test helpers
    def calls(self, method: str | None = None, path_prefix: str | None = None) -> list[LoggedRequest]:
        return self.request_log.calls(method, path_prefix)

    def clear_log(self) -> None:
        self.request_log.clear()

    def expire_tokens(self) -> None:
        """Expire every access token now (refresh tokens remain usable)."""
        self.tokens.expire_all()

    def login(self) -> str:
        """An access token for the configured user, without an HTTP call."""
        return str(self.tokens.login(self.username, self._ttl())["access_token"])

    def _ttl(self) -> float:
        return self.faults.token_ttl_s if self.faults.token_ttl_s is not None else self.token_ttl_s

    # ------------------------------------------------------------------ request handling
    def _handle(self, handler: _Handler, method: str) -> None:
        started = time.perf_counter()
        parts = urlsplit(handler.path)
        raw_path = unquote(parts.path)
        raw_query = parse_qs(parts.query, keep_blank_values=True)
        length = handler.headers.get("Content-Length")
        body = handler.rfile.read(int(length)) if length and length.isdigit() and int(length) > 0 else b""
        try:
            reply = self._respond(handler, method, raw_path, raw_query, body)
        except Exception as exc:  # a bug in the simulator: answer the documented 500 body
            log.exception("simulator error on %s %s", method, raw_path)
            reply = self._send(500, {"message": "An error has occurred.", "exceptionMessage": str(exc),
                                     "exceptionType": type(exc).__name__, "stackTrace": None})
        # Logged before the answer goes out, so a client that has its answer sees the record.
        self.request_log.append(LoggedRequest(method, raw_path, raw_query, reply.status if reply else 0,
                                              (time.perf_counter() - started) * 1000, time.time(),
                                              body_shape(body, handler.headers.get("Content-Type", ""))))
        if reply is None:  # fault injection: drop the connection without an answer
            handler.close_connection = True
            return
        handler.send_response(reply.status)
        handler.send_header("Content-Type", reply.content_type)
        handler.send_header("Content-Length", str(len(reply.data)))
        handler.send_header("Cache-Control", "no-cache")
        for name, value in reply.headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(reply.data)

    @staticmethod
    def _send(status: int, payload: Any = None, *, raw: bytes | None = None,
              content_type: str = "application/json; charset=utf-8",
              headers: dict[str, str] | None = None) -> _Reply:
        data = raw if raw is not None else json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        return _Reply(status, data, content_type, headers or {})

    def _respond(self, handler: _Handler, method: str, raw_path: str, raw_query: dict[str, list[str]],
                 body: bytes) -> _Reply | None:
        lowered = raw_path.lower()
        if not (lowered == PREFIX.lower() or lowered.startswith(PREFIX.lower() + "/")):
            return self._send(404, raw=b"<html><body><h1>404 - File or directory not found.</h1>"
                              b"</body></html>", content_type="text/html")
        path = raw_path[len(PREFIX):].rstrip("/") or "/"
        lpath = path.lower()
        if lpath in ("/oauth2/token", "/oauth2/refresh") and method == "POST":
            return self._token(body)
        if lpath in ("/healthcheck", "/api/v1/healthcheck") and method == "GET":
            return self._healthcheck()
        if not lpath.startswith("/api/v1/"):
            return self._send(404, {"message": f"No HTTP resource was found that matches the "
                                                        f"request URI '{handler.path}'."})
        faults = self.faults
        decision = faults.decide() if faults.active else None
        if decision is not None:
            if faults.latency_ms:
                time.sleep(faults.latency_ms / 1000)
            if decision.kind == "drop":
                return None
            if decision.kind == "burst":
                return self._burst(decision.status)
            if decision.kind == "429":
                return self._send(429, {"message": "Too many requests."},
                                  headers={"Retry-After": str(faults.retry_after_s)})
            if decision.kind == "html":
                return self._send(200, raw=HTML_PAGE, content_type="text/html; charset=utf-8")
        if not self._authenticated(handler):
            return self._send(403, {"message": "Authentication failed"})
        return self._api(handler, method, path, raw_query, body, decision)

    def _api(self, handler: _Handler, method: str, path: str, raw_query: dict[str, list[str]],
             body: bytes, decision: Any) -> _Reply | None:
        route, params, entity, known = self.api.match(method, path)
        if route is None:
            if known:
                return self._send(405, {"message": f"The requested resource does not support "
                                                            f"http method '{method}'."})
            return self._send(404, {"message": f"No HTTP resource was found that matches the "
                                                        f"request URI '{handler.path}'."})
        if self.faults.fails_always(entity, params):
            return self._burst(500)
        query = normalize_query(raw_query)
        request = Request(method, path, query, body, params)
        try:
            if decision is not None and decision.mutate and entity is not None:
                skip_raw = query.get("skip", ["0"])[-1] or "0"
                skip = parse_int("skip", skip_raw)
                if skip > 0:
                    scope = int(params["id"]) if "id" in params else None
                    mutate_between_pages(self.org, entity, scope, skip, self.faults.mutation_rng())
            status, payload = route(request)
            payload = self.faults.spoil_ids(entity, payload)
        except BadRequest as exc:
            return self._send(400, exc.body())
        except Exception as exc:  # the documented 500 body, and a log line for the developer
            log.exception("simulator error on %s %s", method, path)
            return self._send(500, {"message": "An error has occurred.",
                                             "exceptionMessage": str(exc),
                                             "exceptionType": type(exc).__name__, "stackTrace": None})
        return self._send(status, payload)

    def _authenticated(self, handler: _Handler) -> bool:
        header = handler.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return False
        return self.tokens.check(token.strip(), self.faults.token_expire_after_calls) is not None

    def _burst(self, status: int) -> _Reply:
        if status == 500:
            return self._send(500, {"message": "An error has occurred.",
                                             "exceptionMessage": "Transaction (Process ID 61) was deadlocked "
                                                                 "on lock resources with another process.",
                                             "exceptionType": "System.Data.SqlClient.SqlException",
                                             "stackTrace": None})
        headers = {"Retry-After": str(self.faults.retry_after_s)} if status == 503 else None
        return self._send(status, raw=_proxy_page(status), content_type="text/html",
                          headers=headers)

    def _healthcheck(self) -> _Reply:
        _, payload = self.api.healthcheck(Request("GET", "/healthcheck", {}, b"", {}))
        if self.healthcheck_casing == "pascal":
            payload = {key[0].upper() + key[1:]: value for key, value in payload.items()}
        return self._send(200, payload)

    def _token(self, body: bytes) -> _Reply:
        form = {k.lower(): v[-1] for k, v in parse_qs(body.decode("utf-8", "replace"),
                                                     keep_blank_values=True).items()}
        grant = form.get("grant_type", "")
        ttl = self._ttl()
        if grant == "password":
            user_name = form.get("username", "")
            if not self._password_ok(user_name, form.get("password", ""), form.get("domain", "")):
                return self._send(400, {"error": "Login failed."})
            return self._send(200, self.tokens.login(user_name, ttl))
        if grant == "refresh_token":
            grant_body = self.tokens.refresh(form.get("refresh_token", ""), ttl)
            if grant_body is None:
                return self._send(400, {"error": "Invalid refresh token."})
            return self._send(200, grant_body)
        return self._send(400, {"error": "unsupported_grant_type"})

    def _password_ok(self, user_name: str, password: str, domain: str) -> bool:
        if user_name.lower() == self.username.lower() and password == self.password:
            return not domain or self.domain is None or domain.lower() == self.domain.lower()
        with self.org.lock:  # generated or created users with a password may log in too
            domain_id = None
            if domain:
                domain_id = next((d.id for d in self.org.domains.values()
                                  if domain.lower() in (d.name.lower(), d.friendly_name.lower())), -99)
            user = self.org.find_user(user_name, domain_id)
            return (user is not None and user.password is not None and user.password == password
                    and user.enabled and not user.is_locked_out)
