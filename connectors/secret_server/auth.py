"""OAuth2 password grant with refresh, shared safely by many threads.

Secret Server issues an access token (``expires_in`` seconds, 20 minutes by default) and, when
enabled, a single-use refresh token; refreshes per login are capped (3 by default). So:

- renew shortly *before* expiry (a margin of 10% of the lifetime, at most 60 s), and whenever the
  server refuses a token (401/403) — e.g. it was revoked or expired early;
- renew with the refresh token while there is one; when the server refuses the refresh (cap
  reached, token used) or gave none, log in again with the password;
- one renewal at a time: threads that saw the same expired token wait on the lock, then find the
  new token already in place (`invalidate` compares the token the caller used with the current one);
- a refused password login is final for this manager: vaults lock an account after a few failed
  logins, so every later call, on any thread, raises the same `AuthenticationError` without asking
  the server again (one wrong password costs one attempt per run, not one per call).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from connectors.secret_server.errors import ApiError, AuthenticationError
from connectors.secret_server.redaction import log, register_secret
from connectors.secret_server.transport import Transport

TOKEN_PATH = "/oauth2/token"


@dataclass(frozen=True)
class _Token:
    access: str
    refresh: str | None
    renew_at: float  # monotonic time after which we renew proactively


@dataclass(frozen=True)
class Credentials:
    """Who logs in: user name, password, optional AD domain and 2FA code (sent as the ``OTP`` header)."""

    username: str
    password: str = field(repr=False)
    domain: str | None = None
    otp: str | None = field(default=None, repr=False)


class TokenManager:
    """The token source of one client: logs in, refreshes, and renews refused tokens (see module doc)."""

    def __init__(self, transport: Transport, credentials: Credentials, *, clock=time.monotonic) -> None:
        self._transport = transport
        self._credentials = credentials
        self._clock = clock
        self._lock = threading.Lock()
        self._current: _Token | None = None
        self._refused: str | None = None  # why the password login was refused; set once, never cleared
        register_secret(credentials.password)
        register_secret(credentials.otp)

    def token(self) -> str:
        """A valid access token, logging in or refreshing first when needed."""
        current = self._current
        if current is not None and self._clock() < current.renew_at:
            return current.access
        with self._lock:
            self._raise_if_refused()
            current = self._current
            if current is not None and self._clock() < current.renew_at:
                return current.access  # another thread renewed it while we waited
            self._renew(current, force_login=False)
            assert self._current is not None
            return self._current.access

    def invalidate(self, refused_token: str, *, force_login: bool = False) -> None:
        """The server refused ``refused_token``: renew, unless another thread already did."""
        with self._lock:
            self._raise_if_refused()
            current = self._current
            if current is not None and current.access != refused_token:
                return
            self._renew(current, force_login=force_login)

    # ------------------------------------------------------------------ internals (lock held)
    def _raise_if_refused(self) -> None:
        if self._refused is not None:
            raise AuthenticationError(self._refused)

    def _renew(self, current: _Token | None, *, force_login: bool) -> None:
        if current is not None and current.refresh and not force_login:
            try:
                self._grant({"grant_type": "refresh_token", "refresh_token": current.refresh}, refresh=True)
                return
            except AuthenticationError as exc:
                log.info("token refresh refused (%s); logging in again with the password", exc)
        self._login()

    def _login(self) -> None:
        who = self._credentials
        form = {"grant_type": "password", "username": who.username, "password": who.password}
        if who.domain:
            form["domain"] = who.domain
        try:
            self._grant(form, refresh=False)
        except AuthenticationError as exc:
            self._refused, self._current = str(exc), None
            raise

    def _grant(self, form: dict[str, str], *, refresh: bool) -> None:
        headers = {"OTP": self._credentials.otp} if (self._credentials.otp and not refresh) else None
        kind = "refresh" if refresh else "login"
        try:
            body = self._transport.request(
                "POST", TOKEN_PATH, form=form, headers=headers, api=False, authenticated=False
            )
        except ApiError as exc:
            # 400 {"error": "invalid_grant"} and friends (never retried: each try counts against the account's
            # lockout). Never echo the form.
            said = " ".join(dict.fromkeys(part for part in (exc.error_code, exc.message) if part))  # once each
            raise AuthenticationError(
                f"Secret Server refused the {kind} for user {self._credentials.username!r}: "
                f"HTTP {exc.status} {said}".rstrip()
            ) from None
        if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
            raise AuthenticationError(f"token endpoint answered the {kind} without an access_token")
        access = body["access_token"]
        refresh_token = body.get("refresh_token") or None
        register_secret(access)
        register_secret(refresh_token)
        try:
            lifetime = float(body.get("expires_in") or 1200)
        except (TypeError, ValueError):
            lifetime = 1200.0
        margin = min(60.0, lifetime * 0.1)
        self._current = _Token(access, refresh_token, self._clock() + max(0.0, lifetime - margin))
        self._transport.stats.add("refreshes" if refresh else "logins")
        log.info("%s succeeded for %r; token valid %.0fs", kind, self._credentials.username, lifetime)
