"""OAuth2 tokens as Secret Server issues them: expiring bearer tokens, single-use refresh tokens
whose number per login is capped (Secret Server's default is 3)."""

from __future__ import annotations

import secrets as token_source
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Access:
    user_name: str
    login_id: int
    expires_at: float
    calls: int = 0


@dataclass
class _Refresh:
    user_name: str
    login_id: int
    refreshes_done: int


class TokenStore:
    """Issues and checks access and refresh tokens."""

    def __init__(self, refresh_cap: int = 3, clock: Callable[[], float] = time.monotonic) -> None:
        self.refresh_cap = refresh_cap
        self._clock = clock
        self._lock = threading.Lock()
        self._access: dict[str, _Access] = {}
        self._refresh: dict[str, _Refresh] = {}
        self._logins = 0

    def _now(self) -> float:
        return self._clock()

    def login(self, user_name: str, ttl_s: float) -> dict[str, object]:
        """A new login session: access and refresh token."""
        with self._lock:
            self._logins += 1
            return self._issue(user_name, self._logins, 0, ttl_s)

    def refresh(self, refresh_token: str, ttl_s: float) -> dict[str, object] | None:
        """Trade a refresh token (once) for new tokens; None if unknown, used or over the cap."""
        with self._lock:
            found = self._refresh.pop(refresh_token, None)
            if found is None or found.refreshes_done >= self.refresh_cap:
                return None
            return self._issue(found.user_name, found.login_id, found.refreshes_done + 1, ttl_s)

    def _issue(self, user_name: str, login_id: int, refreshes_done: int, ttl_s: float) -> dict[str, object]:
        access = token_source.token_urlsafe(48)
        refresh = token_source.token_urlsafe(48)
        self._access[access] = _Access(user_name, login_id, self._now() + ttl_s)
        self._refresh[refresh] = _Refresh(user_name, login_id, refreshes_done)
        return {"access_token": access, "token_type": "bearer", "expires_in": int(ttl_s),
                "refresh_token": refresh}

    def check(self, access_token: str, max_calls: int | None = None) -> str | None:
        """The user behind a valid token, counting the call; None if unknown or expired."""
        with self._lock:
            found = self._access.get(access_token)
            if found is None:
                return None
            if self._now() >= found.expires_at or (max_calls is not None and found.calls >= max_calls):
                del self._access[access_token]
                return None
            found.calls += 1
            return found.user_name

    def expire_all(self) -> None:
        """Make every access token expire now (refresh tokens stay usable)."""
        with self._lock:
            self._access.clear()

    def revoke_all(self) -> None:
        """Forget every access and refresh token."""
        with self._lock:
            self._access.clear()
            self._refresh.clear()
