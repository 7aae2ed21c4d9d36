"""A tiny scripted HTTP server for the edge cases the simulator has no switch for (an old server
without `/password-reset`, a Retry-After longer than the budget, a 500). Real sockets, real HTTP."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

Reply = tuple[int, dict[str, str], Any]  # status, headers, body (dict/list -> JSON, str -> as is)
Handler = Callable[["Request"], Reply]


class Request:
    def __init__(self, method: str, path: str, query: dict[str, list[str]], headers: Any, body: bytes):
        self.method, self.path, self.query, self.headers, self.body = method, path, query, headers, body

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}


class ScriptedServer:
    """Routes ``(METHOD, path)`` (path under /SecretServer) to handlers; records every request."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Handler] = {}
        self.requests: list[Request] = []
        self.token_counter = 0
        self.route("POST", "/oauth2/token", self._token)
        outer = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                req = Request(self.command, parts.path.removeprefix("/SecretServer"), parse_qs(parts.query),
                              self.headers, self.rfile.read(length) if length else b"")
                outer.requests.append(req)
                handler = outer.routes.get((req.method, req.path))
                status, headers, body = handler(req) if handler else (404, {}, {"message": "no route"})
                payload = body if isinstance(body, str) else json.dumps(body)
                data = payload.encode()
                self.send_response(status)
                headers = {"Content-Type": "application/json", **headers}
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/SecretServer"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    def _token(self, req: Request) -> Reply:
        form = req.form()
        if form.get("grant_type") == "password" and form.get("password") != "right-password":
            return 400, {}, {"error": "invalid_grant"}
        self.token_counter += 1
        return 200, {}, {"access_token": f"access-{self.token_counter}-xyz", "token_type": "bearer",
                         "expires_in": 1199, "refresh_token": f"refresh-{self.token_counter}-xyz"}

    def route(self, method: str, path: str, handler: Handler) -> None:
        self.routes[(method, path)] = handler

    def calls(self, method: str, path: str) -> list[Request]:
        return [r for r in self.requests if r.method == method and r.path == path]

    def __enter__(self) -> ScriptedServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
