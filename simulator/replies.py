"""What goes back on the wire: JSON bodies, Secret Server's error bodies, and the HTML pages that
proxies and a logged-out IIS answer with (fault injection sends those)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

JSON = "application/json; charset=utf-8"
LOGIN_PAGE = (b"<!DOCTYPE html><html><head><title>Secret Server - Login</title></head><body>"
              b"<form method=\"post\" action=\"Login.aspx\"><h1>Login</h1><p>Your session has ended."
              b"</p></form></body></html>")
IIS_NOT_FOUND_PAGE = b"<html><body><h1>404 - File or directory not found.</h1></body></html>"


@dataclass(frozen=True)
class Reply:
    """An answer ready to send: status, body bytes, content type, extra headers."""

    status: int
    data: bytes
    content_type: str = JSON
    headers: dict[str, str] = field(default_factory=dict)


def json_reply(status: int, payload: Any, headers: dict[str, str] | None = None) -> Reply:
    """A compact JSON answer."""
    data = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    return Reply(status, data, JSON, headers or {})


def server_error(exception_message: str, exception_type: str) -> Reply:
    """Secret Server's documented 500 body."""
    return json_reply(500, {"message": "An error has occurred.", "exceptionMessage": exception_message,
                            "exceptionType": exception_type, "stackTrace": None})


def no_resource(uri: str) -> Reply:
    """The 404 for a path under /SecretServer that no route knows."""
    return json_reply(404, {"message": f"No HTTP resource was found that matches the request URI '{uri}'."})


def burst_failure(status: int, retry_after_s: int) -> Reply:
    """A failure of a burst: 500 with a deadlock (as a busy database gives), else a proxy's page."""
    if status == 500:
        return server_error("Transaction (Process ID 61) was deadlocked on lock resources with another process.",
                            "System.Data.SqlClient.SqlException")
    title = {502: "502 Bad Gateway", 503: "503 Service Unavailable"}.get(status, f"{status} Error")
    page = f"<html><head><title>{title}</title></head><body><h1>{title}</h1></body></html>".encode()
    headers = {"Retry-After": str(retry_after_s)} if status == 503 else {}
    return Reply(status, page, "text/html", headers)
