"""The HTTP side of the simulator: a threaded HTTP/1.1 keep-alive server under `/SecretServer`.

`SimulatorServer(org).start()` serves `{base_url}/oauth2/token` and `{base_url}/api/v1/...` on a
background thread; `stop()` (or leaving the `with` block) shuts it down, open connections too.
Every request is recorded in `request_log` (method, path, query, status, and the body's field names
and JSON types; never values).

A request goes: prefix check -> token endpoint or health check (no token needed) -> fault injection
-> bearer token -> route (simulator/api.py) -> handler (simulator/routes) -> JSON reply.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from simulator.api import Api
from simulator.binding import body_shape
from simulator.faults import Decision, Faults
from simulator.mutations import mutate_between_pages
from simulator.paging import BadRequest, normalize_query, parse_int
from simulator.records import PREFIX
from simulator.replies import (
    IIS_NOT_FOUND_PAGE,
    LOGIN_PAGE,
    Reply,
    burst_failure,
    json_reply,
    no_resource,
    server_error,
)
from simulator.request_log import LoggedRequest, RequestLog
from simulator.routes import auth
from simulator.routes.base import Request
from simulator.routes.system import healthcheck
from simulator.state import Organization
from simulator.tokens import TokenStore

log = logging.getLogger("simulator")

__all__ = ["PREFIX", "LoggedRequest", "RequestLog", "SimulatorServer"]


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
        """Serve one connection, keeping its socket so that stop() can close it."""
        with self.sockets_lock:
            self.open_sockets.add(request)
        try:
            super().finish_request(request, client_address)
        finally:
            with self.sockets_lock:
                self.open_sockets.discard(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Log a broken connection quietly."""
        log.debug("connection error from %s", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Microsoft-IIS/10.0"
    sys_version = ""
    disable_nagle_algorithm = True
    timeout = 120  # idle keep-alive connections are closed after this
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        """Log a request at debug level."""
        log.debug("%s " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        """Serve a GET."""
        self.server.sim._handle(self, "GET")

    def do_POST(self) -> None:
        """Serve a POST."""
        self.server.sim._handle(self, "POST")

    def do_PUT(self) -> None:
        """Serve a PUT."""
        self.server.sim._handle(self, "PUT")

    def do_PATCH(self) -> None:
        """Serve a PATCH."""
        self.server.sim._handle(self, "PATCH")

    def do_DELETE(self) -> None:
        """Serve a DELETE."""
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
        """The cap on `take`; may be changed while running."""
        return self.api.pager.page_cap

    @page_cap.setter
    def page_cap(self, value: int) -> None:
        """Set the cap on `take` for the requests that follow."""
        self.api.pager.page_cap = value

    @property
    def base_url(self) -> str:
        """`http://host:port/SecretServer`, the URL clients are given."""
        return f"http://{self.host}:{self.port}{PREFIX}"

    def start(self) -> SimulatorServer:
        """Serve on a background thread (a free port if 0 was asked); returns self."""
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
        """Stop serving and close open connections."""
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
        """Served requests by method and path prefix (see RequestLog.calls)."""
        return self.request_log.calls(method, path_prefix)

    def clear_log(self) -> None:
        """Forget the requests served so far."""
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
            reply = server_error(str(exc), type(exc).__name__)
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

    def _respond(self, handler: _Handler, method: str, raw_path: str, raw_query: dict[str, list[str]],
                 body: bytes) -> Reply | None:
        lowered = raw_path.lower()
        if not (lowered == PREFIX.lower() or lowered.startswith(PREFIX.lower() + "/")):
            return Reply(404, IIS_NOT_FOUND_PAGE, "text/html")
        path = raw_path[len(PREFIX):].rstrip("/") or "/"
        lpath = path.lower()
        if lpath in ("/oauth2/token", "/oauth2/refresh") and method == "POST":
            return json_reply(*auth.token(body, self.tokens, self._ttl(), self._may_log_in))
        if lpath in ("/healthcheck", "/api/v1/healthcheck") and method == "GET":
            return self._healthcheck()
        if not lpath.startswith("/api/v1/"):
            return no_resource(handler.path)
        faults = self.faults
        decision = faults.decide() if faults.active else None
        if decision is not None:
            if faults.latency_ms:
                time.sleep(faults.latency_ms / 1000)
            if decision.kind == "drop":
                return None
            if decision.kind == "burst":
                return burst_failure(decision.status, faults.retry_after_s)
            if decision.kind == "429":
                return json_reply(429, {"message": "Too many requests."},
                                  headers={"Retry-After": str(faults.retry_after_s)})
            if decision.kind == "html":
                return Reply(200, LOGIN_PAGE, "text/html; charset=utf-8")
        if not self._authenticated(handler):
            return json_reply(403, {"message": "Authentication failed"})
        return self._api(handler, method, path, raw_query, body, decision)

    def _api(self, handler: _Handler, method: str, path: str, raw_query: dict[str, list[str]],
             body: bytes, decision: Decision | None) -> Reply:
        route, params, entity, known = self.api.match(method, path)
        if route is None:
            if known:
                return json_reply(405, {"message": f"The requested resource does not support http method '{method}'."})
            return no_resource(handler.path)
        if self.faults.fails_always(entity, params):
            return burst_failure(500, self.faults.retry_after_s)
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
            return json_reply(400, exc.body())
        except Exception as exc:  # the documented 500 body, and a log line for the developer
            log.exception("simulator error on %s %s", method, path)
            return server_error(str(exc), type(exc).__name__)
        return json_reply(status, payload)

    def _authenticated(self, handler: _Handler) -> bool:
        header = handler.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return False
        return self.tokens.check(token.strip(), self.faults.token_expire_after_calls) is not None

    def _healthcheck(self) -> Reply:
        _, payload = healthcheck()
        if self.healthcheck_casing == "pascal":
            payload = {key[0].upper() + key[1:]: value for key, value in payload.items()}
        return json_reply(200, payload)

    def _may_log_in(self, user_name: str, password: str, domain: str) -> bool:
        if user_name.lower() == self.username.lower() and password == self.password:
            return not domain or self.domain is None or domain.lower() == self.domain.lower()
        return auth.user_may_log_in(self.org, user_name, password, domain)
